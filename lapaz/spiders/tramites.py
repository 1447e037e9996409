"""The `tramites` spider: every WFS feature, and the page of every approved permit.

Two phases that overlap: the WFS layer is paged as declared in lapaz.layer.paging (the count
first, then every page at once), and each feature becomes its tramites record; permits
whose page is wanted wait as small records and are handed to the engine whenever its
scheduler runs dry, so memory holds permits, not thousands of queued requests. The load on
the server is Scrapy's per-domain limit; retries wait in the scheduler (lapaz.crawl.retries).
"""

from collections import deque
from pathlib import Path

import scrapy
from scrapy import signals
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import CloseSpider, DontCloseSpider, IgnoreRequest
from scrapy.http import TextResponse

from lapaz.crawl import statkeys
from lapaz.crawl.archive import provenance, request_provenance, tramite_provenance
from lapaz.crawl.messages import down_message, failure_reason, unreachable_message
from lapaz.crawl.page_gate import PAGES_STOPPED
from lapaz.crawl.robots import forbidden_message
from lapaz.crawl.state import Harvest
from lapaz.items import DetalleItem, TramiteItem
from lapaz.layer.guard import layer_problem
from lapaz.layer.paging import LayerPaging, PageRequest
from lapaz.layer.wfs import WfsError, WfsQuery, parse_feature_page, parse_hits, point_lat_lon
from lapaz.permits.drift import PageDriftGuard, drift_line
from lapaz.permits.identity import Permit, permit_identifier, permit_of
from lapaz.permits.page import page_fields, parse_permit_page
from lapaz.records.diff import needs_new_page
from lapaz.records.schema import (
    ERROR_NO_CODIGO,
    ERROR_NO_FECHA,
    ERROR_NO_NUMERO,
    ERROR_NO_SECTIONS,
    ERROR_NOT_REQUESTED,
    ERROR_REFUSED,
    PROVENANCE_FIELDS,
)
from lapaz.records.tramite import tramite_record
from lapaz.spiders.arguments import CrawlArguments
from lapaz.storage.store import DataStore

INCOMPLETE_REASON = "wfs_incomplete"
PAGES_STOPPED_REASON = "pages_stopped"
# The provenance of a page record for which no request was made.
NEVER_ASKED = dict.fromkeys(PROVENANCE_FIELDS)
LAYER_CHANGED_REASON = "layer_changed"
# Paging requests go before permit pages: the total and the permits come from them.
WFS_PRIORITY = 10
# A big page is slow to build; that says nothing of the pace pages can take.
WFS_META = {"handle_httpstatus_list": [400], "autothrottle_dont_adjust_delay": True}


class TramitesSpider(scrapy.Spider):
    name = "tramites"

    def __init__(self, *args, **kwargs):
        """Spider arguments (`-a name=value`), see lapaz.spiders.arguments and the README.

        resultado: the `resultado` values whose permits get their page requested,
            comma-separated, or `todos` for every permit.
        limite: harvest at most this many features (for quick runs).
        refresco: `completo` requests every page again, ignoring those already fetched.
        desde, hasta: only permits registered on or after / on or before this UTC day
            (YYYY-MM-DD).
        macrodistrito: only permits of these macro-districts (`sur`, `V - SUR`, ...).
        Arguments starting with `_` (Scrapyd's `_job`) are accepted and ignored.
        """
        own = {name: kwargs.pop(name) for name in list(kwargs) if not name.startswith("_")}
        self.arguments = CrawlArguments.parse(**own)
        super().__init__(*args, **kwargs)
        # Permits whose page is still to be requested.
        self.pending_pages: deque[tuple[Permit, str]] = deque()
        self.warned_lat_lon = False

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        arguments = spider.arguments
        spider.harvest = Harvest(
            DataStore.open_dir(Path(settings["LAPAZ_DATA_DIR"]), arguments.full_refresh),
            crawler,
        )
        spider.query = WfsQuery(
            settings["LAPAZ_WFS_URL"],
            settings["LAPAZ_WFS_TYPENAME"],
            sort_by=settings.get("LAPAZ_WFS_SORT_BY") or None,
            cql_filter=(
                arguments.filters.cql() if settings.getbool("LAPAZ_WFS_SERVER_FILTER") else None
            ),
        )
        spider.paging = LayerPaging(settings.getint("LAPAZ_WFS_PAGE_SIZE"), arguments.limit)
        spider.detalle_url = settings["LAPAZ_DETALLE_URL"]
        spider.max_passes = settings.getint("LAPAZ_WFS_MAX_PASSES")
        spider.ask_count = settings.getbool("LAPAZ_WFS_HITS")
        spider.count_timeout = settings.getfloat("LAPAZ_WFS_HITS_TIMEOUT")
        spider.page_batch = settings.getint("CONCURRENT_REQUESTS")
        spider.set_up_guards(settings)
        crawler.signals.connect(spider.hand_pages, signal=signals.scheduler_empty)
        crawler.signals.connect(spider.check_harvest, signal=signals.spider_idle)
        # A harvest that leaves features out is no snapshot of the layer (lapaz.storage.history).
        spider.harvest.store.keeps_history = not (arguments.limit or arguments.filters)
        return spider

    async def start(self):
        if self.ask_count:
            yield self.count_request()
        else:
            for page in self.paging.start(None):
                yield self.wfs_request(page)

    # The WFS half

    def count_request(self) -> scrapy.Request:
        """The count alone: asked once; any answer without a count means paging from 0."""
        return scrapy.Request(
            self.query.hits_url(),
            callback=self.parse_count,
            errback=self.count_failed,
            priority=WFS_PRIORITY,
            dont_filter=True,
            meta={
                **WFS_META,
                "handle_httpstatus_all": True,
                "dont_retry": True,
                "download_timeout": self.count_timeout,
            },
        )

    def parse_count(self, response):
        total = parse_hits(response.body) if response.status == 200 else None
        if total is None:
            self.logger.info(
                "The WFS server gave no count (HTTP %d); paging from the first page",
                response.status,
            )
        else:
            self._note_number_matched(total)
        for page in self.paging.start(total):
            yield self.wfs_request(page)

    def count_failed(self, failure):
        if self._wfs_unreachable(failure):
            return
        self.logger.info(
            "No count from the WFS server (%s); paging from the first page",
            failure_reason(failure),
        )
        for page in self.paging.start(None):
            yield self.wfs_request(page)

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

    def _note_number_matched(self, number_matched: int) -> None:
        self.harvest.note_number_matched(number_matched, self.paging.expected(number_matched))

    def parse_wfs_page(self, response, page: PageRequest, query: WfsQuery):
        try:
            if response.status == 400:
                raise WfsError(f"HTTP 400: {response.text[:200]}", rejected=True)
            content = parse_feature_page(response.body)
        except WfsError as error:
            yield from self._wfs_page_broken(response.request, page, query, error)
            return
        self.check_layer(content.features)
        self.harvest.count(statkeys.WFS_PAGES)
        if content.number_matched is not None:
            self._note_number_matched(content.number_matched)
        received_before = self.harvest.features_received
        origin = tramite_provenance(response)
        records = []
        for feature in content.features:
            if self._limit_reached():
                break
            records.extend(self.feature_records(feature, origin))
        repeated = (
            not page.planned
            and content.features
            and self.harvest.features_received == received_before
        )
        if repeated:
            # Only features seen before: a server that ignores startIndex would go on forever.
            self.logger.warning(
                "WFS page at startIndex=%d repeats features already received; paging stops"
                " there (the server may not support startIndex)",
                page.start_index,
            )
        else:
            # Before the features: the next pages need not wait for 5,000 items.
            for next_page in self.paging.after(
                page, content.number_returned, content.number_matched
            ):
                yield self.wfs_request(next_page)
        yield from records

    def _wfs_page_broken(self, request, page: PageRequest, query: WfsQuery, error: WfsError):
        fallback = query.fallback() if error.rejected else None
        if fallback is not None:
            if query == self.query:
                if query.cql_filter:
                    self.logger.warning(
                        "The WFS server rejected CQL_FILTER (%s); filtering on our side instead",
                        error,
                    )
                else:
                    self.logger.warning(
                        "The WFS server rejected sortBy=%s (%s); paging without a stable order",
                        query.sort_by,
                        error,
                    )
                self.query = fallback
            yield self.wfs_request(page, self.query)
            return
        retry = get_retry_request(request, spider=self, reason="invalid WFS page")
        if retry is not None:
            yield retry
            return
        self._record_wfs_failure(page, str(error))

    def wfs_page_failed(self, failure):
        if self._wfs_unreachable(failure):
            return
        reason = failure_reason(failure)
        if self.harvest.figure(statkeys.WFS_PAGES) == 0:
            # Not one page came: say it of the server, not of a page.
            tries = failure.request.meta.get("retry_times", 0) + 1
            reason = down_message("WFS server", failure.request.url, reason, tries)
        self._record_wfs_failure(failure.request.cb_kwargs["page"], reason)

    def _wfs_unreachable(self, failure) -> bool:
        """A WFS server that cannot be reached or whose robots.txt forbids the layer fails
        the harvest at once, with one line that says so (once, whatever the pages)."""
        message = unreachable_message(
            "WFS server", failure.request.url, failure.value, "LAPAZ_WFS_URL"
        ) or forbidden_message("the WFS layer", failure.value)
        if message is None:
            return False
        if message not in self.harvest.failed_wfs_pages:
            self.harvest.fail_wfs_page(message)  # the line the run ends on
        return True

    def _record_wfs_failure(self, page: PageRequest, reason: str) -> None:
        self.harvest.fail_wfs_page(f"startIndex={page.start_index}: {reason}")
        self.logger.error(
            "WFS page at startIndex=%d failed after retries: %s", page.start_index, reason
        )

    def _limit_reached(self) -> bool:
        limit = self.arguments.limit
        return limit is not None and self.harvest.features_received >= limit

    def feature_records(self, feature: dict, origin: dict):
        """The feature's tramites record, and its page's record when it can get no page.

        origin: the provenance of the WFS page it came in (lapaz.crawl.archive).
        """
        latitude, longitude, lat_lon_order = point_lat_lon(feature.get("geometry"))
        record = tramite_record(
            {**(feature.get("properties") or {}), "latitude": latitude, "longitude": longitude}
        )
        permit = permit_of(record)
        key = permit.id_pc_tramite if permit.id_pc_tramite is not None else feature.get("id")
        if not self.harvest.receive_feature(key):
            return
        filters = self.arguments.filters
        if filters and not filters.accepts(record):
            self.harvest.count(statkeys.WFS_FILTERED_OUT)
            return
        if lat_lon_order:
            self.harvest.count(statkeys.WFS_LAT_LON_ORDER)
            if not self.warned_lat_lon:
                self.warned_lat_lon = True
                self.logger.warning(
                    "The WFS server writes coordinates in lat,lon order; stored as they are meant"
                )
        yield TramiteItem({**record, **origin})
        if self.arguments.wants_page(permit.resultado):
            yield from self.queue_page(permit, stale=self.page_is_stale(permit, record))

    # The page half

    def page_is_stale(self, permit: Permit, record: dict) -> bool:
        """Whether the permit's record changed since the last complete harvest."""
        fingerprint = self.harvest.store.previous_fingerprints.get(permit.id_pc_tramite)
        return fingerprint is not None and needs_new_page(fingerprint, record)

    def queue_page(self, permit: Permit, stale: bool = False):
        """Queue the permit's page, or yield the record saying why it gets none.

        stale: the permit's record changed, so a page fetched before is asked again.
        """
        missing = None
        if permit.codigo_catastral is None:
            missing = ERROR_NO_CODIGO
        elif permit.anio is None:
            missing = ERROR_NO_FECHA
        elif permit.numero_tramite is None:
            missing = ERROR_NO_NUMERO
        if missing:
            self.harvest.count(statkeys.PAGES_NOT_REQUESTABLE)
            yield _detalle(_page_record(permit, None, None), {"error": missing}, NEVER_ASKED)
            return
        identificador = permit_identifier(
            permit.codigo_catastral, permit.numero_tramite, permit.anio
        )
        store = self.harvest.store
        if stale:
            self.harvest.count(statkeys.PAGES_REFRESHED)
            store.replace_page(identificador, permit.id_pc_tramite)
        done = {identificador, self._la_paz_identifier(permit)} & store.done_identifiers
        if done and not stale:
            self.harvest.count(statkeys.PAGES_SKIPPED_DONE)
        else:
            self.harvest.count(statkeys.PAGES_PLANNED)
            self.pending_pages.append((permit, identificador))

    def hand_pages(self) -> int:
        """On an empty scheduler: hand the engine the next batch of queued pages.

        Once page requests are stopped, the queued permits get their records instead.
        """
        released = self.release_deferred_retries()
        if released:
            return released
        if self.harvest.pages_stopped is not None:
            if not self.pending_pages:
                return 0
            self.crawler.engine.crawl(_records_request(self.not_requested_records))
            return 1
        handed = 0
        while self.pending_pages and handed < self.page_batch:
            self.crawler.engine.crawl(self.detalle_request(*self.pending_pages.popleft()))
            handed += 1
        return handed

    def stop_pages(self, reason: str) -> None:
        """Ask for no more permit pages: the site said no, or no longer looks as expected.

        `reason` is the one line the run ends on. Pages already asked for finish; those
        not asked get a record saying so (`no_solicitada`), so that a later run asks them.
        """
        if self.harvest.pages_stopped is not None:
            return
        self.harvest.pages_stopped = reason
        self.logger.error(reason)

    def not_requested_records(self, response):
        while self.pending_pages:
            permit, identificador = self.pending_pages.popleft()
            url = f"{self.detalle_url}?{identificador}"
            record = _page_record(permit, identificador, url)
            yield self._page_done(record, {"error": ERROR_NOT_REQUESTED}, NEVER_ASKED)

    @staticmethod
    def _la_paz_identifier(permit: Permit) -> str | None:
        if permit.anio_la_paz is None:
            return None
        return permit_identifier(permit.codigo_catastral, permit.numero_tramite, permit.anio_la_paz)

    def detalle_request(
        self, permit: Permit, identificador: str, refused: tuple | None = None
    ) -> scrapy.Request:
        """The page's request; `refused`: (record, provenance) of the same permit's page
        refused under the other year, kept unless this one answers."""
        url = f"{self.detalle_url}?{identificador}"
        return scrapy.Request(
            url,
            callback=self.parse_detalle,
            errback=self.detalle_failed,
            cb_kwargs={
                "permit": _page_record(permit, identificador, url),
                "la_paz_year": None if refused else permit.anio_la_paz,
                "refused": refused,
            },
            dont_filter=True,
        )

    def _other_year(self, permit: dict, la_paz_year: int, origin: dict) -> scrapy.Request:
        """Near New Year the site may file a permit under La Paz's year, not UTC's."""
        self.harvest.count(statkeys.PAGES_LA_PAZ_YEAR_ASKED)
        other = Permit(
            permit["id_pc_tramite"],
            permit["codigo_catastral"],
            permit["numero_tramite"],
            la_paz_year,
            None,
        )
        identificador = permit_identifier(other.codigo_catastral, other.numero_tramite, la_paz_year)
        return self.detalle_request(other, identificador, refused=(permit, origin))

    def parse_detalle(self, response, permit: dict, la_paz_year=None, refused=None):
        body = response.text if isinstance(response, TextResponse) else response.body
        try:
            page = parse_permit_page(body)
            fields = page_fields(page)
        except Exception as error:  # a page nobody foresaw still leaves its record, with why
            unreadable = {"error": f"{type(error).__name__}: {error}"}
            yield self._page_done(permit, unreadable, provenance(response))
            return
        drifted = fields["error"] == ERROR_NO_SECTIONS
        self.watch_layout(drifted, page.headings, response.body)
        if drifted and self.harvest.pages_stopped is None:
            # A page without its tables may be a hiccup of the server: asked once more,
            # never five times (a changed site would get six requests a page).
            retry = get_retry_request(
                response.request, spider=self, reason="page without data", max_retry_times=1
            )
            if retry is not None:
                if self.drift.may_retry():
                    self.harvest.count(statkeys.PAGES_DRIFT_RETRIES)
                    yield retry
                else:
                    # Not yet: once the guard is sure the site has not changed, or at the end.
                    self.deferred_retries.append(retry)
                return
        if fields["error"] == ERROR_REFUSED and la_paz_year is not None:
            yield self._other_year(permit, la_paz_year, provenance(response))
            return
        if fields["error"] == ERROR_REFUSED and refused is not None:
            # Refused under both years: the record of the first, the UTC year's.
            first, first_origin = refused
            yield self._page_done(first, {"error": ERROR_REFUSED}, first_origin)
            return
        if refused is not None:
            self.harvest.count(statkeys.PAGES_LA_PAZ_YEAR_ANSWERED)
        yield self._page_done(permit, fields, provenance(response))

    def detalle_failed(self, failure):
        permit = failure.request.cb_kwargs["permit"]
        if failure.check(IgnoreRequest) and str(failure.value) == PAGES_STOPPED:
            yield self._page_done(permit, {"error": ERROR_NOT_REQUESTED}, NEVER_ASKED)
            return
        forbidden = forbidden_message("the permit pages", failure.value)
        if forbidden is not None:
            self.stop_pages(f"The crawl stops asking for permit pages: {forbidden}")
            yield self._page_done(permit, {"error": ERROR_NOT_REQUESTED}, NEVER_ASKED)
            return
        unreachable = unreachable_message(
            "permit page server", failure.request.url, failure.value, "LAPAZ_DETALLE_URL"
        )
        if unreachable is not None:
            self.stop_pages(f"The crawl stops asking for permit pages: {unreachable}")
        origin = provenance(getattr(failure.value, "response", None))
        yield self._page_done(permit, {"error": failure_reason(failure)}, origin)

    def _page_done(self, permit: dict, fields: dict, origin: dict) -> DetalleItem:
        """The record of a page asked for (or given up on), counted by its outcome."""
        error = fields["error"]
        known = (None, ERROR_REFUSED, ERROR_NO_SECTIONS, ERROR_NOT_REQUESTED)
        outcome = error if error in known else "failed"
        self.harvest.count(statkeys.PAGES_OUTCOME_PREFIX + (outcome or "ok"))
        if outcome is None:
            self.count_page_keys(fields)
        return _detalle(permit, fields, origin)

    # Guarding against a changed site (lapaz.permits.drift) and counting for the monitors

    def set_up_guards(self, settings) -> None:
        self.drift = PageDriftGuard(
            run=settings.getint("LAPAZ_DRIFT_RUN"),
            window=settings.getint("LAPAZ_DRIFT_WINDOW"),
            share=settings.getfloat("LAPAZ_DRIFT_SHARE"),
        )
        self.drift_sample: tuple[list[str], bytes] | None = None
        # Pages without sections to ask once more when the guard is sure (see parse_detalle).
        self.deferred_retries: list[scrapy.Request] = []
        self.page_keys = settings.getlist("LAPAZ_MONITOR_PAGE_KEYS")

    def check_layer(self, features: list[dict]) -> None:
        """Stop the crawl when a WFS page's properties are not those of the layer we know."""
        problem = layer_problem(features)
        if problem is None:
            return
        self.harvest.layer_changed = problem
        self.harvest.stats.set_value(statkeys.LAYER_CHANGED, problem)
        self.logger.error(problem)
        raise CloseSpider(LAYER_CHANGED_REASON)

    def watch_layout(self, drifted: bool, headings: list[str], body: bytes) -> None:
        """Feed the drift guard a page answered with HTTP 200; stop asking when it says so."""
        if self.harvest.pages_stopped is not None:
            return
        if drifted:
            self.drift_sample = (headings, body)
        self.drift.feed(drifted)
        if self.drift.should_stop:
            headings, body = self.drift_sample
            sample = self.harvest.store.keep_sample(body)
            self.stop_pages(drift_line(self.drift.describe(), headings, sample))

    def release_deferred_retries(self) -> int:
        """Hand the engine the deferred retries once the guard is sure the site has not
        changed, or no other page is left; when pages are stopped, their records instead."""
        if not self.deferred_retries:
            return 0
        if self.harvest.pages_stopped is not None:
            self.crawler.engine.crawl(_records_request(self.deferred_records))
            return 1
        if self.pending_pages and not self.drift.settled:
            return 0
        released, self.deferred_retries = self.deferred_retries, []
        for request in released:
            self.harvest.count(statkeys.PAGES_DRIFT_RETRIES)
            self.crawler.engine.crawl(request)
        return len(released)

    def deferred_records(self, response):
        """The pages whose retry never went: they were answered without sections."""
        while self.deferred_retries:
            request = self.deferred_retries.pop()
            permit = request.cb_kwargs["permit"]
            yield self._page_done(permit, {"error": ERROR_NO_SECTIONS}, request_provenance(request))

    def count_page_keys(self, fields: dict) -> None:
        for key in self.page_keys:
            if fields.get(key):
                self.harvest.count(statkeys.PAGES_KEY_PREFIX + key)

    # The end

    def check_harvest(self):
        """On idle: page again what unstable paging missed, or end saying what is missing."""
        if self.hand_pages():
            raise DontCloseSpider
        harvest = self.harvest
        if harvest.short and not harvest.failed_wfs_pages and harvest.passes < self.max_passes:
            # Without a stable order, pages skip and repeat features; another pass over
            # the layer finds those skipped (duplicates are dropped).
            harvest.passes += 1
            self.crawler.stats.set_value(statkeys.WFS_PASSES, harvest.passes)
            self.logger.warning(
                "Received %d of %d features; paging the layer again (pass %d of %d)",
                harvest.features_received,
                harvest.expected,
                harvest.passes,
                self.max_passes,
            )
            for page in self.paging.start(harvest.number_matched):
                self.crawler.engine.crawl(self.wfs_request(page))
            raise DontCloseSpider
        if not harvest.judge():
            self.logger.error("The WFS harvest is incomplete: %s", "; ".join(harvest.problems))
            raise CloseSpider(INCOMPLETE_REASON)
        if harvest.pages_stopped is not None:
            raise CloseSpider(PAGES_STOPPED_REASON)


def _records_request(callback) -> scrapy.Request:
    """A request for yielding records outside an answer's callback (pages not asked for).

    A data: URL is answered by Scrapy itself, without the network; its callback yields
    the records through the pipelines like any other.
    """
    return scrapy.Request(
        "data:,", callback=callback, dont_filter=True, meta={"dont_obey_robotstxt": True}
    )


def _detalle(permit: dict, fields: dict, origin: dict) -> DetalleItem:
    """A page's one record: the permit, `error`, where it came from, the page keys."""
    return DetalleItem({**permit, "error": fields["error"], **origin, **fields})


def _page_record(permit: Permit, identificador: str | None, url: str | None) -> dict:
    return {
        "id_pc_tramite": permit.id_pc_tramite,
        "codigo_catastral": permit.codigo_catastral,
        "numero_tramite": permit.numero_tramite,
        "anio": permit.anio,
        "identificador": identificador,
        "url": url,
    }
