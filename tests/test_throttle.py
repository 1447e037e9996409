"""The pace controller (lapaz.crawl.throttle) and the replica's rate limiter, without a network.

A small simulation sends requests as Scrapy's downloader does (at most C in flight, a new
one no sooner than the controller's delay after the last) to a server that answers after
a latency, refusals at once; the crawl's end-to-end behaviour is in tests/test_limiter.py.
"""

import heapq
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from lapaz.crawl.throttle import PaceController
from tools.replica import RateLimit
from tools.replica.faults import unit_interval
from tools.replica.limiter import LeakyBucket

REFUSED, FAILED, OK = 503, 500, 200


def test_nginx_bucket_without_burst_admits_one_request_per_interval():
    bucket = LeakyBucket(RateLimit(rate=10, burst=0))
    assert bucket.admit(0.0) == 0.0
    assert bucket.admit(0.05) is None
    # A refused request takes nothing from the bucket.
    assert bucket.admit(0.1) == 0.0
    assert bucket.admit(0.2) == 0.0


def test_nginx_bucket_admits_a_burst_then_refuses_until_it_drains():
    bucket = LeakyBucket(RateLimit(rate=10, burst=3))
    assert [bucket.admit(0.0) for _ in range(5)] == [0.0, 0.0, 0.0, 0.0, None]
    assert bucket.admit(0.1) == 0.0
    assert bucket.admit(0.1) is None


def test_nginx_bucket_without_nodelay_holds_the_burst_back():
    bucket = LeakyBucket(RateLimit(rate=10, burst=2, nodelay=False))
    assert [bucket.admit(0.0) for _ in range(4)] == [0.0, pytest.approx(0.1), 0.2, None]


def test_a_rate_limit_is_checked():
    with pytest.raises(ValueError, match="rate above 0"):
        RateLimit(rate=0)
    with pytest.raises(ValueError, match="limit_req_status 500"):
        RateLimit(rate=1, status=500)


@dataclass
class Simulated:
    statuses: Counter
    seconds: float
    delays: list[float]


def simulate(
    answer: Callable[[str, int, float], int],
    urls: int,
    concurrency: int = 4,
    latency: float = 0.05,
    retries: int = 5,
    backoff: float = 0.25,
) -> Simulated:
    """Every URL asked, each retried on a failure; `answer(url, attempt, now)` -> status."""
    controller = PaceController()
    queue = [(0.0, f"u{n}", 0) for n in range(urls)]  # (ready at, url, attempt)
    heapq.heapify(queue)
    answers: list[tuple[float, float, str, int]] = []  # (answered at, sent at, url, attempt)
    now, last_sent, in_flight, delays = 0.0, float("-inf"), 0, []
    statuses = Counter()
    while queue or answers:
        can_send = queue and in_flight < concurrency
        send_at = max(queue[0][0], last_sent + controller.delay) if can_send else float("inf")
        if answers and answers[0][0] <= send_at:
            now, sent_at, url, attempt = heapq.heappop(answers)
            in_flight -= 1
            status = answer(url, attempt, sent_at)
            statuses[status] += 1
            delays.append(controller.answered(url, status != OK, sent_at, now))
            if status != OK and attempt < retries:
                heapq.heappush(queue, (now + backoff * 2**attempt, url, attempt + 1))
            continue
        now = last_sent = send_at
        _, url, attempt = heapq.heappop(queue)
        status = answer(url, attempt, now)
        # Refusals and faults come back at once; pages take the latency.
        heapq.heappush(answers, (now + (latency if status == OK else 0.001), now, url, attempt))
        in_flight += 1
    return Simulated(statuses, now, delays)


def test_against_a_rate_limiter_few_refusals_and_a_pace_near_its_rate():
    limit = RateLimit(rate=8, burst=5)
    bucket = LeakyBucket(limit)
    verdicts: dict[tuple[str, int], int] = {}

    def limiter(url: str, attempt: int, now: float) -> int:
        # Asked once when sent (the verdict), once when answered (the same).
        key = (url, attempt)
        if key not in verdicts:
            verdicts[key] = OK if bucket.admit(now) is not None else REFUSED
        return verdicts[key]

    result = simulate(limiter, urls=600)
    asked = sum(result.statuses.values())
    assert result.statuses[REFUSED] / asked <= 0.10, result.statuses
    assert result.statuses[OK] == 600  # every page, at last
    assert result.statuses[OK] / result.seconds >= 0.7 * limit.rate


def test_pages_that_fail_whatever_the_pace_do_not_slow_the_crawl():
    # The benchmark's bad day: 10% of the pages 503 twice, 1% always 500.
    def bad_day(url: str, attempt: int, now: float) -> int:
        if unit_interval("twice", url) < 0.10 and attempt < 2:
            return REFUSED
        if unit_interval("always", url) < 0.01:
            return FAILED
        return OK

    result = simulate(bad_day, urls=600, latency=0.2)
    # At most C/L = 20 a second: the pace stays there nearly all the time.
    slowed = sum(delay > 1 / 20 for delay in result.delays)
    assert slowed / len(result.delays) < 0.1


def test_one_url_failing_again_and_again_is_not_the_server_failing():
    controller = PaceController()
    for attempt in range(30):
        controller.answered("broken", True, attempt * 0.1, attempt * 0.1 + 0.01)
        controller.answered(f"ok{attempt}", False, attempt * 0.1, attempt * 0.1 + 0.05)
    assert controller.decreases == 0
    assert controller.delay == controller.min_delay


def test_a_refusal_of_a_request_sent_before_the_decrease_does_not_decrease_again():
    controller = PaceController(window=10, margin=0.1)
    for n in range(10):
        controller.answered(f"ok{n}", False, n * 0.01, n * 0.01 + 0.05)
    controller.answered("a", True, 0.5, 0.51)
    controller.answered("b", True, 0.5, 0.52)
    assert controller.decreases == 1
    slower = controller.delay
    assert slower > controller.min_delay
    controller.answered("c", True, 0.5, 0.53)  # in flight when the pace dropped
    assert (controller.decreases, controller.delay) == (1, slower)
