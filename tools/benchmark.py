"""Performance figures of the harvest, measured against the replica in one run.

    .venv/bin/python -m tools.benchmark              # full sizes, 3 runs a figure (~20 min)
    .venv/bin/python -m tools.benchmark --quick      # smaller sizes, 1 run a figure (~3 min)
    .venv/bin/python -m tools.benchmark --repeat 5   # more runs a figure
    .venv/bin/python -m tools.benchmark -s LAPAZ_THROTTLE_INCREASE=2   # try a setting

Prints a Markdown table (the median of the runs of each figure, its target, the ratio the
target is about, pass or miss) and the machine it ran on, ready for docs/performance.md; exits 1
when a target is missed.

1. Permit pages per second in the page phase, against C/L: with C requests in flight and
   L seconds per page no crawler is faster. C is CONCURRENT_REQUESTS_PER_DOMAIN, the only
   limit at the server (WFS and pages together); the project's own politeness settings.
2. The WFS phase: the spider against the notebook's loop (one `startIndex` after another)
   on the same replica, whose WFS answers take 2 s per 5,000 features as GeoServer's do.
3. CPU time to parse a permit page: `lapaz.permits.page` against the notebook's BeautifulSoup.
4. Peak RSS of the crawl process at full size (15,000 features, ~3,500 pages), and with
   the same features and every permit's page requested (15,000 pages).
5. Wall time of `python -m postprocess.merge` on the full-size crawl's files.
6. The page phase on a bad day: 1% of the pages answer 500 every time, 10% 503 twice, 5%
   429 with `Retry-After: 1`. Requests answered per second against C/L while pages remain
   to be asked (from the first page request to the answer to the last page's first
   request, retries counted), the tail the last retries add after it, and the most
   requests the replica ever had in flight (WFS and pages together; at most C).
7. The WFS phase against a real MapServer 8 (tools.mapserver), next to GDAL's `ogr2ogr`
   fetching the same layer from the same server as a user runs it.
8. CPU seconds (user + system) of the crawl process per permit page, at no latency.
10. Against a request-rate limiter like nginx's limit_req (503 at once beyond its rate and
   burst, no Retry-After): the share of requests it refused, and the pace of the answers
   it let through over the whole crawl, against its rate.
9. How long a crawl takes to give up when the WFS cannot answer: every request 503, a port
   that refuses connections, a host name under .invalid (the one figure that makes a DNS
   query). Wall time of the whole `scrapy crawl`, its exit status and the spider's last
   error line.

Crawls run as a user runs them: `scrapy crawl tramites` in a subprocess with the project's
settings, only the site's URLs and the data folder changed. Phases are timed at the replica
(from a request's arrival to when its answer was due), so start-up and the other phase of
the crawl stay out of them.
"""

import argparse
import json
import os
import platform
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import bs4
import lxml.etree
import scrapy
from scrapy.settings import Settings

from lapaz import settings as project_settings
from lapaz.permits.page import REFUSAL_TEXT, parse_permit_page
from tools.crawl import CRAWL_TIMEOUT, PROJECT_ROOT, Site, crawl_command
from tools.mapserver import OGR2OGR, TYPENAME, MapServer, MapServerConfig
from tools.replica import Fault, RateLimit, ReplicaConfig, ReplicaServer, page_identifier

# Figure 1: the latency of a permit page.
PAGE_LATENCY = 0.2
THROUGHPUT_TARGET = 0.85
# Figure 6: while pages remain, and over the whole page phase, the retries' tail included.
BAD_DAY_TARGET = 0.9
BAD_DAY_WHOLE_TARGET = 0.75
# Figure 2: GeoServer takes about 2 s to build a 5,000-feature GeoJSON page.
NOTEBOOK_PAGE_SIZE = 5000
WFS_SECONDS_PER_FEATURE = 2.0 / NOTEBOOK_PAGE_SIZE
WFS_FEATURES = 15_000
WFS_SPEEDUP_TARGET = 2.0
# Figure 3.
PARSE_SPEEDUP_TARGET = 8.0
NOTEBOOK_SECTIONS = ("Datos Generales", "Parámetros de Construcción", "Otros datos")
# Figure 4: "flat" is at most this much more memory for every permit's page.
PEAK_RSS_TARGET_MB = 200.0
RSS_GROWTH_TARGET = 1.10
EVERY_PERMIT = "todos"
# Figure 5.
MERGE_TARGET_SECONDS = 3.0
# Figure 6: a bad day at the permit site.
BAD_DAY_FAULTS = [
    Fault("page", "status", fraction=0.01, times=None, status=500, salt="always"),
    Fault("page", "status", fraction=0.10, times=2, status=503, salt="twice"),
    Fault("page", "retry_after", fraction=0.05, times=1, retry_after=1),
]
# Figure 7: no slower than ogr2ogr.
OGR2OGR_RATIO_TARGET = 0.6
# Figure 8: half of the 15 ms a page measured in issue 10, or less.
CPU_MS_PER_PAGE_TARGET = 5.0
# Figure 10: nginx's limit_req at 8 requests a second, burst 5, nodelay.
LIMITER = RateLimit(rate=8.0, burst=5)
LIMITER_LATENCY = 0.05
LIMITER_REFUSED_TARGET = 0.10
LIMITER_PACE_TARGET = 0.7
# Figure 9: a crawl whose WFS cannot answer ends by itself, non-zero, within this.
GIVE_UP_TARGET_SECONDS = 60.0
DEAD_WFS_FAULTS = [Fault("wfs", "status", fraction=1.0, times=None, status=503)]
# RFC 6761: a name under .invalid never resolves.
UNRESOLVABLE_ORIGIN = "http://sitservicios.lapaz.invalid"
# The spider's own error lines, where it says why it stops.
SPIDER_ERROR = re.compile(r"\[tramites\] ERROR: (.*)")

POLL_SECONDS = 0.05
# A killed crawl is reaped well within this.
REAP_TIMEOUT = 30.0
MERGE_TIMEOUT = 300.0


@dataclass(frozen=True)
class Plan:
    """The sizes measured, how many runs a figure, and settings given to every crawl."""

    # 2,000 features: ~500 approved permits, ~25 s of page phase at 20 pages/s.
    throughput_features: int = 2000
    parse_pages: int = 400
    # 15,000 features: 3,565 approved permits, 3,430 of which have a page to request.
    memory_features: int = 15_000
    # Figures 7 and 8: the layer of issue 10's MapServer trial, ~700 pages.
    # Figure 7: issue 21's layer; figure 8: issue 10's, ~700 pages.
    mapserver_features: int = 12_000
    cpu_features: int = 3000
    repeat: int = 3
    overrides: dict[str, str] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        """The settings the crawls run with: Scrapy's, the project's, then the overrides."""
        settings = Settings()
        settings.setmodule(project_settings, priority="project")
        settings.update(self.overrides, priority="cmdline")
        return settings


QUICK = Plan(
    throughput_features=600,
    parse_pages=150,
    memory_features=6000,
    mapserver_features=1000,
    cpu_features=1000,
    repeat=1,
)


@dataclass(frozen=True)
class Figure:
    name: str
    measured: str
    target: str
    ratio: str
    passed: bool
    details: tuple[str, ...] = ()


# -- measuring at the replica ------------------------------------------------------------


@dataclass(frozen=True)
class Served:
    """One request the replica answered."""

    arrival: float
    due: float  # when its latency had passed and the answer went out
    query: str


class TimedReplica(ReplicaServer):
    """The replica, noting when each page and WFS request arrived and was answered."""

    def __init__(self, config: ReplicaConfig):
        super().__init__(config)
        self.served: dict[str, list[Served]] = {"page": [], "wfs": []}

    def _note(self, kind: str, query: str, answer: Callable[[str], object]):
        arrival = time.monotonic()
        reply = answer(query)
        # list.append is atomic: the connection threads share the lists without a lock.
        self.served[kind].append(Served(arrival, arrival + reply.delay, query))
        return reply

    def answer_page(self, query: str):
        return self._note("page", query, super().answer_page)

    def answer_wfs(self, query: str):
        return self._note("wfs", query, super().answer_wfs)


def phase_seconds(served: list[Served]) -> float:
    """From the first request's arrival to the last answer going out."""
    return max(entry.due for entry in served) - min(entry.arrival for entry in served)


def features_asked(served: list[Served], total: int) -> int:
    """How many distinct features the WFS requests asked for, read from their parameters.

    The count request (`resultType=hits`) asks for none, whatever its `count` says.
    """
    count_by_start = {}
    for entry in served:
        params = {name.lower(): value for name, value in parse_qsl(entry.query)}
        if params.get("resulttype", "").lower() == "hits":
            continue
        start = int(params.get("startindex", 0))
        count_by_start[start] = max(0, min(int(params.get("count", total)), total - start))
    return sum(count_by_start.values())


# -- running a crawl ---------------------------------------------------------------------


@dataclass(frozen=True)
class CrawlRun:
    returncode: int
    peak_rss_mb: float
    cpu_seconds: float  # user + system of the crawl process
    log: str


class Crawl:
    """`scrapy crawl tramites` against the replica in a subprocess.

    The project's settings apply, politeness included (tests.crawl's fast overrides are
    left out on purpose); only the site's URLs, the data folder and the plan's overrides
    are set.
    """

    def __init__(
        self,
        replica: ReplicaServer | Site,
        data_dir: Path,
        plan: Plan,
        arguments: dict | None = None,
    ):
        data_dir.mkdir(parents=True, exist_ok=True)
        settings = {
            "LAPAZ_WFS_URL": replica.wfs_url,
            "LAPAZ_DETALLE_URL": replica.detalle_url,
            "LAPAZ_DATA_DIR": str(data_dir),
            **plan.overrides,
        }
        self.log_path = data_dir / "crawl.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                crawl_command(settings, arguments),
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def has_ended(self) -> bool:
        """Whether the crawl process ended, without reaping it: wait4 in finish() does."""
        ended = os.waitid(os.P_PID, self.process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        return ended is not None

    def finish(self, timeout: float = CRAWL_TIMEOUT) -> CrawlRun:
        """Waits for the crawl. wait4 gives the peak RSS of this process alone, where
        RUSAGE_CHILDREN would give the largest of every child so far."""
        killer = threading.Timer(timeout, self.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(self.process.pid, 0)
        finally:
            killer.cancel()
        # Popen did not reap the process itself: tell it, or it warns that it still runs.
        self.process.returncode = os.waitstatus_to_exitcode(status)
        log = self.log_path.read_text(encoding="utf-8", errors="replace")
        # Linux gives ru_maxrss in KiB.
        cpu = usage.ru_utime + usage.ru_stime
        return CrawlRun(self.process.returncode, usage.ru_maxrss / 1024, cpu, log)

    def kill(self) -> None:
        # Not Popen.kill: it polls first, and a poll would reap the process before wait4.
        # Until wait4 reaps it, the process id cannot go to another process.
        os.kill(self.process.pid, signal.SIGKILL)

    def stop(self) -> None:
        self.kill()
        self.finish(REAP_TIMEOUT)


def finished_crawl(
    replica: ReplicaServer | Site, data_dir: Path, plan: Plan, arguments: dict | None = None
) -> CrawlRun:
    run = Crawl(replica, data_dir, plan, arguments).finish()
    if run.returncode != 0:
        raise RuntimeError(f"the crawl failed ({run.returncode}):\n{run.log[-3000:]}")
    return run


# -- the figures -------------------------------------------------------------------------


def spread(values: list[float], unit: str, digits: int = 2) -> str:
    """`median unit (min–max)`, the range only when there are several runs."""
    text = f"{statistics.median(values):.{digits}f}" + (f" {unit}" if unit else "")
    if len(values) > 1:
        text += f" ({min(values):.{digits}f}–{max(values):.{digits}f})"
    return text


def measure_page_throughput(plan: Plan) -> Figure:
    settings = plan.settings
    # The only limit at the server: Scrapy's per-domain one, WFS and pages together.
    concurrency = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
    limit = concurrency / PAGE_LATENCY
    rates, most_in_flight, pages = [], [], 0
    # The WFS answers at once here: the crawl is nearly all page phase.
    config = ReplicaConfig(features=plan.throughput_features, latency=PAGE_LATENCY)
    for _ in range(plan.repeat):
        with TimedReplica(config) as replica, tempfile.TemporaryDirectory() as folder:
            finished_crawl(replica, Path(folder), plan)
            served = replica.served["page"]
            rates.append(len(served) / phase_seconds(served))
            pages = len(served)
            most_in_flight.append(replica.stats.snapshot()["max_in_flight"])
    fraction = statistics.median(rates) / limit
    throttle = (
        "the pace of lapaz.crawl.throttle"
        if settings.getbool("LAPAZ_THROTTLE_ENABLED")
        else "lapaz.crawl.throttle off"
    ) + (", AutoThrottle on" if settings.getbool("AUTOTHROTTLE_ENABLED") else "")
    return Figure(
        name=f"1. Permit pages/s at L = {PAGE_LATENCY * 1000:.0f} ms, C = {concurrency}",
        measured=spread(rates, "pages/s", 1),
        target=f"≥ {THROUGHPUT_TARGET:.2f} of C/L ({THROUGHPUT_TARGET * limit:.0f} pages/s)",
        ratio=f"{fraction:.2f} of C/L",
        passed=fraction >= THROUGHPUT_TARGET,
        details=(
            f"C = CONCURRENT_REQUESTS_PER_DOMAIN = {concurrency}, DOWNLOAD_DELAY "
            f"{settings.getfloat('DOWNLOAD_DELAY'):g} s (DOWNLOAD_DELAY_JITTER "
            f"{settings.getfloat('DOWNLOAD_DELAY_JITTER'):g}), {throttle}; "
            f"C/L = {limit:.0f} pages/s",
            f"{pages} pages a run; most requests in flight at the replica, by run: "
            f"{', '.join(str(n) for n in most_in_flight)}",
        ),
    )


def notebook_wfs_loop(wfs_url: str, typename: str) -> int:
    """The notebook's harvest of the layer: one page after another, each awaited.

    It stops at the total the first page gives, where the notebook had it hard-coded.
    """
    params = {
        "service": "WFS",
        "version": "2.0.0",
        "request": "GetFeature",
        "typeNames": typename,
        "count": NOTEBOOK_PAGE_SIZE,
        "outputFormat": "application/json",
        "srsName": "EPSG:4326",
    }
    records, start_index = [], 0
    while True:
        params["startIndex"] = start_index
        with urllib.request.urlopen(f"{wfs_url}?{urlencode(params)}") as response:
            data = json.load(response)
        for feature in data["features"]:
            properties = feature["properties"]
            geometry = feature.get("geometry")
            if geometry and "coordinates" in geometry:
                properties["longitude"], properties["latitude"] = geometry["coordinates"]
            records.append(properties)
        start_index += len(data["features"])
        if not data["features"] or start_index >= data["numberMatched"]:
            return len(records)


def spider_wfs_seconds(replica: TimedReplica, data_dir: Path, plan: Plan) -> float:
    """The spider's WFS phase; the crawl is stopped once every feature has been served."""
    replica.served["wfs"].clear()
    crawl = Crawl(replica, data_dir, plan)
    deadline = time.monotonic() + CRAWL_TIMEOUT
    try:
        while features_asked(replica.served["wfs"], WFS_FEATURES) < WFS_FEATURES:
            if crawl.has_ended() or time.monotonic() > deadline:
                log = crawl.log_path.read_text(encoding="utf-8", errors="replace")
                raise RuntimeError(f"the crawl did not page the whole layer:\n{log[-3000:]}")
            time.sleep(POLL_SECONDS)
        last_due = max(entry.due for entry in replica.served["wfs"])
        # Stopping the crawl before the last answer went out would cut the phase short.
        time.sleep(max(0.0, last_due - time.monotonic()))
        return phase_seconds(replica.served["wfs"])
    finally:
        crawl.stop()


def measure_wfs_phase(plan: Plan) -> Figure:
    settings = plan.settings
    # Permit pages come out of the first WFS page and compete for the same connections.
    config = ReplicaConfig(
        features=WFS_FEATURES,
        latency=PAGE_LATENCY,
        wfs_latency_per_feature=WFS_SECONDS_PER_FEATURE,
    )
    loop_seconds, spider_seconds, spider_requests = [], [], 0
    for _ in range(plan.repeat):
        with TimedReplica(config) as replica, tempfile.TemporaryDirectory() as folder:
            harvested = notebook_wfs_loop(replica.wfs_url, settings["LAPAZ_WFS_TYPENAME"])
            if harvested != WFS_FEATURES:
                raise RuntimeError(f"the notebook's loop got {harvested} features")
            loop_seconds.append(phase_seconds(replica.served["wfs"]))
            spider_seconds.append(spider_wfs_seconds(replica, Path(folder), plan))
            spider_requests = len(replica.served["wfs"])
    speedup = statistics.median(loop_seconds) / statistics.median(spider_seconds)
    return Figure(
        name=f"2. WFS phase, {WFS_FEATURES:,} features, 2 s per 5,000",
        measured=f"spider {spread(spider_seconds, 's')}; loop {spread(loop_seconds, 's')}",
        target=f"≥ {WFS_SPEEDUP_TARGET:g}× faster than the loop",
        ratio=f"{speedup:.2f}× faster",
        passed=speedup >= WFS_SPEEDUP_TARGET,
        details=(
            f"the spider: LAPAZ_WFS_PAGE_SIZE = {settings.getint('LAPAZ_WFS_PAGE_SIZE')}, "
            f"{spider_requests} WFS requests, permit pages ({PAGE_LATENCY * 1000:.0f} ms) "
            f"requested meanwhile; the loop: count={NOTEBOOK_PAGE_SIZE}, one page at a time",
        ),
    )


def notebook_parse(html: str) -> list[list[list[str]]] | None:
    """The notebook's parsing: BeautifulSoup with html.parser, `h5` found by its text."""
    soup = bs4.BeautifulSoup(html, "html.parser")
    if REFUSAL_TEXT in soup.get_text():
        return None
    sections = []
    for heading_text in NOTEBOOK_SECTIONS:
        heading = soup.find("h5", string=re.compile(heading_text, re.IGNORECASE))
        table = heading.find_next("table") if heading else None
        rows = table.find_all("tr") if table else []
        sections.append(
            [[cell.get_text(strip=True) for cell in row.find_all("td")] for row in rows]
        )
    return sections


def served_pages(count: int) -> list[str]:
    """The bodies the replica serves for its first `count` permit pages."""
    # One feature in ~4.4 is an approved permit with a page; five leave a margin.
    replica = ReplicaServer(ReplicaConfig(features=count * 5))
    identifiers = [page_identifier(feature) for feature in replica.approved_features()]
    identifiers = [identifier for identifier in identifiers if identifier][:count]
    return [replica.answer_page(identifier).body.decode("utf-8") for identifier in identifiers]


def cpu_ms_per_page(parse: Callable[[str], object], pages: list[str]) -> float:
    started = time.process_time()
    for html in pages:
        parse(html)
    return (time.process_time() - started) / len(pages) * 1000


def measure_parsing(plan: Plan) -> Figure:
    # Both parsers get the decoded text, as the spider's callback does.
    pages = served_pages(plan.parse_pages)
    ours, notebook = [], []
    for _ in range(plan.repeat):
        ours.append(cpu_ms_per_page(parse_permit_page, pages))
        notebook.append(cpu_ms_per_page(notebook_parse, pages))
    speedup = statistics.median(notebook) / statistics.median(ours)
    our_rows = sum(
        len(rows) for html in pages for rows in parse_permit_page(html).sections.values()
    )
    notebook_rows = sum(
        sum(len(row) >= 2 for row in rows) for html in pages for rows in notebook_parse(html) or []
    )
    return Figure(
        name="3. CPU time to parse a permit page",
        measured=(
            f"lapaz.permits.page {spread(ours, 'ms', 3)}; BeautifulSoup {spread(notebook, 'ms')}"
        ),
        target=f"≥ {PARSE_SPEEDUP_TARGET:g}× faster",
        ratio=f"{speedup:.1f}× faster",
        passed=speedup >= PARSE_SPEEDUP_TARGET,
        details=(
            f"{len(pages)} pages as the replica serves them (template variants, ~3% refused); "
            f"data rows read: lapaz.permits.page {our_rows}, the notebook's way {notebook_rows}"
            " (its "
            "heading regex misses the unaccented spellings, so it does less work)",
        ),
    )


def peak_rss(plan: Plan, folder: Path, arguments: dict) -> tuple[list[float], int, Path]:
    """Peak RSS of each run, the pages a run requested, and the last run's data folder."""
    peaks, pages = [], 0
    for run_number in range(plan.repeat):
        # A folder per run: a crawl skips the pages an earlier one left in its folder.
        data_dir = folder / f"{arguments.get('resultado', 'default')}-{run_number}"
        with TimedReplica(ReplicaConfig(features=plan.memory_features)) as replica:
            peaks.append(finished_crawl(replica, data_dir, plan, arguments).peak_rss_mb)
            pages = len(replica.served["page"])
    return peaks, pages, data_dir


def measure_memory(plan: Plan, folder: Path) -> tuple[Figure, Path]:
    """Peak RSS with the approved permits' pages and with every permit's page; returns the
    data folder of an approved-only crawl for the merge."""
    approved, approved_pages, data_dir = peak_rss(plan, folder, {})
    every, every_pages, _ = peak_rss(plan, folder, {"resultado": EVERY_PERMIT})
    peak = statistics.median(approved)
    growth = statistics.median(every) / peak
    features = plan.memory_features
    return Figure(
        name=f"4. Peak RSS of the crawl, {features:,} features / {approved_pages:,} pages",
        measured=(
            f"{spread(approved, 'MB', 0)}; with {every_pages:,} pages {spread(every, 'MB', 0)}"
        ),
        target=f"< {PEAK_RSS_TARGET_MB:.0f} MB, ≤ {RSS_GROWTH_TARGET:.2f}× with more pages",
        ratio=(
            f"{peak / PEAK_RSS_TARGET_MB:.2f} of the budget; {growth:.2f}× with "
            f"{every_pages / approved_pages:.1f}× the pages"
        ),
        passed=peak < PEAK_RSS_TARGET_MB and growth <= RSS_GROWTH_TARGET,
        details=(
            f"RSS of the crawl process alone; the project's settings, no latency; the larger "
            f"crawl asks every permit's page (`-a resultado={EVERY_PERMIT}`), the site refusing "
            "the pages of permits not approved",
        ),
    ), data_dir


def measure_merge(plan: Plan, data_dir: Path) -> Figure:
    command = [sys.executable, "-m", "postprocess.merge", "--data-dir", str(data_dir)]
    seconds = []
    for _ in range(plan.repeat):
        started = time.perf_counter()
        subprocess.run(
            command, cwd=PROJECT_ROOT, check=True, capture_output=True, timeout=MERGE_TIMEOUT
        )
        seconds.append(time.perf_counter() - started)
    records = lines_in(data_dir / "tramites.jsonl")
    pages = lines_in(data_dir / "detalles.jsonl")
    median = statistics.median(seconds)
    return Figure(
        name=f"5. Merge of {records:,} records and {pages:,} pages",
        measured=spread(seconds, "s"),
        target=f"< {MERGE_TARGET_SECONDS:g} s",
        ratio=f"{median / MERGE_TARGET_SECONDS:.2f} of the budget",
        passed=median < MERGE_TARGET_SECONDS,
        details=(
            "`python -m postprocess.merge --data-dir DIR` as a user runs it, start-up included",
        ),
    )


@dataclass(frozen=True)
class BadDay:
    """The page phase of one crawl on a site with faults, read from the replica's log."""

    rate: float  # page requests answered per second while pages remained to be asked
    tail: float  # seconds from then to the last answer
    requests: int
    pages: int
    # Page requests in flight at the server, on average over the same time.
    mean_in_flight: float
    # Page requests answered per second over the whole page phase, the tail included.
    whole_rate: float


def bad_day_phase(served: list[Served]) -> BadDay:
    """While pages remain: from the first page request to the answer to the request that
    asked the last page for the first time; every request answered in it counts."""
    first_asked: dict[str, Served] = {}
    for entry in served:
        known = first_asked.get(entry.query)
        if known is None or entry.arrival < known.arrival:
            first_asked[entry.query] = entry
    start = min(entry.arrival for entry in served)
    end = max(first_asked.values(), key=lambda entry: entry.arrival).due
    answered = sum(1 for entry in served if entry.due <= end)
    tail = max(entry.due for entry in served) - end
    busy = sum(max(0.0, min(entry.due, end) - entry.arrival) for entry in served)
    seconds = end - start
    whole = len(served) / (seconds + tail)
    return BadDay(answered / seconds, tail, len(served), len(first_asked), busy / seconds, whole)


def backoff_schedule_seconds(settings: Settings) -> float:
    """The waits of a page retried until it gives up, as lapaz/settings.py describes them."""
    base = settings.getfloat("LAPAZ_RETRY_BACKOFF_BASE")
    ceiling = settings.getfloat("LAPAZ_RETRY_BACKOFF_MAX")
    return sum(
        min(base * 2 ** (n - 1), ceiling) for n in range(1, settings.getint("RETRY_TIMES") + 1)
    )


def measure_bad_day(plan: Plan) -> Figure:
    settings = plan.settings
    concurrency = settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
    limit = concurrency / PAGE_LATENCY
    phases, most_in_flight = [], []
    config = ReplicaConfig(
        features=plan.throughput_features, latency=PAGE_LATENCY, faults=BAD_DAY_FAULTS
    )
    for _ in range(plan.repeat):
        with TimedReplica(config) as replica, tempfile.TemporaryDirectory() as folder:
            finished_crawl(replica, Path(folder), plan)
            phases.append(bad_day_phase(replica.served["page"]))
            most_in_flight.append(replica.stats.snapshot()["max_in_flight"])
            faults = replica.stats.snapshot()["faults"]
    fraction = statistics.median(phase.rate for phase in phases) / limit
    whole = statistics.median(phase.whole_rate for phase in phases) / limit
    most = max(most_in_flight)
    last = phases[-1]
    return Figure(
        name=(
            f"6. A bad day: requests/s at L = {PAGE_LATENCY * 1000:.0f} ms, C = {concurrency}, "
            "1% always 500, 10% 503 twice, 5% 429"
        ),
        measured=(
            f"{spread([p.rate for p in phases], 'requests/s', 1)} while pages remain; "
            f"{spread([p.whole_rate for p in phases], 'requests/s', 1)} over the page phase; "
            f"tail {spread([p.tail for p in phases], 's', 1)}; at most {most} in flight"
        ),
        target=(
            f"≥ {BAD_DAY_TARGET:.2f} of C/L while pages remain, ≥ {BAD_DAY_WHOLE_TARGET:.2f} "
            f"over the page phase; ≤ C = {concurrency} in flight"
        ),
        ratio=f"{fraction:.2f} and {whole:.2f} of C/L; {most / concurrency:.2f} of C",
        passed=(
            fraction >= BAD_DAY_TARGET and whole >= BAD_DAY_WHOLE_TARGET and most <= concurrency
        ),
        details=(
            f"{last.pages} pages, {last.requests} page requests a run; faults served (last run): "
            f"{', '.join(f'{kind} {n}' for kind, n in sorted(faults.items()))}; C = "
            f"CONCURRENT_REQUESTS_PER_DOMAIN, in flight counted at the replica, WFS included; "
            f"the tail is bounded by the backoff schedule, "
            f"{backoff_schedule_seconds(settings):g} s over RETRY_TIMES = "
            f"{settings.getint('RETRY_TIMES')}, plus the latency of each try",
            f"most requests in flight at the replica, by run: "
            f"{', '.join(str(n) for n in most_in_flight)}",
            "the replica answers its faults at once, so requests/s can pass C/L; page "
            "requests in flight on average while pages remain: "
            f"{spread([p.mean_in_flight for p in phases], '')} of C = {concurrency}",
        ),
    )


def wfs_exchanges(server: MapServer) -> list:
    """The server's WFS requests (robots.txt and the like left out)."""
    return [e for e in server.exchanges if "request=" in e.query.lower()]


def exchanges_seconds(exchanges: list) -> float:
    return max(e.answered for e in exchanges) - min(e.arrival for e in exchanges)


def ogr2ogr_features(server: MapServer, folder: Path) -> int:
    """GDAL's harvest of the layer as a user runs it, default paging; the features it wrote."""
    target = folder / "ogr2ogr.geojson"
    command = [OGR2OGR, "-f", "GeoJSON", str(target), f"WFS:{server.wfs_url}", TYPENAME]
    subprocess.run(command, check=True, capture_output=True, timeout=CRAWL_TIMEOUT)
    return len(json.loads(target.read_bytes())["features"])


def lines_in(path: Path) -> int:
    with path.open("rb") as lines:
        return sum(1 for _ in lines)


def measure_mapserver_wfs(plan: Plan) -> Figure:
    config = MapServerConfig(features=plan.mapserver_features)
    spider, ogr, spider_requests, ogr_requests = [], [], 0, 0
    for _ in range(plan.repeat):
        with (
            MapServer(config) as server,
            TimedReplica(config.replica_config()) as replica,
            tempfile.TemporaryDirectory() as folder,
        ):
            served = len(server.served_features)
            harvested = ogr2ogr_features(server, Path(folder))
            if harvested != served:
                raise RuntimeError(f"ogr2ogr got {harvested} of {served} features")
            ogr.append(exchanges_seconds(wfs_exchanges(server)))
            ogr_requests = len(wfs_exchanges(server))
            server.exchanges.clear()
            data_dir = Path(folder) / "data"
            finished_crawl(Site(server.wfs_url, replica.detalle_url), data_dir, plan)
            harvested = lines_in(data_dir / "tramites.jsonl")
            if harvested != served:
                raise RuntimeError(f"the spider got {harvested} of {served} features")
            spider.append(exchanges_seconds(wfs_exchanges(server)))
            spider_requests = len(wfs_exchanges(server))
    ratio = statistics.median(spider) / statistics.median(ogr)
    return Figure(
        name=f"7. WFS phase against MapServer 8, {served:,} features",
        measured=f"spider {spread(spider, 's')}; ogr2ogr {spread(ogr, 's')}",
        target="no slower than ogr2ogr",
        ratio=f"{ratio:.2f}× ogr2ogr's time",
        passed=ratio <= OGR2OGR_RATIO_TARGET,
        details=(
            f"MapServer as CGI on a GeoPackage (gml_types auto, wfs_compute_number_matched), "
            f"timed at the server from the first WFS request to the last answer; the spider: "
            f"{spider_requests} WFS requests, LAPAZ_WFS_PAGE_SIZE = "
            f"{plan.settings.getint('LAPAZ_WFS_PAGE_SIZE')}; ogr2ogr (GDAL's WFS driver, its "
            f"default page size): {ogr_requests} requests",
        ),
    )


def measure_cpu_per_page(plan: Plan) -> Figure:
    per_page, seconds, pages = [], [], 0
    for _ in range(plan.repeat):
        config = ReplicaConfig(features=plan.cpu_features)
        with TimedReplica(config) as replica, tempfile.TemporaryDirectory() as folder:
            run = finished_crawl(replica, Path(folder), plan)
            pages = len(replica.served["page"])
            seconds.append(run.cpu_seconds)
            per_page.append(run.cpu_seconds / pages * 1000)
    median = statistics.median(per_page)
    return Figure(
        name=f"8. CPU per permit page, {plan.cpu_features:,} features / {pages:,} pages",
        measured=f"{spread(per_page, 'ms', 1)} ({spread(seconds, 's', 1)} a crawl)",
        target=f"≤ {CPU_MS_PER_PAGE_TARGET:g} ms (issue 21; 7.5 ms before)",
        ratio=f"{median / CPU_MS_PER_PAGE_TARGET:.2f} of the budget",
        passed=median <= CPU_MS_PER_PAGE_TARGET,
        details=(
            "user + system time of the crawl process (start-up and WFS phase included) over "
            "the permit pages it requested; the project's settings, no latency",
        ),
    )


def measure_limiter(plan: Plan) -> Figure:
    """The crawl behind a request-rate limiter, read from the replica's log of requests."""
    refused_shares, paces, requests, pages = [], [], 0, 0
    config = ReplicaConfig(
        features=plan.throughput_features, latency=LIMITER_LATENCY, rate_limit=LIMITER
    )
    for _ in range(plan.repeat):
        with ReplicaServer(config) as replica, tempfile.TemporaryDirectory() as folder:
            finished_crawl(replica, Path(folder), plan)
            timeline = replica.stats.requests_in_order()
            pages = len(replica.stats.snapshot()["page_requests"])
            records = [
                json.loads(line) for line in Path(folder, "detalles.jsonl").read_text().splitlines()
            ]
        lost = [r for r in records if r["url"] and r["error"] not in (None, "rechazada")]
        if lost:
            raise RuntimeError(f"{len(lost)} pages were lost to the limiter: {lost[0]}")
        let_through = [entry for entry in timeline if entry[4] != LIMITER.status]
        requests = len(timeline)
        refused_shares.append(1 - len(let_through) / requests)
        seconds = max(entry[1] for entry in timeline) - min(entry[0] for entry in timeline)
        paces.append(len(let_through) / seconds / LIMITER.rate)
    refused = statistics.median(refused_shares)
    pace = statistics.median(paces)
    return Figure(
        name=(
            f"10. Behind a rate limiter (nginx limit_req, {LIMITER.rate:g} requests/s, "
            f"burst {LIMITER.burst}, nodelay, {LIMITER.status} without Retry-After)"
        ),
        measured=(
            f"{spread([100 * share for share in refused_shares], '%', 1)} of requests "
            f"refused; answered pace {spread(paces, 'of its rate')}"
        ),
        target=(
            f"≤ {LIMITER_REFUSED_TARGET:.0%} refused; ≥ {LIMITER_PACE_TARGET:g} of its rate "
            "over the whole crawl"
        ),
        ratio=(
            f"{refused / LIMITER_REFUSED_TARGET:.2f} of the refusal budget; "
            f"{pace / LIMITER_PACE_TARGET:.2f} of the pace target"
        ),
        passed=refused <= LIMITER_REFUSED_TARGET and pace >= LIMITER_PACE_TARGET,
        details=(
            f"{pages} pages and {requests} requests in all (last run), every page harvested; "
            f"pages at {LIMITER_LATENCY * 1000:.0f} ms, C = "
            f"{plan.settings.getint('CONCURRENT_REQUESTS_PER_DOMAIN')}; timed at the replica "
            "from the first request (WFS included) to the last answer",
        ),
    )


@dataclass(frozen=True)
class GaveUp:
    """A crawl that could not harvest: how long until it ended, and what it said."""

    seconds: float  # from `scrapy crawl` starting to its exit, start-up included
    returncode: int
    reason: str  # the spider's last error line


def give_up(site: ReplicaServer | Site, data_dir: Path, plan: Plan) -> GaveUp:
    started = time.monotonic()
    run = Crawl(site, data_dir, plan).finish()
    seconds = time.monotonic() - started
    reasons = SPIDER_ERROR.findall(run.log)
    return GaveUp(seconds, run.returncode, reasons[-1] if reasons else "(no error line)")


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on: connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def origin_site(origin: str) -> Site:
    """The site's paths on another origin."""
    return Site(f"{origin}/geoserver/sit/ows", f"{origin}/situtiles/pc/")


def measure_giving_up(plan: Plan) -> Figure:
    config = ReplicaConfig(features=plan.throughput_features, faults=DEAD_WFS_FAULTS)
    cases: dict[str, list[GaveUp]] = {"dead": [], "refused": [], "unresolvable": []}
    wfs_requests = 0
    for _ in range(plan.repeat):
        with tempfile.TemporaryDirectory() as folder:
            with ReplicaServer(config) as replica:
                cases["dead"].append(give_up(replica, Path(folder, "dead"), plan))
                wfs_requests = replica.stats.snapshot()["requests"].get("wfs", 0)
            refused = origin_site(f"http://127.0.0.1:{closed_port()}")
            cases["refused"].append(give_up(refused, Path(folder, "refused"), plan))
            unresolvable = origin_site(UNRESOLVABLE_ORIGIN)
            cases["unresolvable"].append(give_up(unresolvable, Path(folder, "unresolvable"), plan))
    runs = [run for case in cases.values() for run in case]
    slowest = max(run.seconds for run in runs)
    statuses = sorted({run.returncode for run in runs})
    measured = "; ".join(
        f"{name} {spread([run.seconds for run in case], 's', 1)}" for name, case in cases.items()
    )
    settings = plan.settings
    return Figure(
        name="9. Giving up: a dead WFS (503 to all), a refused port, a name that does not resolve",
        measured=f"{measured}; exit {', '.join(map(str, statuses))}",
        target=f"≤ {GIVE_UP_TARGET_SECONDS:g} s, non-zero exit",
        ratio=f"{slowest / GIVE_UP_TARGET_SECONDS:.2f} of the budget (slowest run)",
        passed=slowest <= GIVE_UP_TARGET_SECONDS and 0 not in statuses,
        details=(
            f"wall time of `scrapy crawl tramites` from its start to its exit, the project's "
            f"settings; the dead WFS: {wfs_requests} WFS requests a run (the count once, then "
            f"the first page with RETRY_TIMES = {settings.getint('RETRY_TIMES')}, backoff "
            f"{backoff_schedule_seconds(settings):g} s in all)",
            *(f"{name}: {case[-1].reason}" for name, case in cases.items()),
        ),
    )


# -- the report --------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{cpu_model()}, {os.cpu_count()} cores (load average {load} at the start), "
        f"{platform.system()}; Python {platform.python_version()}, Scrapy {scrapy.__version__}, "
        f"lxml {lxml.etree.__version__}, beautifulsoup4 {bs4.__version__}"
    )


def markdown_table(figures: list[Figure]) -> str:
    lines = [
        "| Figure | Measured: median (min–max) | Target | Ratio | Result |",
        "|---|---|---|---|---|",
    ]
    for figure in figures:
        result = "pass" if figure.passed else "**miss**"
        lines.append(
            f"| {figure.name} | {figure.measured} | {figure.target} | {figure.ratio} | {result} |"
        )
    return "\n".join(lines)


def setting(text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return name, value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.benchmark",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one run each")
    parser.add_argument("--repeat", type=int, help="runs a figure (default: 3, 1 with --quick)")
    parser.add_argument(
        "-s",
        dest="overrides",
        type=setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Scrapy setting for every crawl, as with scrapy crawl (repeatable)",
    )
    parser.add_argument(
        "--only", type=lambda text: {int(n) for n in text.split(",")}, help="figures, e.g. 6,10"
    )
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat: at least 1")
    return args


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def memory_and_merge(plan: Plan, folder: Path) -> Figure:
    """Figure 4; figure 5 runs on its crawl's data folder."""
    memory, data_dir = measure_memory(plan, folder)
    merge_figure.data_dir = data_dir
    return memory


def merge_figure(plan: Plan, folder: Path) -> Figure:
    data_dir = getattr(merge_figure, "data_dir", None)
    if data_dir is None:
        _, data_dir = measure_memory(replace(plan, repeat=1), folder)
    return measure_merge(plan, data_dir)


# (what is measured, how), in the order of the table.
FIGURES: list[tuple[str, Callable[[Plan, Path], Figure]]] = [
    ("permit pages per second", lambda plan, _: measure_page_throughput(plan)),
    ("the WFS phase", lambda plan, _: measure_wfs_phase(plan)),
    ("parsing", lambda plan, _: measure_parsing(plan)),
    ("peak memory", memory_and_merge),
    ("the merge", merge_figure),
    ("a bad day at the permit site", lambda plan, _: measure_bad_day(plan)),
    ("the WFS phase against MapServer", lambda plan, _: measure_mapserver_wfs(plan)),
    ("CPU per permit page", lambda plan, _: measure_cpu_per_page(plan)),
    ("giving up on a server that cannot answer", lambda plan, _: measure_giving_up(plan)),
    ("behind a rate limiter", lambda plan, _: measure_limiter(plan)),
]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = QUICK if args.quick else Plan()
    plan = replace(plan, repeat=args.repeat or plan.repeat, overrides=dict(args.overrides))
    started = time.monotonic()
    machine_at_start = machine()
    wanted = args.only or set(range(1, len(FIGURES) + 1))
    figures = []
    with tempfile.TemporaryDirectory() as folder:
        for number, (what, measure) in enumerate(FIGURES, start=1):
            if number not in wanted:
                continue
            progress(f"{number}/{len(FIGURES)} {what} ...")
            figures.append(measure(plan, Path(folder)))
    print(markdown_table(figures))
    print()
    for figure in figures:
        number = figure.name.split(".", 1)[0]
        for detail in figure.details:
            print(f"- {number}: {detail}")
    print()
    print(f"Machine: {machine_at_start}.")
    options = argv if argv is not None else sys.argv[1:]
    elapsed = time.monotonic() - started
    print(f"Command: `python -m {' '.join(['tools.benchmark', *options])}`, {elapsed:.0f} s.")
    return 0 if all(figure.passed for figure in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
