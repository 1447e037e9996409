"""The WFS half of the spider: the layer paged as lapaz.layer.paging declares it.

A base spider (as kingfisher-collect's IndexSpider): the count and the first page at once,
then every other page at once when the count comes (lapaz.layer.paging.Opening); a rejected
vendor parameter dropped, a broken page retried, a server that cannot be reached said once.
Each feature goes to `feature_outputs()`, the subclass's.
"""

from functools import cached_property

import scrapy
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import CloseSpider

from lapaz.crawl import messages, statkeys
from lapaz.crawl.archive import tramite_provenance
from lapaz.crawl.exceptions import ForbiddenByRobots, WfsRejected
from lapaz.crawl.state import CrawlState, Failure
from lapaz.layer.guard import layer_problem
from lapaz.layer.paging import LayerPaging, Opening, PageRequest
from lapaz.layer.wfs import WfsError, WfsQuery, parse_feature_page, parse_hits

# Paging requests go before permit pages: the total and the permits come from them.
WFS_PRIORITY = 10
# A big page is slow to build; that says nothing of the pace pages can take.
WFS_META = {"handle_httpstatus_list": [400], "autothrottle_dont_adjust_delay": True}


class WfsLayerSpider(scrapy.Spider):
    query: WfsQuery
    paging: LayerPaging
    ask_count: bool
    count_timeout: float

    @property
    def state(self) -> CrawlState:
        return self.crawler.get_extension(CrawlState)

    def feature_outputs(self, feature: dict, origin: dict):
        """What a feature gives: records and requests (origin: its page's provenance)."""
        raise NotImplementedError

    @cached_property
    def opening(self) -> Opening:
        return Opening(self.paging, counting=self.ask_count)

    def opening_requests(self) -> list[scrapy.Request]:
        """The count (when asked) and the first page: the count need not hold it back."""
        count = [self.count_request()] if self.ask_count else []
        return [*count, self.wfs_request(self.opening.first)]

    def count_request(self) -> scrapy.Request:
        """The count alone: asked once; any answer without a count means paging on from the
        first page."""
        meta = {"handle_httpstatus_all": True, "dont_retry": True}
        return scrapy.Request(
            self.query.hits_url(),
            callback=self.parse_count,
            errback=self.count_failed,
            priority=WFS_PRIORITY,
            dont_filter=True,
            meta={**WFS_META, **meta, "download_timeout": self.count_timeout},
        )

    def parse_count(self, response) -> list[scrapy.Request]:
        total = parse_hits(response.body) if response.status == 200 else None
        if total is None:
            self.logger.info(messages.no_count(f"HTTP {response.status}"))
        else:
            self.state.note_number_matched(total, self.paging.expected(total))
        return [self.wfs_request(page) for page in self.opening.counted(total)]

    def count_failed(self, failure) -> list[scrapy.Request]:
        if self.wfs_unreachable(failure):
            return []
        self.logger.info(messages.no_count(messages.failure_reason(failure)))
        return [self.wfs_request(page) for page in self.opening.counted(None)]

    def wfs_request(self, page: PageRequest, query: WfsQuery | None = None) -> scrapy.Request:
        query = query or self.query
        return scrapy.Request(
            query.page_url(page),
            callback=self.parse_wfs_page,
            errback=self.wfs_page_failed,
            cb_kwargs={"page": page, "query": query},
            priority=WFS_PRIORITY,
            # The files, not the scheduler, say what is done: a resumed crawl pages again.
            dont_filter=True,
            meta=WFS_META,
        )

    def parse_wfs_page(self, response, page: PageRequest, query: WfsQuery):
        state = self.state
        try:
            if response.status == 400:
                raise WfsRejected(f"HTTP 400: {response.text[:200]}")
            content = parse_feature_page(response.body)
        except WfsError as error:
            yield from self.wfs_page_broken(response.request, page, query, error)
            return
        problem = layer_problem(content.features)
        if problem is not None:
            state.change_layer(problem)
            self.logger.error(problem)
            raise CloseSpider(Failure.LAYER_CHANGED)
        state.count(statkeys.WFS_PAGES)
        if content.number_matched is not None:
            state.note_number_matched(
                content.number_matched, self.paging.expected(content.number_matched)
            )
        received_before, origin = state.features_received, tramite_provenance(response)
        records = [
            output
            for feature in content.features
            if not self.limit_reached()
            for output in self.feature_outputs(feature, origin)
        ]
        if page.planned or not content.features or state.features_received > received_before:
            # Before the features: the next pages need not wait for 5,000 items.
            for next_page in self.opening.after(
                page, content.number_returned, content.number_matched
            ):
                yield self.wfs_request(next_page)
        else:
            # Only features seen before: a server that ignores startIndex would go on forever.
            self.logger.warning(messages.paging_repeats(page.start_index))
        yield from records

    def wfs_page_broken(self, request, page: PageRequest, query: WfsQuery, error: WfsError):
        fallback = query.fallback() if isinstance(error, WfsRejected) else None
        if fallback is not None:
            if query == self.query:
                self.logger.warning(messages.wfs_parameter_rejected(query, error))
                self.query = fallback
            yield self.wfs_request(page, self.query)
            return
        retry = get_retry_request(request, spider=self, reason="invalid WFS page")
        if retry is not None:
            yield retry
            return
        self.fail_wfs_page(page, str(error))

    def wfs_page_failed(self, failure) -> None:
        if self.wfs_unreachable(failure):
            return
        reason = messages.failure_reason(failure)
        if self.state.figure(statkeys.WFS_PAGES) == 0:
            # Not one page came: say it of the server, not of a page.
            tries = failure.request.meta.get("retry_times", 0) + 1
            reason = messages.down_message(messages.WFS_SERVER, failure.request.url, reason, tries)
        self.fail_wfs_page(failure.request.cb_kwargs["page"], reason)

    def wfs_unreachable(self, failure) -> bool:
        """A WFS server that cannot be reached or whose robots.txt forbids the layer fails
        the harvest at once, with one line that says so."""
        if failure.check(ForbiddenByRobots):
            line = messages.forbidden(messages.WFS_LAYER, failure.value)
        else:
            url = failure.request.url
            line = messages.unreachable_message(
                messages.WFS_SERVER, url, failure.value, "LAPAZ_WFS_URL"
            )
        if line is not None:
            self.state.fail_wfs_page(line)
        return line is not None

    def fail_wfs_page(self, page: PageRequest, reason: str) -> None:
        self.state.fail_wfs_page(f"startIndex={page.start_index}: {reason}")
        self.logger.error(messages.wfs_page_failed(page.start_index, reason))

    def limit_reached(self) -> bool:
        limit = self.arguments.limit
        return limit is not None and self.state.features_received >= limit
