"""The `tramites` spider: every WFS feature, and the page of every approved permit."""

from collections import deque

import scrapy
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import CloseSpider, DontCloseSpider
from scrapy.http import TextResponse
from scrapy.spidermiddlewares.httperror import HttpError

from lapaz.archive import provenance, tramite_provenance
from lapaz.filters import Filters
from lapaz.identifiers import permit_identifier
from lapaz.items import DetalleItem, TramiteItem
from lapaz.pages import parse_permit_page
from lapaz.records import Permit, permit_of
from lapaz.schema import (
    ERROR_NO_CODIGO,
    ERROR_NO_FECHA,
    ERROR_NO_NUMERO,
    ERROR_NO_SECTIONS,
    ERROR_REFUSED,
    PROVENANCE_FIELDS,
)
from lapaz.store import JsonLinesStore
from lapaz.wfs import (
    FeaturePage,
    PageRequest,
    WfsError,
    follow_up,
    getfeature_url,
    hits_url,
    pages_after_first,
    parse_feature_page,
    parse_hits,
    planned_pages,
    point_lat_lon,
)

ALL_RESULTS = "todos"
FULL_REFRESH = "completo"
INCOMPLETE_REASON = "wfs_incomplete"
# Paging requests go before permit pages: the total and the permits come from them.
WFS_PRIORITY = 10


def _positive_int(name: str, value) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ValueError(f"-a {name}={value!r}: expected a whole number of at least 1")
    return number


class TramitesSpider(scrapy.Spider):
    name = "tramites"

    def __init__(
        self,
        resultado="APROBADO",
        limite=None,
        refresco=None,
        desde=None,
        hasta=None,
        macrodistrito=None,
        **kwargs,
    ):
        """Spider arguments (`-a name=value`); Scrapyd adds its own (`_job`), ignored here.

        resultado: the `resultado` values whose permits get their page requested,
            comma-separated, or `todos` for every permit.
        limite: harvest at most this many features (for quick runs).
        refresco: `completo` requests every page again, ignoring those already fetched.
        desde, hasta: only permits registered on or after / on or before this day
            (YYYY-MM-DD).
        macrodistrito: only permits of these macro-districts (`sur`, `V - SUR`, ...).
        """
        super().__init__(**kwargs)
        self.filters = Filters.from_arguments(desde, hasta, macrodistrito)
        wanted = {value.strip().upper() for value in str(resultado).split(",") if value.strip()}
        if not wanted:
            raise ValueError("-a resultado: give one or more values, or 'todos'")
        self.wanted_results = None if wanted == {ALL_RESULTS.upper()} else wanted
        self.limit = _positive_int("limite", limite)
        if refresco not in (None, "", FULL_REFRESH):
            raise ValueError(f"-a refresco={refresco!r}: the only value is {FULL_REFRESH!r}")
        self.full_refresh = refresco == FULL_REFRESH
        self.seen_features: set = set()
        self.received = 0
        self.number_matched: int | None = None
        self.failed_wfs_pages: list[str] = []
        self.warned_lat_lon = False
        self.passes = 1
        # Permits whose page is still to be requested. Requests are made from them a window
        # at a time, so that memory holds small records, not thousands of queued requests.
        self.pending_pages: deque[tuple[Permit, str]] = deque()
        self.pages_in_flight = 0

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.wfs_url = settings["LAPAZ_WFS_URL"]
        spider.typename = settings["LAPAZ_WFS_TYPENAME"]
        spider.page_size = settings.getint("LAPAZ_WFS_PAGE_SIZE")
        spider.sort_by = settings.get("LAPAZ_WFS_SORT_BY") or None
        use_server_filter = settings.getbool("LAPAZ_WFS_SERVER_FILTER")
        spider.server_filter = spider.filters.cql() if use_server_filter else None
        spider.detalle_url = settings["LAPAZ_DETALLE_URL"]
        spider.max_passes = settings.getint("LAPAZ_WFS_MAX_PASSES")
        spider.ask_hits_first = settings.getbool("LAPAZ_WFS_HITS")
        spider.page_window = settings.getint("LAPAZ_PAGES_IN_FLIGHT")
        crawler.signals.connect(spider.check_harvest, signal=scrapy.signals.spider_idle)
        return spider

    async def start(self):
        if self.ask_hits_first:
            yield self.hits_request()
        else:
            yield self.first_page_request()

    def first_page_request(self) -> scrapy.Request:
        return self.wfs_request(PageRequest(0, self._first_count()), role="first")

    def hits_request(self) -> scrapy.Request:
        """The count alone first: then every page can be asked for at once."""
        url = hits_url(self.wfs_url, self.typename, self._query_params(self.server_filter))
        return scrapy.Request(
            url,
            callback=self.parse_hits,
            errback=self.hits_failed,
            priority=WFS_PRIORITY,
            dont_filter=True,
            meta={"handle_httpstatus_list": [400], "autothrottle_dont_adjust_delay": True},
        )

    def _first_count(self) -> int:
        return min(self.page_size, self.limit) if self.limit else self.page_size

    @staticmethod
    def _query_params(server_filter: str | None) -> dict[str, str] | None:
        return {"CQL_FILTER": server_filter} if server_filter else None

    def wfs_request(self, page: PageRequest, role: str) -> scrapy.Request:
        """role: `first` (reads the total), `planned` (known total) or `follow` (unknown)."""
        url = getfeature_url(
            self.wfs_url,
            self.typename,
            page.start_index,
            page.count,
            sort_by=self.sort_by,
            extra_params=self._query_params(self.server_filter),
        )
        return scrapy.Request(
            url,
            callback=self.parse_wfs_page,
            errback=self.wfs_page_failed,
            cb_kwargs={"page": page, "role": role},
            priority=WFS_PRIORITY,
            # The files, not the scheduler, say what is done: a resumed crawl pages again.
            dont_filter=True,
            meta={
                "handle_httpstatus_list": [400],
                "lapaz_asked": (self.server_filter, self.sort_by),
                # A big page is slow to build; that says nothing of the pace pages can take.
                "autothrottle_dont_adjust_delay": True,
            },
        )

    # The WFS half

    def parse_hits(self, response):
        total = parse_hits(response.body) if response.status == 200 else None
        if total is None:
            self.logger.info("The WFS server gave no count for resultType=hits; paging from 0")
            yield self.first_page_request()
            return
        self._note_number_matched(total)
        if self.limit:
            total = min(total, self.limit)
        for page in planned_pages(total, self.page_size):
            yield self.wfs_request(page, role="planned")

    def hits_failed(self, failure):
        self.logger.info(
            "No count from the WFS server (%s); paging from 0", _failure_reason(failure)
        )
        yield self.first_page_request()

    def _note_number_matched(self, number_matched: int) -> None:
        # The latest count: a layer that changes while it is paged is judged as it is now.
        self.number_matched = number_matched
        self.crawler.stats.set_value("lapaz/wfs/number_matched", self.number_matched)

    def parse_wfs_page(self, response, page: PageRequest, role: str):
        try:
            if response.status == 400:
                raise WfsError(f"HTTP 400: {response.text[:200]}", rejected=True)
            content = parse_feature_page(response.body)
        except WfsError as error:
            yield from self._wfs_page_broken(response.request, page, role, error)
            return
        stats = self.crawler.stats
        stats.inc_value("lapaz/wfs/pages")
        if content.number_matched is not None:
            self._note_number_matched(content.number_matched)
        if role != "follow":
            # Before the features: the next pages need not wait for 5,000 items.
            yield from self._next_pages(page, role, content)
        received_before = self.received
        origin = tramite_provenance(response)
        for feature in content.features:
            if self._limit_reached():
                break
            yield from self.feature_records(feature, origin)
        yield from self.page_requests()
        if role != "follow" or self._limit_reached():
            return
        if content.features and self.received == received_before:
            # Only features seen before: a server that ignores startIndex would go on forever.
            self.logger.warning(
                "WFS page at startIndex=%d repeats features already received; paging stops"
                " there (the server may not support startIndex)",
                page.start_index,
            )
            return
        yield from self._next_pages(page, role, content)

    def _next_pages(self, page: PageRequest, role: str, content: FeaturePage):
        if role == "first":
            planned = "planned" if content.number_matched is not None else "follow"
            if self.limit and content.number_matched is not None:
                capped = min(content.number_matched, page.start_index + self.limit)
                content = FeaturePage(content.features, capped, content.number_returned)
            for next_page in pages_after_first(page, content):
                yield self.wfs_request(next_page, role=planned)
            return
        next_page = follow_up(page, content, planned=role == "planned")
        if next_page is not None:
            yield self.wfs_request(next_page, role=role)

    def _wfs_page_broken(self, request, page: PageRequest, role: str, error: WfsError):
        asked_filter, asked_sort_by = request.meta["lapaz_asked"]
        if error.rejected and asked_filter and asked_filter == self.server_filter:
            self.logger.warning(
                "The WFS server rejected CQL_FILTER (%s); filtering on our side instead", error
            )
            self.server_filter = None
        elif error.rejected and asked_sort_by and asked_sort_by == self.sort_by:
            self.logger.warning(
                "The WFS server rejected sortBy=%s (%s); paging without a stable order",
                self.sort_by,
                error,
            )
            self.sort_by = None
        if error.rejected and (asked_filter, asked_sort_by) != (self.server_filter, self.sort_by):
            yield self.wfs_request(page, role)
            return
        retry = get_retry_request(request, spider=self, reason="invalid WFS page")
        if retry is not None:
            yield retry
            return
        self._record_wfs_failure(page, str(error))

    def wfs_page_failed(self, failure):
        page = failure.request.cb_kwargs["page"]
        self._record_wfs_failure(page, _failure_reason(failure))

    def _record_wfs_failure(self, page: PageRequest, reason: str) -> None:
        self.crawler.stats.inc_value("lapaz/wfs/pages_failed")
        self.failed_wfs_pages.append(f"startIndex={page.start_index}: {reason}")
        self.logger.error(
            "WFS page at startIndex=%d failed after retries: %s", page.start_index, reason
        )

    def _limit_reached(self) -> bool:
        return self.limit is not None and self.received >= self.limit

    def feature_records(self, feature: dict, origin: dict | None = None):
        properties = feature.get("properties") or {}
        permit = permit_of(properties)
        key = permit.id_pc_tramite if permit.id_pc_tramite is not None else feature.get("id")
        stats = self.crawler.stats
        if key is not None:
            if key in self.seen_features:
                stats.inc_value("lapaz/wfs/duplicate_features")
                return
            self.seen_features.add(key)
        self.received += 1
        stats.inc_value("lapaz/wfs/features")
        if self.filters and not self.filters.accepts(properties):
            stats.inc_value("lapaz/wfs/features_filtered_out")
            return
        latitude, longitude, lat_lon_order = point_lat_lon(feature.get("geometry"))
        if lat_lon_order:
            stats.inc_value("lapaz/wfs/features_in_lat_lon_order")
            if not self.warned_lat_lon:
                self.warned_lat_lon = True
                self.logger.warning(
                    "The WFS server writes coordinates in lat,lon order; stored as they are meant"
                )
        yield TramiteItem(
            {**properties, "latitude": latitude, "longitude": longitude, **(origin or {})}
        )
        if self.wanted_results is None or permit.resultado in self.wanted_results:
            yield from self.queue_page(permit)

    # The page half

    @property
    def already_fetched(self) -> set[str]:
        """Pages that earlier runs fetched (see lapaz.store); the store reads them at open."""
        return JsonLinesStore.for_crawler(self.crawler).done_identifiers

    def queue_page(self, permit: Permit):
        """Queue the permit's page, or yield the record saying why it gets none."""
        stats = self.crawler.stats
        missing = None
        if permit.codigo_catastral is None:
            missing = ERROR_NO_CODIGO
        elif permit.anio is None:
            missing = ERROR_NO_FECHA
        elif permit.numero_tramite is None:
            missing = ERROR_NO_NUMERO
        if missing:
            stats.inc_value("lapaz/detalles/not_requestable")
            never_asked = dict.fromkeys(PROVENANCE_FIELDS)
            yield DetalleItem({**_page_record(permit, None, None), "error": missing, **never_asked})
            return
        identificador = permit_identifier(
            permit.codigo_catastral, permit.numero_tramite, permit.anio
        )
        if identificador in self.already_fetched:
            stats.inc_value("lapaz/detalles/skipped_done")
        else:
            stats.inc_value("lapaz/detalles/planned")
            self.pending_pages.append((permit, identificador))

    def page_requests(self):
        """Requests for queued pages, as many as keep the window of pages in flight full."""
        while self.pending_pages and self.pages_in_flight < self.page_window:
            self.pages_in_flight += 1
            yield self.detalle_request(*self.pending_pages.popleft())

    def detalle_request(self, permit: Permit, identificador: str) -> scrapy.Request:
        url = f"{self.detalle_url}?{identificador}"
        return scrapy.Request(
            url,
            callback=self.parse_detalle,
            errback=self.detalle_failed,
            cb_kwargs={"permit": _page_record(permit, identificador, url)},
            dont_filter=True,
        )

    def parse_detalle(self, response, permit: dict):
        body = response.text if isinstance(response, TextResponse) else response.body
        try:
            page = parse_permit_page(body)
        except Exception as error:  # a page nobody foresaw still leaves its record, with why
            reason = f"{type(error).__name__}: {error}"
            yield from self._page_done(permit, reason, origin=provenance(response))
            return
        error = None
        if page.refused:
            error = ERROR_REFUSED
        elif not page.sections:
            # A page without its tables is more often a hiccup of the server than the truth.
            retry = get_retry_request(response.request, spider=self, reason="page without data")
            if retry is not None:
                yield retry
                return
            error = ERROR_NO_SECTIONS
        yield from self._page_done(permit, error, page.sections, provenance(response))

    def detalle_failed(self, failure):
        origin = provenance(getattr(failure.value, "response", None))
        permit = failure.request.cb_kwargs["permit"]
        yield from self._page_done(permit, _failure_reason(failure), origin=origin)

    def _page_done(
        self,
        permit: dict,
        error: str | None,
        sections: dict | None = None,
        origin: dict | None = None,
    ):
        """The page's one record; its place in the window goes to the next queued page."""
        outcome = error if error in (None, ERROR_REFUSED, ERROR_NO_SECTIONS) else "failed"
        self.crawler.stats.inc_value(f"lapaz/detalles/{outcome or 'ok'}")
        # Never below 0: a resumed crawl (JOBDIR) finishes pages queued by the killed one.
        self.pages_in_flight = max(0, self.pages_in_flight - 1)
        origin = origin or provenance()
        yield DetalleItem({**permit, "error": error, **origin, "secciones": sections or {}})
        yield from self.page_requests()

    # The end

    def check_harvest(self):
        """On idle: page again what unstable paging missed, or end saying what is missing."""
        if self.pending_pages:
            self.pages_in_flight = 0  # idle: nothing is in flight
            for request in self.page_requests():
                self.crawler.engine.crawl(request)
            raise DontCloseSpider
        received = self.received
        expected = self.number_matched
        if expected is not None and self.limit:
            expected = min(expected, self.limit)
        stats = self.crawler.stats
        short = expected is not None and received < expected
        if short and not self.failed_wfs_pages and self.passes < self.max_passes:
            # Without a stable order, pages skip and repeat features; another pass over
            # the layer finds those skipped (duplicates are dropped).
            self.passes += 1
            stats.set_value("lapaz/wfs/passes", self.passes)
            self.logger.warning(
                "Received %d of %d features; paging the layer again (pass %d of %d)",
                received,
                expected,
                self.passes,
                self.max_passes,
            )
            self.crawler.engine.crawl(self.wfs_request(PageRequest(0, self.page_size), "first"))
            raise DontCloseSpider
        complete = not self.failed_wfs_pages and not short
        stats.set_value("lapaz/harvest_complete", complete)
        if complete:
            return
        problems = list(self.failed_wfs_pages)
        if short:
            problems.append(f"received {received} features of the {expected} the server matched")
        self.logger.error("The WFS harvest is incomplete: %s", "; ".join(problems))
        raise CloseSpider(INCOMPLETE_REASON)


def _page_record(permit: Permit, identificador: str | None, url: str | None) -> dict:
    return {
        "id_pc_tramite": permit.id_pc_tramite,
        "codigo_catastral": permit.codigo_catastral,
        "numero_tramite": permit.numero_tramite,
        "anio": permit.anio,
        "identificador": identificador,
        "url": url,
    }


def _failure_reason(failure) -> str:
    if failure.check(HttpError):
        return f"http_{failure.value.response.status}"
    error = failure.value
    return f"{type(error).__name__}: {error}".strip().rstrip(":")
