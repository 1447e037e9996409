"""A site behind a request-rate limiter (nginx's limit_req): the crawl slows down to it.

Checked at the server, in the replica's log of requests: every page is harvested, few
requests are refused, and the pace of the requests it let through settles near its rate.
"""

import pytest

from lapaz import settings as project
from lapaz.crawl.statkeys import THROTTLE_DECREASES
from tests.crawl import run_crawl
from tools.replica import RateLimit, ReplicaConfig, ReplicaServer

pytestmark = pytest.mark.e2e

FEATURES = 600
RATE = 20.0
MOST_REFUSED = 0.10
LEAST_PACE = 0.7


@pytest.mark.parametrize("status", [503, 429])
def test_behind_a_rate_limiter_every_page_comes_at_its_pace(tmp_path, status):
    limit = RateLimit(rate=RATE, burst=5, status=status)
    config = ReplicaConfig(features=FEATURES, latency=0.02, rate_limit=limit)
    with ReplicaServer(config) as replica:
        result = run_crawl(
            replica,
            tmp_path / "data",
            # The project's pace: C in flight, the throttle on (tests otherwise run at 16).
            CONCURRENT_REQUESTS_PER_DOMAIN=project.CONCURRENT_REQUESTS_PER_DOMAIN,
            LAPAZ_WFS_PAGE_SIZE=200,
        )
        timeline = replica.stats.requests_in_order()
        approved = {f["properties"]["idPCTramite"] for f in replica.approved_features()}
    assert result.returncode == 0, result.log[-3000:]
    assert {r["id_pc_tramite"] for r in result.detalles} == approved
    # Every page asked was answered (the site's own refusal aside): none lost to the limiter.
    assert {r["error"] for r in result.detalles if r["url"]} <= {None, "rechazada"}

    refused = [arrived for arrived, _, _, _, answered in timeline if answered == status]
    let_through = [arrived for arrived, _, _, _, answered in timeline if answered != status]
    assert refused, "the limiter refused some requests: the crawl met it"
    assert len(refused) / len(timeline) <= MOST_REFUSED, (len(refused), len(timeline))
    assert f"'{THROTTLE_DECREASES}'" in result.log

    # The pace over the second half of the crawl, once the throttle has found the rate;
    # over a span, the limiter lets through no more than its rate and its burst.
    half = let_through[len(let_through) // 2 :]
    span = half[-1] - half[0]
    pace = (len(half) - 1) / span
    assert LEAST_PACE * RATE <= pace <= RATE + limit.burst / span, (pace, span)
