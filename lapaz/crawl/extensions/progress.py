"""Progress of a crawl: bars on a terminal, a periodic log line anywhere else.

Two quantities move, both read off the crawl's state (lapaz.crawl.state): the WFS features
received, out of the server's count (the limit applied), and the permit pages done, out
of the pages planned so far (a total that grows while the features arrive).

On a terminal, two tqdm bars on stderr show counts, rate and time left; Scrapy's own log
lines are written above the bars (tqdm's `logging_redirect_tqdm`). Anywhere else (a log
file, cron, Scrapyd) Scrapy's PeriodicLog, with a line a person reads, logs such as

    features 5000/13907 (36%), pages 120/3222 (4%), 3.2 pages/s, about 17 min left

is logged every LAPAZ_PROGRESS_INTERVAL seconds. LAPAZ_PROGRESS=0 turns it all off.
"""

import logging
import sys
import time
from dataclasses import dataclass

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.extensions.periodic_log import PeriodicLog
from scrapy.utils.asyncio import create_looping_call
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from lapaz.crawl import statkeys
from lapaz.crawl.state import ASKED, CrawlState
from lapaz.i18n import N_, _, number

logger = logging.getLogger(__name__)

# The two bars, by name, and their unit (translated where they are drawn).
BAR_WORDS = {N_("features"): N_("feature"), N_("pages"): N_("page")}

DEFAULT_INTERVAL = 30.0


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
        return _("less than a minute left")
    if minutes < 60:
        return _("about {minutes} min left").format(minutes=minutes)
    return _("about {hours} h {minutes} min left").format(
        hours=minutes // 60, minutes=f"{minutes % 60:02d}"
    )


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
        _("features {count}").format(count=_count(progress.features_done, progress.features_total)),
        _("pages {count}").format(count=_count(progress.pages_done, progress.pages_total)),
    ]
    rate = progress.pages_per_second
    if rate:
        parts.append(_("{rate} pages/s").format(rate=number(rate, 1)))
        remaining = progress.pages_total - progress.pages_done
        if remaining > 0:
            parts.append(time_left(remaining / rate))
    return ", ".join(parts)


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def progress_of(state: CrawlState, pages_per_second: float | None = None) -> Progress:
    """Where the crawl stands."""
    pages_done = sum(state.figure(statkeys.outcome_key(outcome)) for outcome in ASKED)
    # A resumed crawl (JOBDIR) also finishes pages that the killed one had planned.
    pages_total = max(state.figure(statkeys.PAGES_PLANNED), pages_done)
    return Progress(
        state.features_received, state.expected, pages_done, pages_total, pages_per_second
    )


def _interval(settings) -> float:
    interval = settings.getfloat("LAPAZ_PROGRESS_INTERVAL", DEFAULT_INTERVAL)
    if interval <= 0:
        raise ValueError(
            _("LAPAZ_PROGRESS_INTERVAL must be above 0, not {value}").format(value=interval)
        )
    return interval


def _progress_mode(crawler, terminal: bool) -> None:
    """Raise NotConfigured unless progress is on and shown the way `terminal` says."""
    # Without a message: Scrapy logs only those with one (a WARNING in English), and
    # progress turned off, or shown the other way, is no news.
    if not crawler.settings.getbool("LAPAZ_PROGRESS", True) or stderr_is_terminal() != terminal:
        raise NotConfigured


class ProgressLog(PeriodicLog):
    """Scrapy's periodic log, as one line a person reads, every LAPAZ_PROGRESS_INTERVAL s."""

    def __init__(self, crawler, interval: float):
        super().__init__(crawler.stats, interval)
        self.crawler = crawler
        self.last_pages: tuple[float, int] | None = None

    @classmethod
    def from_crawler(cls, crawler):
        _progress_mode(crawler, terminal=False)
        extension = cls(crawler, _interval(crawler.settings))
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider) -> None:
        self.last_pages = (time.monotonic(), 0)
        self.task = create_looping_call(self.log)
        self.task.start(self.interval, now=False)

    def log(self) -> None:
        state = self.crawler.get_extension(CrawlState)
        now = time.monotonic()
        done = progress_of(state).pages_done
        rate = None
        if self.last_pages is not None and now > self.last_pages[0]:
            rate = (done - self.last_pages[1]) / (now - self.last_pages[0]) or None
        self.last_pages = (now, done)
        logger.info(_("Progress: %s"), progress_line(progress_of(state, rate)))

    def spider_closed(self, spider, reason) -> None:
        if self.task and self.task.running:
            self.task.stop()


class ProgressBars:
    """Two tqdm bars on stderr, with the log written above them."""

    def __init__(self, crawler, bar_file=None):
        self.crawler = crawler
        self.bar_file = bar_file or sys.stderr
        self.bars: dict[str, tqdm] = {}
        self.redirect = None
        connect = crawler.signals.connect
        connect(self.spider_opened, signal=signals.spider_opened)
        connect(self.spider_closed, signal=signals.spider_closed)
        # A record the writer drops (already in the files) is done all the same.
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            connect(self.update, signal=signal)

    @classmethod
    def from_crawler(cls, crawler):
        _progress_mode(crawler, terminal=True)
        return cls(crawler)

    def spider_opened(self) -> None:
        for position, (name, unit) in enumerate(BAR_WORDS.items()):
            self.bars[name] = tqdm(
                desc=_(name),
                unit=_(unit),
                position=position,
                file=self.bar_file,
                dynamic_ncols=True,
            )
        root = logging.getLogger()
        before = list(root.handlers)
        self.redirect = logging_redirect_tqdm()
        self.redirect.__enter__()
        # tqdm's handler takes the console handler's format, not its level (Scrapy's
        # LOG_LEVEL is set on its handler): without this, DEBUG lines would show.
        replaced = [handler.level for handler in before if handler not in root.handlers]
        for handler in root.handlers:
            if handler not in before and replaced:
                handler.setLevel(min(replaced))

    def update(self) -> None:
        if not self.bars:
            return
        progress = progress_of(self.crawler.get_extension(CrawlState))
        for name, done, total in (
            ("features", progress.features_done, progress.features_total),
            ("pages", progress.pages_done, progress.pages_total),
        ):
            bar = self.bars[name]
            bar.total = total
            bar.update(done - bar.n)

    def spider_closed(self) -> None:
        # Features the filters left out since the last item would not show otherwise.
        self.update()
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()
        if self.redirect is not None:
            self.redirect.__exit__(None, None, None)
            self.redirect = None
