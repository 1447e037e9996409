import re
from datetime import UTC, datetime

import pytest

from lapaz.middlewares import retry_delay
from tests.crawl import run_crawl
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
