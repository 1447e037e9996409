"""The `tramites` spider: every WFS feature, and the page of every approved permit.

Requests and callbacks only. The WFS layer is paged as declared in lapaz.layer.paging (the
count first, then every page at once); each feature becomes its tramites record, then its
page request (or, for a permit whose page cannot or need not be asked, nothing more or its
page record). WFS pages go first (priority). Every page callback and errback returns one
record or one request. The crawl's state and verdict are lapaz.crawl.state's; the data
folder is the pipeline's (lapaz.crawl.pipelines); stopped pages are dropped by the page
gate (lapaz.crawl.page_gate), and their errback records them.
"""

import scrapy
from scrapy import signals
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import CloseSpider, DontCloseSpider

from lapaz.crawl import messages, statkeys
from lapaz.crawl.archive import provenance, request_provenance, tramite_provenance
from lapaz.crawl.exceptions import ForbiddenByRobots, PagesStopped, WfsRejected
from lapaz.crawl.extensions.samples import LayoutSamples
from lapaz.crawl.page_gate import DRIFT_RETRY_META
from lapaz.crawl.pipelines import DataFolderPipeline
from lapaz.crawl.state import CrawlState, Failure
from lapaz.items import DetalleItem, TramiteItem
from lapaz.layer.guard import layer_problem
from lapaz.layer.paging import LayerPaging, PageRequest
from lapaz.layer.wfs import WfsError, WfsQuery, parse_feature_page, parse_hits, point_lat_lon
from lapaz.permits.drift import PageDriftGuard, drift_line
from lapaz.permits.identity import Permit, permit_of
from lapaz.permits.page import page_record, permit_fields, read_answer
from lapaz.records.schema import PROVENANCE_FIELDS, PageOutcome
from lapaz.records.tramite import tramite_record
from lapaz.spiders.arguments import CrawlArguments

# Paging requests go before permit pages: the total and the permits come from them.
WFS_PRIORITY = 10
# A page asked again for want of its sections waits behind the pages not yet asked.
DRIFT_RETRY_PRIORITY = -10
# A big page is slow to build; that says nothing of the pace pages can take.
WFS_META = {"handle_httpstatus_list": [400], "autothrottle_dont_adjust_delay": True}
# The provenance of a page record for which no request went out.
NEVER_ASKED = dict.fromkeys(PROVENANCE_FIELDS)


class TramitesSpider(scrapy.Spider):
    name = "tramites"

    def __init__(self, *args, **kwargs):
        """Spider arguments (`-a name=value`), see lapaz.spiders.arguments and the README:
        resultado, limite, refresco, desde, hasta, macrodistrito. Arguments starting with
        `_` (Scrapyd's `_job`) are accepted and ignored."""
        own = {name: kwargs.pop(name) for name in list(kwargs) if not name.startswith("_")}
        self.arguments = CrawlArguments.parse(**own)
        super().__init__(*args, **kwargs)
        self.warned_lat_lon = False

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings, arguments = crawler.settings, spider.arguments
        server_filter = settings.getbool("LAPAZ_WFS_SERVER_FILTER") and arguments.filters
        spider.query = WfsQuery(
            settings["LAPAZ_WFS_URL"],
            settings["LAPAZ_WFS_TYPENAME"],
            sort_by=settings.get("LAPAZ_WFS_SORT_BY") or None,
            cql_filter=arguments.filters.cql() if server_filter else None,
        )
        spider.paging = LayerPaging(settings.getint("LAPAZ_WFS_PAGE_SIZE"), arguments.limit)
        spider.detalle_url = settings["LAPAZ_DETALLE_URL"]
        spider.max_passes = settings.getint("LAPAZ_WFS_MAX_PASSES")
        spider.ask_count = settings.getbool("LAPAZ_WFS_HITS")
        spider.count_timeout = settings.getfloat("LAPAZ_WFS_HITS_TIMEOUT")
        spider.drift = PageDriftGuard(
            run=settings.getint("LAPAZ_DRIFT_RUN"),
            window=settings.getint("LAPAZ_DRIFT_WINDOW"),
            share=settings.getfloat("LAPAZ_DRIFT_SHARE"),
        )
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        return spider

    @property
    def state(self) -> CrawlState:
        return self.crawler.get_extension(CrawlState)

    @property
    def previous(self):
        """What the data folder held when the crawl opened it (lapaz.storage.previous)."""
        return self.crawler.get_item_pipeline(DataFolderPipeline).previous

    async def start(self):
        # A harvest that leaves features out is no snapshot of the layer.
        self.state.whole_layer = not (self.arguments.limit or self.arguments.filters)
        if self.ask_count:
            yield self.count_request()
        else:
            for page in self.paging.start(None):
                yield self.wfs_request(page)

    # The WFS half

    def count_request(self) -> scrapy.Request:
        """The count alone: asked once; any answer without a count means paging from 0."""
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
        return [self.wfs_request(page) for page in self.paging.start(total)]

    def count_failed(self, failure) -> list[scrapy.Request]:
        if self.wfs_unreachable(failure):
            return []
        self.logger.info(messages.no_count(messages.failure_reason(failure)))
        return [self.wfs_request(page) for page in self.paging.start(None)]

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
            for next_page in self.paging.after(
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
            reason = messages.down_message("WFS server", failure.request.url, reason, tries)
        self.fail_wfs_page(failure.request.cb_kwargs["page"], reason)

    def wfs_unreachable(self, failure) -> bool:
        """A WFS server that cannot be reached or whose robots.txt forbids the layer fails
        the harvest at once, with one line that says so."""
        if failure.check(ForbiddenByRobots):
            line = messages.forbidden("the WFS layer", failure.value)
        else:
            url = failure.request.url
            line = messages.unreachable_message("WFS server", url, failure.value, "LAPAZ_WFS_URL")
        if line is not None:
            self.state.fail_wfs_page(line)
        return line is not None

    def fail_wfs_page(self, page: PageRequest, reason: str) -> None:
        self.state.fail_wfs_page(f"startIndex={page.start_index}: {reason}")
        self.logger.error(messages.wfs_page_failed(page.start_index, reason))

    def limit_reached(self) -> bool:
        limit = self.arguments.limit
        return limit is not None and self.state.features_received >= limit

    def feature_outputs(self, feature: dict, origin: dict):
        """The feature's tramites record, then its page request or page record (if any).

        origin: the provenance of the WFS page it came in (lapaz.crawl.archive).
        """
        latitude, longitude, lat_lon_order = point_lat_lon(feature.get("geometry"))
        properties = feature.get("properties") or {}
        record = tramite_record({**properties, "latitude": latitude, "longitude": longitude})
        permit = permit_of(record)
        key = permit.id_pc_tramite if permit.id_pc_tramite is not None else feature.get("id")
        if not self.state.receive_feature(key, properties):
            return
        if self.arguments.filters and not self.arguments.filters.accepts(record):
            self.state.count(statkeys.WFS_FILTERED_OUT)
            return
        if lat_lon_order:
            self.state.count(statkeys.WFS_LAT_LON_ORDER)
            if not self.warned_lat_lon:
                self.warned_lat_lon = True
                self.logger.warning(messages.LAT_LON_ORDER)
        yield TramiteItem({**record, **origin})
        if self.arguments.wants_page(permit.resultado):
            yield from self.page_of(permit, record)

    # The page half

    def page_of(self, permit: Permit, record: dict):
        """The permit's page request; its record when it has no address; nothing when an
        earlier run finished it and its permit did not change since."""
        missing = permit.missing_part()
        if missing is not None:
            fields = {"error": missing.error}
            yield DetalleItem(page_record(self.permit_part(permit), fields, NEVER_ASKED))
            return
        stale = self.previous.page_is_stale(permit.id_pc_tramite, record)
        if stale:
            self.state.count(statkeys.PAGES_REFRESHED)
        elif self.previous.page_is_done(permit.identificador, permit.la_paz_identificador):
            self.state.count(statkeys.PAGES_SKIPPED_DONE)
            return
        self.state.count(statkeys.PAGES_PLANNED)
        yield self.page_request(permit, la_paz_year=permit.anio_la_paz)

    def permit_part(self, permit: Permit) -> dict:
        url = f"{self.detalle_url}?{permit.identificador}" if permit.identificador else None
        return permit_fields(
            permit.id_pc_tramite,
            permit.codigo_catastral,
            permit.numero_tramite,
            permit.anio,
            permit.identificador,
            url,
        )

    def page_request(self, permit: Permit, la_paz_year=None, refused=None) -> scrapy.Request:
        """The only page request: with its errback, so every page asked leaves a record.

        la_paz_year: the year to ask under if the site refuses the UTC one (near New Year);
        refused: (record, provenance) of the page refused under the UTC year.
        """
        part = self.permit_part(permit)
        return scrapy.Request(
            part["url"],
            callback=self.parse_detalle,
            errback=self.detalle_failed,
            cb_kwargs={"permit": part, "la_paz_year": la_paz_year, "refused": refused},
            dont_filter=True,
        )

    def parse_detalle(self, response, permit: dict, la_paz_year=None, refused=None):
        answer = read_answer(response.status, response.body, response.headers.get("Content-Type"))
        origin = provenance(response)
        drifted = answer.outcome is PageOutcome.NO_SECTIONS
        self.watch_layout(drifted, answer.headings, response.body)
        if drifted and self.state.pages_stopped is None:
            # A page without its tables may be a hiccup of the server: asked once more,
            # after the pages not yet asked, never five times (a changed site would get
            # six requests a page); the page gate drops it if pages stop meanwhile.
            retry = get_retry_request(
                response.request,
                spider=self,
                reason="page without data",
                max_retry_times=1,
                priority_adjust=DRIFT_RETRY_PRIORITY,
            )
            if retry is not None:
                self.state.count(statkeys.PAGES_DRIFT_RETRIES)
                retry.meta[DRIFT_RETRY_META] = True
                return retry
        if answer.outcome is PageOutcome.REFUSED and la_paz_year is not None:
            # Near New Year the site may file a permit under La Paz's year, not UTC's.
            self.state.count(statkeys.PAGES_LA_PAZ_YEAR_ASKED)
            other = Permit.with_year(permit, la_paz_year)
            return self.page_request(other, refused=(permit, origin))
        if answer.outcome is PageOutcome.REFUSED and refused is not None:
            # Refused under both years: the record of the first, the UTC year's.
            return DetalleItem(page_record(refused[0], answer.fields, refused[1]))
        if refused is not None:
            self.state.count(statkeys.PAGES_LA_PAZ_YEAR_ANSWERED)
        return DetalleItem(page_record(permit, answer.fields, origin))

    def detalle_failed(self, failure) -> DetalleItem:
        request = failure.request
        permit = request.cb_kwargs["permit"]
        if failure.check(PagesStopped):
            if request.meta.get(DRIFT_RETRY_META):
                outcome, origin = PageOutcome.NO_SECTIONS, request_provenance(request)
            else:
                outcome, origin = PageOutcome.NOT_REQUESTED, NEVER_ASKED
            return DetalleItem(page_record(permit, {"error": outcome.error}, origin))
        if failure.check(ForbiddenByRobots):
            self.stop_pages(messages.forbidden("the permit pages", failure.value))
            not_requested = {"error": PageOutcome.NOT_REQUESTED.error}
            return DetalleItem(page_record(permit, not_requested, NEVER_ASKED))
        unreachable = messages.unreachable_message(
            "permit page server", request.url, failure.value, "LAPAZ_DETALLE_URL"
        )
        if unreachable is not None:
            self.stop_pages(unreachable)
        origin = provenance(getattr(failure.value, "response", None))
        return DetalleItem(page_record(permit, {"error": messages.failure_reason(failure)}, origin))

    def stop_pages(self, why: str) -> None:
        """Ask for no more permit pages: the site said no, or no longer looks as expected."""
        line = messages.stopped_asking(why)
        if self.state.stop_pages(line):
            self.logger.error(line)

    def watch_layout(self, drifted: bool, headings: list[str], body: bytes) -> None:
        """Feed the drift guard a page answered with HTTP 200; stop asking when it says so."""
        if self.state.pages_stopped is not None:
            return
        samples = self.crawler.get_extension(LayoutSamples)
        if drifted:
            samples.note(headings, body)
        self.drift.feed(drifted)
        if self.drift.should_stop:
            headings, path = samples.keep()
            line = drift_line(self.drift.describe(), headings, path)
            if self.state.stop_pages(line):
                self.logger.error(line)

    # The end

    def on_idle(self):
        """Page again what unstable paging missed, or end (the state judges the crawl)."""
        state = self.state
        if state.short and not state.failed_wfs_pages and state.passes < self.max_passes:
            # Without a stable order, pages skip and repeat features; another pass over
            # the layer finds those skipped (duplicates are dropped).
            state.passes += 1
            self.crawler.stats.set_value(statkeys.WFS_PASSES, state.passes)
            self.logger.warning(
                messages.another_pass(
                    state.features_received, state.expected, state.passes, self.max_passes
                )
            )
            for page in self.paging.start(state.number_matched):
                self.crawler.engine.crawl(self.wfs_request(page))
            raise DontCloseSpider
        state.ended = True
        if state.failed_wfs_pages or state.short:
            raise CloseSpider(Failure.INCOMPLETE)
        if state.pages_stopped is not None:
            raise CloseSpider(Failure.PAGES_STOPPED)
