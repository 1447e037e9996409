"""The pace at the server on a bad day: retries wait without holding anything back.

Checked where it happens, at the replica: how many requests it had in flight at once,
and whether good pages kept arriving while failing pages waited for their retries.
"""

import itertools

import pytest

from tests.crawl import run_crawl
from tools.replica import Fault, ReplicaConfig, ReplicaServer

pytestmark = pytest.mark.e2e

# Scrapy's per-domain limit as the project sets it: WFS and pages together.
CONCURRENCY = 4
SETTLING = 8
LATENCY = 0.05
BAD_DAY = [
    Fault("page", "status", status=500, fraction=0.05, times=None),
    Fault("page", "status", status=503, fraction=0.10, times=2),
    Fault("page", "retry_after", fraction=0.05, times=1, retry_after=1),
]


def test_retries_hold_no_place_and_the_server_never_has_more_than_c(tmp_path):
    config = ReplicaConfig(features=900, latency=LATENCY, faults=BAD_DAY)
    with ReplicaServer(config) as replica:
        result = run_crawl(
            replica,
            tmp_path / "data",
            # the project's pace, only with shorter waits: 0.4 + 0.8 + 1.6 s before giving up
            CONCURRENT_REQUESTS_PER_DOMAIN=CONCURRENCY,
            RETRY_TIMES=3,
            LAPAZ_RETRY_BACKOFF_BASE=0.4,
        )
        stats = replica.stats.snapshot()
        timeline = replica.stats.requests_in_order()
    assert result.returncode == 0, result.log[-3000:]
    assert stats["max_in_flight"] <= CONCURRENCY

    pages = [
        (arrived, query, status) for arrived, _, kind, query, status in timeline if kind == "page"
    ]
    always_failing = {query for _, query, status in pages if status == 500}
    assert always_failing, "the replica served pages that always fail"
    errors = {r["url"].split("?", 1)[1]: r["error"] for r in result.detalles if r["url"]}
    assert {errors[query] for query in always_failing} == {"http_500"}

    # While pages remain to be asked (up to the last page's first request), the server
    # never waits long for the next one: a page in backoff holds back nothing else.
    first_asked = {}
    for arrived, query, _ in pages:
        first_asked.setdefault(query, arrived)
    last_first_request = max(first_asked.values())
    arrivals = [arrived for arrived, _, _ in pages if arrived <= last_first_request]
    # The throttle may meet the first failures before it knows the server's usual share.
    arrivals = arrivals[SETTLING:]
    longest_gap = max(b - a for a, b in itertools.pairwise(arrivals))
    # The shortest backoff here is 0.4 s: a held window would leave gaps of seconds.
    assert longest_gap < 0.3, longest_gap
    # ... and the failing pages were retried meanwhile, not all at the end.
    retried_meanwhile = [
        arrived
        for arrived, query, _ in pages
        if query in always_failing and first_asked[query] < arrived < last_first_request
    ]
    assert retried_meanwhile
