import re
import time
from datetime import UTC, datetime

import pytest
import pytest_twisted
from scrapy import Request
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
)
from scrapy.http import Response
from twisted.internet import reactor
from twisted.internet.task import deferLater

from lapaz.crawl.retries import (
    RETRY_AFTER_META,
    BackoffRetryMiddleware,
    BackoffScheduler,
    retry_delay,
)
from lapaz.crawl.useragents import RandomUserAgentMiddleware
from tests.crawl import run_crawl
from tools.replica import Fault, ReplicaConfig, ReplicaServer

# Browsers of the last few years; scrapy-fake-useragent's broken fallback gives MSIE 7
# and Opera 9 instead.
CURRENT_BROWSER = re.compile(r"(Chrome|Firefox|Version)/(\d+)")
MINIMUM_MAJOR = {"Chrome": 110, "Firefox": 110, "Version": 15}


@pytest.mark.parametrize(
    ("attempt", "retry_after", "expected"),
    [
        (1, None, 1.0),
        (2, None, 2.0),
        (4, None, 8.0),
        (12, None, 60.0),
        (1, b"7", 7.0),
        (1, "600", 60.0),
        (3, b"Sat, 28 Nov 2026 12:00:30 GMT", 30.0),
        (3, b"Sat, 28 Nov 2026 11:00:00 GMT", 0.0),
        (2, b"soon", 2.0),
    ],
)
def test_retry_delay(attempt, retry_after, expected):
    now = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
    assert retry_delay(attempt, retry_after, 1.0, 60.0, now=now) == expected


@pytest.mark.e2e
def test_user_agents_are_current_and_rotate_and_retries_happen(tmp_path):
    # Every page fails twice, so each is asked three times: that each retry went out
    # is counted at the server, not taken from the crawler's word. The pace is not at stake
    # (every first answer fails: the throttle would rightly slow the crawl to a crawl).
    fault = Fault("page", "status", status=503, fraction=1.0, times=2)
    with ReplicaServer(ReplicaConfig(features=300, faults=[fault])) as replica:
        result = run_crawl(
            replica,
            tmp_path / "data",
            LAPAZ_RETRY_BACKOFF_BASE=0.01,
            LAPAZ_RETRY_BACKOFF_MAX=0.1,
            LAPAZ_THROTTLE_ENABLED=False,
        )
        stats = replica.stats.snapshot()
    assert result.returncode == 0, result.log[-3000:]
    pages_with_data = [r for r in result.detalles if r["error"] is None]
    assert pages_with_data
    requested = stats["page_requests"]
    assert set(requested.values()) == {3}

    agents = stats["user_agents"]
    assert len(agents) >= 5, "user agents rotate"
    for agent in agents:
        assert "Scrapy" not in agent
        assert "MSIE" not in agent
        match = CURRENT_BROWSER.search(agent)
        assert match, agent
        assert int(match.group(2)) >= MINIMUM_MAJOR[match.group(1)], agent
    assert "Deprecat" not in result.log


def test_a_retried_request_gets_a_new_user_agent(project_spider):
    middleware = RandomUserAgentMiddleware.from_crawler(project_spider().crawler)
    first = Request("http://site.test/a")
    middleware.process_request(first)
    agent = first.headers["User-Agent"]
    assert CURRENT_BROWSER.search(agent.decode())

    again = first.replace()
    middleware.process_request(again)
    assert again.headers["User-Agent"] == agent, "kept when the request is not a retry"

    retry = first.replace(headers={"User-Agent": "stale"}, meta={"retry_times": 1})
    middleware.process_request(retry)
    assert retry.headers["User-Agent"] != b"stale"


@pytest.fixture
def retry_middleware(project_spider):
    def build() -> BackoffRetryMiddleware:
        crawler = project_spider().crawler
        crawler.stats.open_spider()
        return BackoffRetryMiddleware.from_crawler(crawler)

    return build


def test_a_retry_carries_the_servers_retry_after(retry_middleware):
    middleware = retry_middleware()
    throttled = Response("http://site.test/a", status=429, headers={"Retry-After": "7"})
    retry = middleware.process_response(Request("http://site.test/a"), throttled)
    assert isinstance(retry, Request)
    assert retry.meta["retry_times"] == 1
    assert retry.meta[RETRY_AFTER_META] == b"7"


def test_robots_txt_is_asked_once(retry_middleware):
    middleware = retry_middleware()
    robots = Request("http://site.test/robots.txt", meta={"dont_obey_robotstxt": True})
    failing = Response(robots.url, status=503)
    assert middleware.process_response(robots, failing) is failing


@pytest.mark.parametrize(
    "error", [CannotResolveHostError("site.test"), DownloadConnectionRefusedError("refused")]
)
def test_a_host_that_cannot_be_reached_is_not_retried(retry_middleware, error):
    middleware = retry_middleware()
    assert middleware.process_exception(Request("http://site.test/a"), error) is None


def test_a_timeout_is_retried(retry_middleware):
    retry = retry_middleware().process_exception(
        Request("http://site.test/a"), DownloadTimeoutError("slow")
    )
    assert isinstance(retry, Request)


class EngineStandIn:
    """What the scheduler asks of the engine: take a request back."""

    def __init__(self):
        self.crawled = []

    def crawl(self, request):
        self.crawled.append(request)


async def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await deferLater(reactor, 0.01, lambda: None)


@pytest_twisted.ensureDeferred
async def test_a_retried_request_waits_its_backoff_in_the_scheduler_not_in_the_queue(
    project_spider,
):
    crawler = project_spider(
        LAPAZ_RETRY_BACKOFF_BASE=0.2,
        LAPAZ_RETRY_BACKOFF_MAX=60.0,
        # The downloader-aware queue asks the engine for its downloader: none here.
        SCHEDULER_PRIORITY_QUEUE="scrapy.pqueues.ScrapyPriorityQueue",
    ).crawler
    crawler.stats.open_spider()
    crawler.engine = EngineStandIn()
    scheduler = BackoffScheduler.from_crawler(crawler)
    scheduler.open(crawler.spider)

    fresh = Request("http://site.test/fresh")
    retried = Request("http://site.test/retried", meta={"retry_times": 2}, dont_filter=True)
    assert scheduler.enqueue_request(retried)
    assert scheduler.enqueue_request(fresh)
    # the fresh request goes first; the retry waits 0.2 * 2 s outside every queue
    assert scheduler.next_request() is fresh
    assert scheduler.next_request() is None
    assert scheduler.has_pending_requests(), "a crawl with a retry waiting is not idle"
    started = time.monotonic()
    await wait_until(lambda: crawler.engine.crawled)
    assert time.monotonic() - started >= 0.35
    assert crawler.engine.crawled == [retried]
    assert not scheduler.has_pending_requests()
    # handed back, it is queued at once: it has waited its backoff
    assert scheduler.enqueue_request(retried)
    assert scheduler.next_request() is retried
    scheduler.close("finished")
