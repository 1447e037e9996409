import io
import logging
import sys

import pytest
import pytest_twisted
from scrapy import Spider, signals
from scrapy.exceptions import NotConfigured
from scrapy.extension import ExtensionManager
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from lapaz.crawl import statkeys
from lapaz.crawl.extensions import progress
from lapaz.crawl.extensions.progress import (
    Progress,
    ProgressBars,
    ProgressLog,
    progress_line,
    progress_of,
    time_left,
)
from lapaz.crawl.state import CrawlState
from lapaz.layer.paging import LayerPaging
from lapaz.records.schema import PageOutcome
from tests.crawl import project_settings


class DummySpider(Spider):
    name = "dummy"


SPIDER = DummySpider()


@pytest.fixture
def make_crawler(tmp_path):
    """A crawler with the crawl's state (its only extension), as a crawl has."""

    def make(limit=None, **settings):
        only_the_state = {"EXTENSIONS_BASE": {}, "EXTENSIONS": {CrawlState: 0}}
        crawler = get_crawler(DummySpider, project_settings(**only_the_state, **settings))
        crawler.spider = SPIDER
        crawler.extensions = build_from_crawler(ExtensionManager, crawler)
        crawler.paging = LayerPaging(5000, limit)
        crawler.stats.open_spider()
        return crawler

    return make


def send(crawler, signal, **arguments) -> None:
    """Send a signal as the engine does, failing the test if a receiver raised."""
    results = crawler.signals.send_catch_log(signal, spider=SPIDER, **arguments)
    failures = [result for _, result in results if isinstance(result, Failure)]
    assert not failures, failures[0].getTraceback()


def run_crawl_steps(crawler, features: int, matched: int, planned: int, done: int) -> None:
    """What a crawl does to its state: features arrive, pages get planned and done."""
    state = crawler.get_extension(CrawlState)
    state.note_number_matched(matched, crawler.paging.expected(matched))
    for number in range(features):
        state.receive_feature(number, {})
        send(crawler, signals.item_scraped, item={}, response=None)
    state.count(statkeys.PAGES_PLANNED, planned)
    for _ in range(done):
        state.note_page({"error": None})
        send(crawler, signals.item_scraped, item={}, response=None)


# -- The line --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (10, "less than a minute left"),
        (1020, "about 17 min left"),
        (7500, "about 2 h 05 min left"),
    ],
)
def test_time_left_rounds_to_minutes(seconds, expected):
    assert time_left(seconds) == expected


def test_progress_line_gives_counts_shares_rate_and_time_left():
    line = progress_line(Progress(5000, 13907, 120, 3222, 3.2))
    assert line == "features 5000/13907 (36%), pages 120/3222 (4%), 3.2 pages/s, about 16 min left"


def test_progress_line_before_the_totals_are_known():
    assert progress_line(Progress(0, None, 0, 0, None)) == "features 0/?, pages 0/0"


def test_progress_line_shows_100_percent_only_when_done():
    line = progress_line(Progress(10, 10, 664, 665, 80.0))
    assert line == (
        "features 10/10 (100%), pages 664/665 (99%), 80.0 pages/s, less than a minute left"
    )


def test_progress_line_without_time_left_once_every_page_is_done():
    line = progress_line(Progress(10, 10, 4, 4, 2.0))
    assert line == "features 10/10 (100%), pages 4/4 (100%), 2.0 pages/s"


# -- Settings --------------------------------------------------------------------------


@pytest.mark.parametrize("extension", [ProgressLog, ProgressBars])
def test_lapaz_progress_off_disables_both(make_crawler, monkeypatch, extension):
    for terminal in (True, False):
        monkeypatch.setattr(progress, "stderr_is_terminal", lambda terminal=terminal: terminal)
        with pytest.raises(NotConfigured):
            extension.from_crawler(make_crawler(LAPAZ_PROGRESS="0"))


def test_interval_must_be_positive(make_crawler, monkeypatch):
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: False)
    with pytest.raises(ValueError, match="LAPAZ_PROGRESS_INTERVAL"):
        ProgressLog.from_crawler(make_crawler(LAPAZ_PROGRESS_INTERVAL="0"))


def test_the_mode_follows_whether_stderr_is_a_terminal(make_crawler, monkeypatch):
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    assert ProgressBars.from_crawler(make_crawler())
    with pytest.raises(NotConfigured):
        ProgressLog.from_crawler(make_crawler())
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: False)
    assert ProgressLog.from_crawler(make_crawler(LAPAZ_PROGRESS_INTERVAL="5")).interval == 5
    with pytest.raises(NotConfigured):
        ProgressBars.from_crawler(make_crawler())


# -- Counting --------------------------------------------------------------------------


def test_counts_features_and_pages_from_the_crawls_state(make_crawler):
    crawler = make_crawler()
    run_crawl_steps(crawler, features=3, matched=7, planned=4, done=1)
    crawler.get_extension(CrawlState).count(statkeys.outcome_key(PageOutcome.FAILED))
    snapshot = progress_of(crawler.get_extension(CrawlState))
    assert (snapshot.features_done, snapshot.features_total) == (3, 7)
    assert (snapshot.pages_done, snapshot.pages_total) == (2, 4)


def test_the_limit_caps_the_features_total(make_crawler):
    crawler = make_crawler(limit=100)
    run_crawl_steps(crawler, features=1, matched=13907, planned=0, done=0)
    assert progress_of(crawler.get_extension(CrawlState)).features_total == 100


# -- Log mode --------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_log_mode_logs_every_interval_until_the_spider_closes(make_crawler, caplog):
    crawler = make_crawler()
    interval = 0.05
    extension = ProgressLog(crawler, interval)
    crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
    crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)

    def progress_messages() -> list[str]:
        return [
            r.getMessage() for r in caplog.records if r.name == "lapaz.crawl.extensions.progress"
        ]

    with caplog.at_level(logging.INFO, logger="lapaz.crawl.extensions.progress"):
        send(crawler, signals.spider_opened)
        deadline = reactor.seconds() + 30
        while len(progress_messages()) < 1:
            assert reactor.seconds() < deadline, "no progress line in 30 s"
            await deferLater(reactor, interval / 5)
        run_crawl_steps(crawler, features=5, matched=10, planned=4, done=1)
        while len(progress_messages()) < 2:
            assert reactor.seconds() < deadline, "fewer than 2 progress lines in 30 s"
            await deferLater(reactor, interval / 5)
        send(crawler, signals.spider_closed, reason="finished")
        assert not extension.task.running
        logged = progress_messages()
        # A few more intervals: a loop still running would log again.
        await deferLater(reactor, 4 * interval)

    assert progress_messages() == logged
    assert logged[0] == "Progress: features 0/?, pages 0/0"
    assert logged[1].startswith("Progress: features 5/10 (50%), pages 1/4 (25%), ")
    assert "pages/s" in logged[1]


# -- Terminal mode ---------------------------------------------------------------------


def test_terminal_mode_bars_get_totals_and_counts(make_crawler):
    crawler = make_crawler()
    bar_output = io.StringIO()
    extension = ProgressBars(crawler, bar_file=bar_output)
    send(crawler, signals.spider_opened)
    run_crawl_steps(crawler, features=6, matched=8, planned=5, done=2)

    bars = dict(extension.bars)
    assert (bars["features"].n, bars["features"].total) == (6, 8)
    assert (bars["pages"].n, bars["pages"].total) == (2, 5)
    # The last features may be left out by the filters: no item, yet the bar catches up.
    crawler.get_extension(CrawlState).receive_feature("last", {})
    send(crawler, signals.spider_closed, reason="finished")
    assert bars["features"].n == 7
    assert bars["features"].disable  # closed
    assert "pages:  40%" in bar_output.getvalue()


def test_terminal_mode_writes_log_lines_above_the_bars_and_restores_the_handler(
    make_crawler, monkeypatch
):
    terminal = io.StringIO()
    monkeypatch.setattr(sys, "stderr", terminal)
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.INFO)  # as Scrapy sets LOG_LEVEL: on its handler
    root = logging.getLogger()
    root.addHandler(handler)
    monkeypatch.setattr(root, "level", logging.DEBUG)  # Scrapy's root logger lets all pass
    try:
        crawler = make_crawler()
        extension = ProgressBars(crawler, bar_file=terminal)
        send(crawler, signals.spider_opened)
        assert handler not in root.handlers, "replaced while the bars are shown"
        root.warning("a log line")
        root.debug("a debug line")
        send(crawler, signals.spider_closed, reason="finished")
        assert handler in root.handlers
        assert not extension.bars
    finally:
        root.removeHandler(handler)
    assert "a log line\n" in terminal.getvalue()
    assert "a debug line" not in terminal.getvalue(), "the log level holds above the bars"
