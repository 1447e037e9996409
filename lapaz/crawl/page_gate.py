"""The page gate: once the crawl stops asking for permit pages, queued ones go no further."""

from scrapy import Request

from lapaz.crawl.exceptions import PagesStopped
from lapaz.crawl.state import CrawlState

# request.meta key set on a page asked again for want of its sections (lapaz.spiders).
DRIFT_RETRY_META = "lapaz_drift_retry"


class StoppedPagesMiddleware:
    """Once the crawl stops asking for permit pages (CrawlState.pages_stopped), a page
    request not yet sent is dropped here, before any other middleware, and its errback
    records it (`no_solicitada`; `sin_secciones` for a page asked again for want of its
    sections). A retry of a failed answer goes on: its page was asked, and its record says
    how that went."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        state = self.crawler.get_extension(CrawlState)
        if state is None or state.pages_stopped is None or "permit" not in request.cb_kwargs:
            return
        if not request.meta.get("retry_times") or request.meta.get(DRIFT_RETRY_META):
            raise PagesStopped(state.pages_stopped)
