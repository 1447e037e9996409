"""The replica site: a threaded HTTP/1.1 server for the WFS layer and the permit pages."""

import random
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson

from tools.replica import wfs
from tools.replica.dataset import (
    APROBADO,
    DEFAULT_SEED,
    extend_features,
    generate_features,
    identifier_key,
    page_identifier,
)
from tools.replica.faults import (
    FAULT_REPLIES,
    HTML,
    XML,
    Fault,
    FaultBook,
    Reply,
    ReplyFactory,
    unit_interval,
)
from tools.replica.limiter import LeakyBucket, RateLimit
from tools.replica.pages import LAYOUT_TABLES, error_page, refusal_page, render_permit_page

WFS_PATH = "/geoserver/sit/ows"
DETALLE_PATH = "/situtiles/pc/"
STATS_PATH = "/_replica/stats"
JSON = "application/json;charset=UTF-8"
# An idle keep-alive connection is closed after this many seconds, as a front proxy would.
IDLE_TIMEOUT = 30.0
# Bound on waiting for connection threads at shutdown.
SHUTDOWN_JOIN_SECONDS = 5.0
# Selections (filter + order) kept for reuse; each is a list of positions, so small.
SELECTION_CACHE_SIZE = 32


@dataclass
class ReplicaConfig:
    """How the replica behaves. Fields are read on every request, so tests may change them."""

    features: int = 3000
    seed: int = DEFAULT_SEED
    latency: float = 0.0  # seconds before each page answer
    wfs_latency: float = 0.0  # seconds before each WFS answer...
    wfs_latency_per_feature: float = 0.0  # ...plus this much per feature returned
    page_cap: int | None = None  # GeoServer's maxFeatures: no page is longer
    omit_number_matched: bool = False  # no numberMatched, totalFeatures, numberReturned
    lat_lon_order: bool = False  # coordinates as [lat, lon]
    all_strings: bool = False  # every property value as text
    empty_string_nulls: bool = False  # null text written as ""
    omit_null_properties: bool = False  # null properties left out
    # Without sortBy, every request sees another order: a reproducible shuffle keyed on the
    # startIndex and how many times it was asked before, so every pass differs.
    unstable_order: bool = False
    reject_sort_by: bool = False  # sortBy answered with an ExceptionReport
    cql_filter: bool = True  # False: CQL_FILTER silently ignored
    refused_fraction: float = 0.03  # approved permits whose page is refused anyway
    # resultType=hits answered in the format asked, as GeoServer does (GML's XML without
    # outputFormat, GeoJSON with it: "json"), always in XML ("xml"), or not understood and
    # answered as a page would be ("ignored": an error without outputFormat).
    hits_format: str = "json"
    faults: list[Fault] = field(default_factory=list)
    # The year in a page's identifier: fechaRegistro's as written ("utc", what the original
    # notebook used) or La Paz's (UTC-4), which differ for four hours a year.
    year_clock: str = "utc"
    # What /robots.txt answers; None: no robots.txt (404), as the real site.
    robots_txt: str | None = None
    # A redesigned site: permit pages in this layout (pages.LAYOUTS), for a stable share
    # of the permits (1.0: every page).
    page_layout: str = LAYOUT_TABLES
    page_layout_share: float = 1.0
    # A layer whose properties were renamed (a GeoServer upgrade, a new view): served
    # name -> new name. Filters and sortBy still take the old names.
    property_renames: dict[str, str] = field(default_factory=dict)
    # A request-rate limiter in front of the site, as nginx's limit_req (tools.replica.limiter).
    rate_limit: RateLimit | None = None


class ReplicaStats:
    """What the server saw; thread-safe. `snapshot()` is what /_replica/stats answers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()  # "wfs", "page", "other"
        self.page_requests: Counter[str] = Counter()  # identifier -> requests
        self.wfs_requests: Counter[int | str] = Counter()  # startIndex -> requests
        self.user_agents: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()  # kind -> faulty replies served
        self.in_flight = 0
        self.max_in_flight = 0
        self.bytes_sent = 0
        # (arrived, answered, kind, query, status) of every request, monotonic seconds.
        self.timeline: list[tuple[float, float, str, str, int]] = []

    @contextmanager
    def request(self, kind: str, user_agent: str, query: str = "") -> Iterator["_Served"]:
        """Counts a request in flight from its arrival until its answer goes out."""
        served = _Served(self, kind, query)
        with self._lock:
            self.requests[kind] += 1
            self.user_agents[user_agent] += 1
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield served
        finally:
            served.answered()

    def requests_in_order(self) -> list[tuple[float, float, str, str, int]]:
        with self._lock:
            return sorted(self.timeline)

    def count_target(self, kind: str, key: int | str) -> int:
        """Counts a request for this page or startIndex; returns how many there were before."""
        with self._lock:
            counter = self.page_requests if kind == "page" else self.wfs_requests
            before = counter[key]
            counter[key] = before + 1
            return before

    def count_fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def add_bytes(self, amount: int) -> None:
        with self._lock:
            self.bytes_sent += amount

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "requests": dict(self.requests),
                "page_requests": dict(self.page_requests),
                "wfs_requests": {str(key): n for key, n in self.wfs_requests.items()},
                "user_agents": dict(self.user_agents),
                "faults": dict(self.faults),
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "bytes_sent": self.bytes_sent,
            }


class _Served:
    """One request being served; `answered()` just before the last bytes go out.

    Not after: once the client has the whole answer it may send its next request, which
    another thread could count before this one is counted out.
    """

    def __init__(self, stats: ReplicaStats, kind: str, query: str):
        self.stats, self.kind, self.query = stats, kind, query
        self.arrived = time.monotonic()
        self.status = 0
        self.done = False

    def answered(self) -> None:
        if self.done:
            return
        self.done = True
        with self.stats._lock:
            self.stats.in_flight -= 1
            self.stats.timeline.append(
                (self.arrived, time.monotonic(), self.kind, self.query, self.status)
            )


class _CountingWriter:
    """The socket writer, adding what it writes to the stats."""

    def __init__(self, inner, handler: "_Handler"):
        self._inner, self._handler = inner, handler

    def write(self, data: bytes) -> int:
        written = self._inner.write(data)
        if self._handler.counts_bytes:
            self._handler.server.replica.stats.add_bytes(len(data))
        return written

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and the
    # client's delayed ACK would add ~40 ms to every answer, which real servers do not.
    disable_nagle_algorithm = True
    server_version = "nginx"
    sys_version = ""
    timeout = IDLE_TIMEOUT
    counts_bytes = True
    server: "_HttpServer"

    def setup(self) -> None:
        super().setup()
        self.wfile = _CountingWriter(self.wfile, self)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: a crawl makes thousands of requests."""

    def do_GET(self) -> None:
        replica = self.server.replica
        url = urlsplit(self.path)
        if url.path == STATS_PATH:
            # The observer's own requests stay out of what it observes.
            self.counts_bytes = False
            self._send(Reply(200, JSON, orjson.dumps(replica.stats.snapshot())))
            return
        self.counts_bytes = True
        user_agent = self.headers.get("User-Agent", "")
        if url.path == WFS_PATH:
            kind, answer = "wfs", replica.answer_wfs
        elif url.path in (DETALLE_PATH, DETALLE_PATH.rstrip("/")):
            kind, answer = "page", replica.answer_page
        elif url.path == "/robots.txt" and replica.config.robots_txt is not None:
            kind, answer = "other", replica.answer_robots
        else:
            kind, answer = "other", None
        with replica.stats.request(kind, user_agent, url.query) as served:
            reply, held_back = replica.pass_limiter()
            if reply is None and answer is None:
                reply = Reply(404, HTML, error_page(404, "Not Found"))
            elif reply is None:
                reply = answer(url.query)
                reply = replace(reply, delay=reply.delay + held_back)
            served.status = reply.status
            self._send(reply, served)

    def _send(self, reply: Reply, served: "_Served | None" = None) -> None:
        if reply.delay and self.server.replica.stopping.wait(reply.delay):
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if served is not None:
            served.answered()
        if reply.drop_after is None:
            self.wfile.write(reply.body)
        else:
            self.wfile.write(reply.body[: reply.drop_after])
            self.close_connection = True


class _HttpServer(ThreadingHTTPServer):
    """Keeps track of its connections so that shutdown can end even idle keep-alive ones."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], replica: "ReplicaServer"):
        self.replica = replica
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: socket.socket, client_address: tuple) -> None:
        # A client that hangs up mid-answer is routine here (timeouts, fault tests).
        if not isinstance(sys.exception(), ConnectionError | TimeoutError):
            super().handle_error(request, client_address)

    def process_request(self, request: socket.socket, client_address: tuple) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="replica-connection",
            daemon=True,
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def _serve_connection(self, request: socket.socket, client_address: tuple) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(request, None)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = dict(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        for thread in connections.values():
            thread.join(SHUTDOWN_JOIN_SECONDS / max(len(connections), 1))


@dataclass(frozen=True)
class _Dataset:
    """One version of the layer. Replaced whole, never mutated: requests read it lock-free."""

    version: int
    features: list[dict]
    # (codigo, numero, year) -> approved feature: what a page identifier addresses.
    pages: dict[tuple[str, int, int], dict]
    property_names: frozenset[str]


def _with_properties(feature: dict, changes: dict) -> dict:
    """A copy of the feature with these properties set (datasets are never mutated)."""
    return {**feature, "properties": {**feature["properties"], **changes}}


class ReplicaServer:
    """The replica, served from a background thread on 127.0.0.1.

    with ReplicaServer(ReplicaConfig(features=500)) as site:
        fetch(site.wfs_url + "?service=WFS&...")
    """

    def __init__(self, config: ReplicaConfig | None = None, port: int = 0):
        self.config = config or ReplicaConfig()
        self.stats = ReplicaStats()
        self.stopping = threading.Event()
        self._port = port  # 0 until started: any free port
        self._fault_book = FaultBook(self.config.seed)
        self._bucket: LeakyBucket | None = None
        self._dataset_lock = threading.Lock()
        self._selections: dict[tuple, list[int]] = {}
        self._dataset = self._index(0, generate_features(self.config.features, self.config.seed))
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- life cycle -------------------------------------------------------------------

    def start(self) -> "ReplicaServer":
        """Serve; after stop(), on the same port again (a site back up after a week down)."""
        self.stopping.clear()
        self._httpd = _HttpServer(("127.0.0.1", self._port), self)
        # Kept after stop: the URLs of a stopped replica are those of a site that is down.
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="replica-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(SHUTDOWN_JOIN_SECONDS)
        self._httpd = self._thread = None

    def __enter__(self) -> "ReplicaServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("the replica has not been started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def wfs_url(self) -> str:
        return self.url + WFS_PATH

    @property
    def detalle_url(self) -> str:
        return self.url + DETALLE_PATH

    # -- dataset ----------------------------------------------------------------------

    @property
    def features(self) -> list[dict]:
        return self._dataset.features

    def approved_features(self) -> list[dict]:
        return [f for f in self.features if f["properties"]["resultado"] == APROBADO]

    def add_features(self, count: int) -> list[dict]:
        """New permits appear on the site (as between two harvests); returns them."""
        with self._dataset_lock:
            current = self._dataset
            added = extend_features(current.features, count, self.config.seed)
            self._replace_features(current.features + added)
        return added

    def remove_features(self, ids: set[int]) -> list[dict]:
        """Permits leave the layer (the real one loses some between harvests); returns them."""
        with self._dataset_lock:
            features = self._dataset.features
            removed = [f for f in features if f["properties"]["idPCTramite"] in ids]
            self._replace_features(
                [f for f in features if f["properties"]["idPCTramite"] not in ids]
            )
        return removed

    def change_features(self, changes: dict[int, dict]) -> None:
        """idPCTramite -> properties to set: values corrected, a permit approved. A page
        shows its feature, so an approved permit's page changes with it."""
        with self._dataset_lock:
            self._replace_features(
                [
                    _with_properties(f, changes[f["properties"]["idPCTramite"]])
                    if f["properties"]["idPCTramite"] in changes
                    else f
                    for f in self._dataset.features
                ]
            )

    def approve_features(self, ids: set[int], fecha_aprobacion: str) -> None:
        """OBSERVADO (or any other) -> APROBADO, with the day it was approved."""
        change = {"resultado": APROBADO, "fechaAprobacion": fecha_aprobacion}
        self.change_features(dict.fromkeys(ids, change))

    def _replace_features(self, features: list[dict]) -> None:
        # Called with the dataset lock held; a new version, so cached selections go.
        self._dataset = self._index(self._dataset.version + 1, features)
        self._selections = {}

    def _index(self, version: int, features: list[dict]) -> _Dataset:
        pages = {}
        for feature in features:
            identifier = page_identifier(feature, self.config.year_clock)
            if feature["properties"]["resultado"] == APROBADO and identifier is not None:
                pages[identifier_key(identifier)] = feature
        names = frozenset(features[0]["properties"]) if features else frozenset()
        return _Dataset(version, features, pages, names)

    def is_refused(self, identifier: str) -> bool:
        """Whether the site refuses this approved permit's page anyway (a stable ~3%)."""
        return unit_interval(self.config.seed, "refused", identifier) < self.config.refused_fraction

    def page_layout(self, identifier: str) -> str:
        """The layout the page of `identifier` is served in (a stable choice per page)."""
        config = self.config
        if unit_interval(config.seed, "layout", identifier) < config.page_layout_share:
            return config.page_layout
        return LAYOUT_TABLES

    def served_page_feature(self, identifier: str) -> dict | None:
        """The feature whose page `identifier` gets, or None when it gets the refusal page."""
        try:
            key = identifier_key(identifier)
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
            return None
        feature = self._dataset.pages.get(key)
        if feature is None or self.is_refused(identifier):
            return None
        return feature

    # -- answers ----------------------------------------------------------------------

    def pass_limiter(self) -> tuple[Reply | None, float]:
        """The limiter's refusal (at once, no Retry-After) or None, and the seconds an
        admitted request is held back (0 with nodelay)."""
        limit = self.config.rate_limit
        if limit is None:
            return None, 0.0
        with self._dataset_lock:
            if self._bucket is None or self._bucket.limit != limit:
                self._bucket = LeakyBucket(limit)
            bucket = self._bucket
        wait = bucket.admit(time.monotonic())
        if wait is None:
            self.stats.count_fault("rate_limit")
            return Reply(limit.status, HTML, limit.refusal_body()), 0.0
        return None, wait

    def _with_faults(
        self, target: str, key: int | str, normal: ReplyFactory, corrupted: ReplyFactory
    ) -> Reply:
        fault = self._fault_book.trigger(self.config.faults, target, key)
        if fault is None:
            return normal()
        self.stats.count_fault(fault.kind)
        return FAULT_REPLIES[fault.kind](fault, normal, corrupted)

    def answer_page(self, query: str) -> Reply:
        # The identifier is the raw query: base64's "+", "/" and "=" are literal there.
        identifier = unquote(query)
        self.stats.count_target("page", identifier)
        feature = self.served_page_feature(identifier)
        delay = self.config.latency
        layout = self.page_layout(identifier)

        def normal() -> Reply:
            body = refusal_page() if feature is None else render_permit_page(feature, layout=layout)
            return Reply(200, HTML, body, delay=delay)

        def corrupted() -> Reply:
            if feature is None:
                body = refusal_page().replace(b"solicitud", b"solicitud\xff")
                return Reply(200, HTML, body, delay=delay)
            return Reply(200, HTML, render_permit_page(feature, invalid_utf8=True), delay=delay)

        return self._with_faults("page", identifier, normal, corrupted)

    def answer_robots(self, query: str) -> Reply:
        return Reply(200, "text/plain; charset=utf-8", self.config.robots_txt.encode())

    def answer_wfs(self, query: str) -> Reply:
        params = {name.lower(): value for name, value in parse_qsl(query, keep_blank_values=True)}
        start_text = params.get("startindex", "0") or "0"
        start_key: int | str = int(start_text) if start_text.isdigit() else start_text
        # Keys the unstable order: arrival order among concurrent requests would make it
        # depend on machine load, while this is the same on every run of the same crawl.
        asked_before = self.stats.count_target("wfs", start_key)
        shuffle_seed = f"{self.config.seed}:{start_key}:{asked_before}"

        def normal() -> Reply:
            try:
                return self._feature_page(params, shuffle_seed)
            except wfs.WfsError as error:
                body = wfs.exception_report(error.code, error.locator, error.text)
                return Reply(error.status, XML, body, delay=self.config.wfs_latency)

        return self._with_faults("wfs", start_key, normal, normal)

    def _feature_page(self, params: dict[str, str], shuffle_seed: str) -> Reply:
        config = self.config
        dataset = self._dataset
        features = dataset.features
        request = wfs.parse_get_feature(params, dataset.property_names)
        if request.sort_by and config.reject_sort_by:
            raise wfs.WfsError(
                "InvalidParameterValue", "sortBy", "Sorting is not supported on this layer"
            )
        cql = request.cql_filter if config.cql_filter else None
        positions = self._selection(dataset, cql, request.sort_by)
        if not request.sort_by and config.unstable_order:
            positions = positions.copy()
            random.Random(shuffle_seed).shuffle(positions)

        matched = None if config.omit_number_matched else len(positions)
        if request.hits and config.hits_format == "ignored" and not request.json:
            raise wfs.WfsError(
                "InvalidParameterValue", "outputFormat", "The replica writes no GML features"
            )
        if request.hits and (config.hits_format == "xml" or not request.json):
            return Reply(200, XML, wfs.hits_collection_xml(matched), delay=config.wfs_latency)
        if request.hits and config.hits_format == "json":
            return Reply(200, JSON, wfs.feature_collection([], matched), delay=config.wfs_latency)

        limit = len(positions) if request.count is None else request.count
        if config.page_cap is not None:
            limit = min(limit, config.page_cap)
        page = [features[p] for p in positions[request.start_index : request.start_index + limit]]
        if config.property_renames:
            page = [_renamed(feature, config.property_renames) for feature in page]
        reshaped = config.all_strings or config.empty_string_nulls or config.omit_null_properties
        if reshaped or config.lat_lon_order:
            page = [
                wfs.served_feature(
                    feature,
                    all_strings=config.all_strings,
                    empty_string_nulls=config.empty_string_nulls,
                    omit_null_properties=config.omit_null_properties,
                    lat_lon_order=config.lat_lon_order,
                )
                for feature in page
            ]
        delay = config.wfs_latency + config.wfs_latency_per_feature * len(page)
        return Reply(200, JSON, wfs.feature_collection(page, matched), delay=delay)

    def _selection(
        self, dataset: _Dataset, cql: str | None, sort_by: tuple[wfs.SortKey, ...]
    ) -> list[int]:
        """Positions of the features a filter keeps, in the requested order (cached)."""
        features = dataset.features
        cache_key = (dataset.version, cql, sort_by)
        cached = self._selections.get(cache_key)
        if cached is not None:
            return cached
        if cql:
            conditions = wfs.parse_cql(cql, dataset.property_names)
            positions = [
                position
                for position, feature in enumerate(features)
                if wfs.matches(feature["properties"], conditions)
            ]
        else:
            positions = list(range(len(features)))
        if sort_by:
            wfs.sort_positions(features, positions, sort_by)
        selections = self._selections
        if len(selections) >= SELECTION_CACHE_SIZE:
            selections.clear()
        selections[cache_key] = positions
        return positions


def _renamed(feature: dict, renames: dict[str, str]) -> dict:
    properties = {renames.get(name, name): value for name, value in feature["properties"].items()}
    return {**feature, "properties": properties}
