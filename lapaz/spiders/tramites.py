"""The `tramites` spider: every WFS feature, and the page of every approved permit.

Requests and callbacks only. The base spider (lapaz.spiders.wfs) pages the WFS layer; each
feature becomes its tramites record, then its page request (or its page record, or nothing
more). WFS pages go first (priority). Every page callback and errback returns one record or
one request. The crawl's state and verdict are lapaz.crawl.state's; the data folder is the
pipeline's (lapaz.crawl.pipelines); the page gate (lapaz.crawl.page_gate) drops stopped
pages, and their errback records them.
"""

import scrapy
from scrapy import signals
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import CloseSpider, DontCloseSpider

from lapaz.crawl import messages, statkeys
from lapaz.crawl.archive import provenance, request_provenance
from lapaz.crawl.exceptions import ForbiddenByRobots, PagesStopped
from lapaz.crawl.extensions.samples import LayoutSamples
from lapaz.crawl.page_gate import DRIFT_RETRY_META
from lapaz.crawl.pipelines import DataFolderPipeline
from lapaz.crawl.retries import LAST_FAILURE_META
from lapaz.crawl.state import Failure
from lapaz.items import DetalleItem, TramiteItem
from lapaz.layer.paging import LayerPaging
from lapaz.layer.wfs import WfsQuery, point_lat_lon
from lapaz.permits.drift import PageDriftGuard, drift_line
from lapaz.permits.identity import Permit, permit_of
from lapaz.permits.page import page_record, permit_fields, read_answer
from lapaz.records.schema import PROVENANCE_FIELDS, PageOutcome
from lapaz.records.tramite import tramite_record
from lapaz.spiders.arguments import CrawlArguments
from lapaz.spiders.wfs import WfsLayerSpider

# A page asked again for want of its sections waits behind the pages not yet asked.
DRIFT_RETRY_PRIORITY = -10
# The provenance of a page record for which no request went out.
NEVER_ASKED = dict.fromkeys(PROVENANCE_FIELDS)


class TramitesSpider(WfsLayerSpider):
    name = "tramites"

    def __init__(self, *args, **kwargs):
        """Spider arguments (`-a name=value`), see lapaz.spiders.arguments and docs/settings.md:
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
            *(settings.getint(f"LAPAZ_DRIFT_{name}") for name in ("RUN", "WINDOW")),
            share=settings.getfloat("LAPAZ_DRIFT_SHARE"),
        )
        crawler.signals.connect(spider.on_idle, signal=signals.spider_idle)
        return spider

    @property
    def previous(self):
        """What the data folder held when the crawl opened it (lapaz.storage.previous)."""
        return self.crawler.get_item_pipeline(DataFolderPipeline).previous

    async def start(self):
        # A harvest that leaves features out is no snapshot of the layer.
        self.state.whole_layer = not (self.arguments.limit or self.arguments.filters)
        for request in self.opening_requests():
            yield request

    def feature_outputs(self, feature: dict, origin: dict):
        """The feature's tramites record, then its page request or page record (if any)."""
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
                self.logger.warning(messages.lat_lon_order())
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
        """The only page request, with its errback: every page asked leaves a record.
        la_paz_year: asked under it if the UTC year's is refused (near New Year); refused:
        (record, provenance) of the page refused under the UTC year."""
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
                error, origin = PageOutcome.NO_SECTIONS.error, request_provenance(request)
            elif request.meta.get(LAST_FAILURE_META):
                # A retry of a page server that seems down: asked, and failed so.
                error, origin = request.meta[LAST_FAILURE_META], request_provenance(request)
            else:
                error, origin = PageOutcome.NOT_REQUESTED.error, NEVER_ASKED
            return DetalleItem(page_record(permit, {"error": error}, origin))
        if failure.check(ForbiddenByRobots):
            self.stop_pages(messages.forbidden(messages.PERMIT_PAGES, failure.value))
            not_requested = {"error": PageOutcome.NOT_REQUESTED.error}
            return DetalleItem(page_record(permit, not_requested, NEVER_ASKED))
        unreachable = messages.unreachable_message(
            messages.PAGE_SERVER, request.url, failure.value, "LAPAZ_DETALLE_URL"
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
