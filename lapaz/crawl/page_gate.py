"""The page gate: once the crawl stops asking for permit pages, queued ones go no further;
and the watch that stops them when the permit-page server seems down."""

import logging
from time import monotonic

from scrapy import Request
from scrapy.exceptions import IgnoreRequest

from lapaz.crawl import messages
from lapaz.crawl.exceptions import PagesStopped
from lapaz.crawl.state import CrawlState
from lapaz.permits.down import PageServerWatch

logger = logging.getLogger(__name__)

# request.meta key set on a page asked again for want of its sections (lapaz.spiders).
DRIFT_RETRY_META = "lapaz_drift_retry"


def is_page(request: Request) -> bool:
    """A permit page request (the spider's page requests carry their permit)."""
    return "permit" in request.cb_kwargs


class StoppedPagesMiddleware:
    """Once the crawl stops asking for permit pages (CrawlState.pages_stopped), a page
    request not yet sent is dropped here, before any other middleware, and its errback
    records it (`no_solicitada`; `sin_secciones` for a page asked again for want of its
    sections). A retry of a failed answer goes on: its page was asked, and its record says
    how that went; unless the page server seems down, when the retry is dropped too and
    its record keeps the last failure (`http_503`)."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        state = self.crawler.get_extension(CrawlState)
        if state is None or state.pages_stopped is None or not is_page(request):
            return
        dropped = (
            not request.meta.get("retry_times")
            or request.meta.get(DRIFT_RETRY_META)
            or state.page_server_down
        )
        if dropped:
            raise PagesStopped(state.pages_stopped)


class PageServerWatchMiddleware:
    """Sees every try at a permit page, retries included (it sits below the retries, next
    to the downloader), and stops asking for pages when the page server seems down
    (lapaz.permits.down): no page answered well for LAPAZ_PAGES_DOWN_AFTER seconds while
    at least LAPAZ_PAGES_DOWN_MIN_FAILURES tries failed."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.watch = PageServerWatch(
            crawler.settings.getfloat("LAPAZ_PAGES_DOWN_AFTER"),
            crawler.settings.getint("LAPAZ_PAGES_DOWN_MIN_FAILURES"),
        )

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_response(self, request: Request, response):
        if is_page(request):
            if response.status >= 500 or response.status == 429:
                self._failed(request, f"http_{response.status}")
            else:
                self.watch.answered()
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        # A request dropped on purpose (stopped pages, robots.txt) is no try.
        if is_page(request) and not isinstance(exception, IgnoreRequest):
            self._failed(request, type(exception).__name__)

    def _failed(self, request: Request, reason: str) -> None:
        now = monotonic()
        self.watch.failed(reason, now)
        if not self.watch.is_down(now):
            return
        seconds = now - self.watch.failing_since
        why = messages.pages_down(request.url, seconds, self.watch.describe_reasons())
        line = messages.stopped_asking(why)
        if self.crawler.get_extension(CrawlState).stop_pages(line, server_down=True):
            logger.error(line)
            drop_waiting_pages(self.crawler.engine.downloader.slots.values(), line)


def drop_waiting_pages(slots, line: str) -> None:
    """Page requests already past the gate, waiting in a downloader slot for their turn,
    go no further either: against a failing server the pace is one request every few
    seconds (lapaz.crawl.throttle), and a dozen of them would take a minute more."""
    for slot in slots:
        waiting = [entry for entry in slot.queue if is_page(entry[0])]
        for entry in waiting:
            slot.queue.remove(entry)
        for _, answer in waiting:
            answer.errback(PagesStopped(line))
