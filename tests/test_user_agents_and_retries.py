import asyncio
import re
from datetime import UTC, datetime

import pytest
import pytest_twisted
from scrapy import Request
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from lapaz.middlewares import RandomUserAgentMiddleware, RetryWithBackoffMiddleware, retry_delay
from lapaz.spiders.tramites import TramitesSpider
from tests.crawl import project_settings, run_crawl
from tests.replica import Fault, ReplicaConfig, ReplicaServer

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
    # is counted at the server, not taken from the crawler's word.
    fault = Fault("page", "status", status=503, fraction=1.0, times=2)
    with ReplicaServer(ReplicaConfig(features=300, faults=[fault])) as replica:
        result = run_crawl(
            replica, tmp_path / "data", LAPAZ_RETRY_BACKOFF_BASE=0.01, LAPAZ_RETRY_BACKOFF_MAX=0.1
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


def project_crawler(**settings):
    return get_crawler(TramitesSpider, project_settings(**settings))


def test_a_retried_request_gets_a_new_user_agent():
    middleware = RandomUserAgentMiddleware.from_crawler(project_crawler())
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


@pytest_twisted.ensureDeferred
async def test_every_retried_request_waits_its_backoff(monkeypatch):
    waits = []

    async def record_wait(seconds):
        waits.append(seconds)

    monkeypatch.setattr(asyncio, "sleep", record_wait)
    crawler = project_crawler(LAPAZ_RETRY_BACKOFF_BASE=1.0, LAPAZ_RETRY_BACKOFF_MAX=60.0)
    crawler.spider = crawler._create_spider()
    crawler.stats.open_spider()
    middleware = RetryWithBackoffMiddleware.from_crawler(crawler)

    await middleware.process_request(Request("http://site.test/a"))
    assert waits == []
    # a retry made by a callback (get_retry_request) carries only retry_times
    await middleware.process_request(Request("http://site.test/a", meta={"retry_times": 3}))
    assert waits == [4.0]

    throttled = Response("http://site.test/a", status=429, headers={"Retry-After": "7"})
    retry = middleware.process_response(Request("http://site.test/a"), throttled)
    assert isinstance(retry, Request)
    await middleware.process_request(retry)
    assert waits == [4.0, 7.0]
