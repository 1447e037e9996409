"""The page gate: once the crawl stops asking for permit pages, queued ones go no further."""

from scrapy import Request
from scrapy.exceptions import IgnoreRequest

# Why a page request was dropped before it went out (see StoppedPagesMiddleware).
PAGES_STOPPED = "the crawl stopped asking for permit pages"


class StoppedPagesMiddleware:
    """Once the crawl stops asking for permit pages (lapaz.crawl.state's `pages_stopped`), the
    page requests already handed to Scrapy but never sent are dropped here, before any
    other middleware: the spider records them as not requested. A retry goes on: its page
    was asked, and its record says how that went."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        harvest = getattr(self.crawler.spider, "harvest", None)
        stopped = harvest is not None and harvest.pages_stopped is not None
        first_try = not request.meta.get("retry_times")
        if stopped and first_try and "permit" in request.cb_kwargs:
            raise IgnoreRequest(PAGES_STOPPED)
