"""Progress of a crawl: bars on a terminal, a periodic log line anywhere else.

Two quantities move: the WFS features received (the `lapaz/wfs/features` stat, out of the
server's `numberMatched`, the `lapaz/wfs/number_matched` stat, or the spider's `limite`)
and the permit pages done (out of the pages the spider has planned so far, the
`lapaz/detalles/planned` stat, a total that grows while the features arrive).

On a terminal, two tqdm bars on stderr show counts, rate and time left; Scrapy's own log
lines, which go to stderr too, are written above the bars instead of through them. Anywhere
else (a log file, cron, Scrapyd) a line such as

    features 5000/13907 (36%), pages 120/3222 (4%), 3.2 pages/s, about 17 min left

is logged every LAPAZ_PROGRESS_INTERVAL seconds. LAPAZ_PROGRESS=0 turns it all off.
"""

import logging
import sys
import time
from dataclasses import dataclass

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.asyncio import create_looping_call
from tqdm import tqdm

from lapaz.items import DetalleItem

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL = 30.0
NUMBER_MATCHED_STAT = "lapaz/wfs/number_matched"
# Counted by the spider as features arrive, so that features its filters leave out (and
# that never become items) count as received too.
FEATURES_STAT = "lapaz/wfs/features"
PAGES_PLANNED_STAT = "lapaz/detalles/planned"


@dataclass(frozen=True)
class Progress:
    """Where a crawl stands; a total is None while unknown."""

    features_done: int
    features_total: int | None
    pages_done: int
    pages_total: int
    pages_per_second: float | None


def time_left(seconds: float) -> str:
    """A rough time left for a person: "less than a minute left", "about 2 h 05 min left"."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "less than a minute left"
    if minutes < 60:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60:02d} min left"


def _count(done: int, total: int | None) -> str:
    if not total:
        return f"{done}/?" if total is None else f"{done}/0"
    percent = round(done * 100 / total)
    # 100% only once everything is done.
    if done < total:
        percent = min(percent, 99)
    return f"{done}/{total} ({percent}%)"


def progress_line(progress: Progress) -> str:
    """The progress as one log line, with the page rate and time left once known."""
    parts = [
        f"features {_count(progress.features_done, progress.features_total)}",
        f"pages {_count(progress.pages_done, progress.pages_total)}",
    ]
    rate = progress.pages_per_second
    if rate:
        parts.append(f"{rate:.1f} pages/s")
        remaining = progress.pages_total - progress.pages_done
        if remaining > 0:
            parts.append(time_left(remaining / rate))
    return ", ".join(parts)


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


class _AboveTheBars:
    """A stream for a logging handler: each message is written above the bars."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        tqdm.write(text, file=self.stream, end="")

    def flush(self) -> None:
        self.stream.flush()


class CrawlProgress:
    """The extension: counts features and pages from signals, and shows them."""

    def __init__(self, crawler, interval: float, terminal: bool, bar_file=None):
        if interval <= 0:
            raise ValueError(f"LAPAZ_PROGRESS_INTERVAL must be above 0, not {interval}")
        self.crawler = crawler
        self.interval = interval
        self.terminal = terminal
        self.bar_file = bar_file or sys.stderr
        self.pages_done = 0
        self.first_page_done_at: float | None = None
        self.feature_bar: tqdm | None = None
        self.page_bar: tqdm | None = None
        self.redirected_handlers: list[tuple[logging.StreamHandler, object]] = []
        self.task = None

        connect = crawler.signals.connect
        connect(self.spider_opened, signal=signals.spider_opened)
        connect(self.spider_closed, signal=signals.spider_closed)
        # A record the writer drops (already in the files) is done all the same.
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            connect(self.item_done, signal=signal)

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        if not settings.getbool("LAPAZ_PROGRESS", True):
            raise NotConfigured("LAPAZ_PROGRESS is off")
        interval = settings.getfloat("LAPAZ_PROGRESS_INTERVAL", DEFAULT_INTERVAL)
        return cls(crawler, interval, terminal=stderr_is_terminal())

    # What the signals say

    @property
    def features_done(self) -> int:
        return self.crawler.stats.get_value(FEATURES_STAT, 0)

    @property
    def features_total(self) -> int | None:
        matched = self.crawler.stats.get_value(NUMBER_MATCHED_STAT)
        limit = getattr(self.crawler.spider, "limit", None)
        if matched is not None and limit:
            return min(matched, limit)
        return matched

    @property
    def pages_total(self) -> int:
        # A resumed crawl (JOBDIR) also finishes pages that the killed one had planned.
        return max(self.crawler.stats.get_value(PAGES_PLANNED_STAT, 0), self.pages_done)

    def item_done(self, item) -> None:
        # A record for a permit without an identifier was never a request.
        if isinstance(item, DetalleItem) and item.get("url"):
            self.pages_done += 1
            if self.first_page_done_at is None:
                self.first_page_done_at = time.monotonic()
        self.update_bars()

    def snapshot(self) -> Progress:
        rate = None
        if self.first_page_done_at is not None:
            elapsed = time.monotonic() - self.first_page_done_at
            rate = self.pages_done / elapsed if elapsed > 0 else None
        return Progress(
            self.features_done, self.features_total, self.pages_done, self.pages_total, rate
        )

    # Showing it

    def spider_opened(self) -> None:
        if self.terminal:
            self.open_bars()
        else:
            self.task = create_looping_call(self.log_progress)
            self.task.start(self.interval, now=False)

    def open_bars(self) -> None:
        self.feature_bar = tqdm(
            desc="features", unit="feature", position=0, file=self.bar_file, dynamic_ncols=True
        )
        self.page_bar = tqdm(
            desc="pages", unit="page", position=1, file=self.bar_file, dynamic_ncols=True
        )
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is self.bar_file:
                self.redirected_handlers.append((handler, handler.stream))
                handler.setStream(_AboveTheBars(handler.stream))

    def update_bars(self) -> None:
        if self.feature_bar is not None:
            self.feature_bar.total = self.features_total
            self.feature_bar.update(self.features_done - self.feature_bar.n)
        if self.page_bar is not None:
            self.page_bar.total = self.pages_total
            self.page_bar.update(self.pages_done - self.page_bar.n)

    def log_progress(self) -> None:
        logger.info("Progress: %s", progress_line(self.snapshot()))

    def spider_closed(self) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        # Features the filters left out since the last item would not show otherwise.
        self.update_bars()
        for bar in (self.feature_bar, self.page_bar):
            if bar is not None:
                bar.close()
        for handler, stream in self.redirected_handlers:
            handler.setStream(stream)
        self.redirected_handlers.clear()
