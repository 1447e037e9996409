import io
import logging

import pytest
import pytest_twisted
from scrapy import Spider, signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler
from twisted.internet import reactor
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from lapaz import progress
from lapaz.items import DetalleItem, TramiteItem
from lapaz.progress import CrawlProgress, Progress, progress_line, time_left

PAGE_URL = "https://sitservicios.lapaz.bo/situtiles/pc/?"


class DummySpider(Spider):
    name = "dummy"


SPIDER = DummySpider()


def make_crawler(**settings):
    return get_crawler(DummySpider, settings)


def send(crawler, signal, **arguments) -> None:
    """Send a signal as the engine does, failing the test if a receiver raised."""
    results = crawler.signals.send_catch_log(signal, spider=SPIDER, **arguments)
    failures = [result for _, result in results if isinstance(result, Failure)]
    assert not failures, failures[0].getTraceback()


def page_record(number: int, error: str | None = None) -> DetalleItem:
    return DetalleItem(identificador=str(number), url=f"{PAGE_URL}{number}", error=error)


def receive_feature(crawler, filtered_out: bool = False) -> None:
    """What the spider does for a feature: count it and, unless filtered out, yield it."""
    crawler.stats.inc_value("lapaz/wfs/features")
    if not filtered_out:
        send(crawler, signals.item_scraped, item=TramiteItem(idPCTramite=1), response=None)


def run_crawl_steps(crawler, features: int, matched: int, planned: int, done: int) -> None:
    """What a crawl tells the extension: features arrive, pages get planned and done."""
    crawler.stats.set_value("lapaz/wfs/number_matched", matched)
    for _ in range(features):
        receive_feature(crawler)
    # the spider counts the pages it plans to request
    crawler.stats.inc_value("lapaz/detalles/planned", planned)
    for number in range(done):
        send(crawler, signals.item_scraped, item=page_record(number), response=None)


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


def test_lapaz_progress_off_disables_the_extension():
    with pytest.raises(NotConfigured):
        CrawlProgress.from_crawler(make_crawler(LAPAZ_PROGRESS="0"))


def test_interval_must_be_positive():
    with pytest.raises(ValueError, match="LAPAZ_PROGRESS_INTERVAL"):
        CrawlProgress.from_crawler(make_crawler(LAPAZ_PROGRESS_INTERVAL="0"))


def test_the_mode_follows_whether_stderr_is_a_terminal(monkeypatch):
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: True)
    assert CrawlProgress.from_crawler(make_crawler()).terminal
    monkeypatch.setattr(progress, "stderr_is_terminal", lambda: False)
    extension = CrawlProgress.from_crawler(make_crawler(LAPAZ_PROGRESS_INTERVAL="5"))
    assert not extension.terminal
    assert extension.interval == 5


# -- Counting --------------------------------------------------------------------------


def test_counts_features_and_pages_once_each():
    crawler = make_crawler()
    extension = CrawlProgress(crawler, interval=30, terminal=False)
    run_crawl_steps(crawler, features=3, matched=7, planned=4, done=1)
    # The writer drops a page already in the files: done all the same.
    send(
        crawler,
        signals.item_dropped,
        item=page_record(1),
        response=None,
        exception=Exception("already written"),
    )
    # A permit without an identifier never was a request.
    send(crawler, signals.item_scraped, item=DetalleItem(url=None, error="x"), response=None)

    snapshot = extension.snapshot()
    assert (snapshot.features_done, snapshot.features_total) == (3, 7)
    assert (snapshot.pages_done, snapshot.pages_total) == (2, 4)
    assert snapshot.pages_per_second > 0


def test_features_left_out_by_filters_count_as_received():
    crawler = make_crawler()
    extension = CrawlProgress(crawler, interval=30, terminal=False)
    run_crawl_steps(crawler, features=2, matched=5, planned=0, done=0)
    for _ in range(3):
        receive_feature(crawler, filtered_out=True)
    assert (extension.snapshot().features_done, extension.snapshot().features_total) == (5, 5)


def test_the_spiders_limit_caps_the_features_total():
    crawler = make_crawler()
    extension = CrawlProgress(crawler, interval=30, terminal=False)
    crawler.spider = DummySpider(limit=100)
    crawler.stats.set_value("lapaz/wfs/number_matched", 13907)
    assert extension.features_total == 100
    crawler.spider.limit = None
    assert extension.features_total == 13907


# -- Log mode --------------------------------------------------------------------------


def test_log_mode_logs_a_progress_line_and_never_draws_bars(caplog):
    crawler = make_crawler()
    bar_output = io.StringIO()
    extension = CrawlProgress(crawler, interval=30, terminal=False, bar_file=bar_output)
    send(crawler, signals.spider_opened)
    run_crawl_steps(crawler, features=5, matched=10, planned=4, done=1)

    with caplog.at_level(logging.INFO, logger="lapaz.progress"):
        extension.log_progress()
    send(crawler, signals.spider_closed, reason="finished")

    [message] = [record.getMessage() for record in caplog.records]
    assert message.startswith("Progress: features 5/10 (50%), pages 1/4 (25%), ")
    assert "pages/s" in message
    assert extension.feature_bar is None
    assert bar_output.getvalue() == ""


@pytest_twisted.ensureDeferred
async def test_log_mode_logs_every_interval_until_the_spider_closes(caplog):
    crawler = make_crawler()
    interval = 0.05
    extension = CrawlProgress(crawler, interval=interval, terminal=False)

    def progress_messages() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == "lapaz.progress"]

    with caplog.at_level(logging.INFO, logger="lapaz.progress"):
        send(crawler, signals.spider_opened)
        deadline = reactor.seconds() + 30
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


# -- Terminal mode ---------------------------------------------------------------------


def test_terminal_mode_bars_get_totals_and_counts():
    crawler = make_crawler()
    bar_output = io.StringIO()
    extension = CrawlProgress(crawler, interval=30, terminal=True, bar_file=bar_output)
    send(crawler, signals.spider_opened)
    run_crawl_steps(crawler, features=6, matched=8, planned=5, done=2)

    assert (extension.feature_bar.n, extension.feature_bar.total) == (6, 8)
    assert (extension.page_bar.n, extension.page_bar.total) == (2, 5)
    assert extension.task is None
    # The last features may be left out by the filters: no item, yet the bar catches up.
    receive_feature(crawler, filtered_out=True)
    send(crawler, signals.spider_closed, reason="finished")
    assert extension.feature_bar.n == 7
    assert extension.feature_bar.disable  # closed
    assert "pages:  40%" in bar_output.getvalue()


def test_terminal_mode_writes_log_lines_above_the_bars_and_restores_the_handler():
    crawler = make_crawler()
    bar_output = io.StringIO()
    handler = logging.StreamHandler(bar_output)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        extension = CrawlProgress(crawler, interval=30, terminal=True, bar_file=bar_output)
        send(crawler, signals.spider_opened)
        assert handler.stream is not bar_output
        root.warning("a log line")
        send(crawler, signals.spider_closed, reason="finished")
    finally:
        root.removeHandler(handler)

    assert handler.stream is bar_output
    assert "a log line\n" in bar_output.getvalue()
    assert extension.redirected_handlers == []
