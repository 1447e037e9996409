"""The pace controller (lapaz.crawl.throttle) and the replica's rate limiter, without a network.

A small simulation sends requests as Scrapy's downloader does (at most C in flight, a new
one no sooner than the controller's delay after the last) to a server that answers after
a latency, refusals at once; the crawl's end-to-end behaviour is in tests/test_limiter.py.
"""

import heapq
from collections import Counter, deque
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
    """Every URL asked, each retried on a failure; `answer(url, attempt, now)` -> status.

    As the project's scheduler does, a retry waits its backoff, then goes before the pages
    not asked yet (RETRY_PRIORITY_ADJUST).
    """
    controller = PaceController()
    fresh = deque(f"u{n}" for n in range(urls))
    waiting: list[tuple[float, str, int]] = []  # retries: (ready at, url, attempt)
    answers: list[tuple[float, float, str, int]] = []  # (answered at, sent at, url, attempt)
    now, last_sent, in_flight, delays = 0.0, float("-inf"), 0, []
    statuses = Counter()
    while fresh or waiting or answers:
        send_at = float("inf")
        if in_flight < concurrency and (fresh or waiting):
            ready = 0.0 if fresh else waiting[0][0]
            send_at = max(now, ready, last_sent + controller.delay)
        if answers and answers[0][0] <= send_at:
            now, sent_at, url, attempt = heapq.heappop(answers)
            in_flight -= 1
            status = answer(url, attempt, sent_at)
            statuses[status] += 1
            delays.append(controller.answered(url, status != OK, sent_at, now))
            if status != OK and attempt < retries:
                heapq.heappush(waiting, (now + backoff * 2**attempt, url, attempt + 1))
            continue
        now = last_sent = send_at
        if waiting and waiting[0][0] <= now:
            _, url, attempt = heapq.heappop(waiting)
        else:
            url, attempt = fresh.popleft(), 0
        status = answer(url, attempt, now)
        # Refusals and faults come back at once; pages take the latency.
        heapq.heappush(answers, (now + (latency if status == OK else 0.001), now, url, attempt))
        in_flight += 1
    return Simulated(statuses, now, delays)


@pytest.mark.parametrize("rate", [4, 8, 20])
@pytest.mark.parametrize("latency", [0.02, 0.2])
def test_against_a_rate_limiter_few_refusals_and_a_pace_near_its_rate(rate, latency):
    limit = RateLimit(rate=rate, burst=5)
    bucket = LeakyBucket(limit)
    verdicts: dict[tuple[str, int], int] = {}

    def limiter(url: str, attempt: int, now: float) -> int:
        # Asked once when sent (the verdict), once when answered (the same).
        key = (url, attempt)
        if key not in verdicts:
            verdicts[key] = OK if bucket.admit(now) is not None else REFUSED
        return verdicts[key]

    result = simulate(limiter, urls=600, latency=latency)
    asked = sum(result.statuses.values())
    assert result.statuses[REFUSED] / asked <= 0.10, result.statuses
    assert result.statuses[OK] == 600  # every page, at last
    assert result.statuses[OK] / result.seconds >= 0.9 * min(limit.rate, 4 / latency)


def test_pages_that_fail_whatever_the_pace_slow_the_crawl_little():
    # The benchmark's bad day (10% of the pages 503 twice, 1% always 500), on eight sites
    # whose failing pages fall differently: now and then they come in a cluster that looks
    # like a limiter's refusals, and the crawl slows down for a while.
    def bad_day(site: int):
        def answer(url: str, attempt: int, now: float) -> int:
            if unit_interval(f"twice{site}", url) < 0.10 and attempt < 2:
                return REFUSED
            if unit_interval(f"always{site}", url) < 0.01:
                return FAILED
            return OK

        return answer

    at_full_pace = 600 / (4 / 0.2)  # C/L = 20 pages a second
    seconds = sorted(simulate(bad_day(site), urls=600, latency=0.2).seconds for site in range(8))
    # The retries of the pages that always fail end the crawl up to 7.75 s after the rest.
    assert seconds[len(seconds) // 2] <= 1.25 * at_full_pace + 7.75, seconds
    assert seconds[-2] <= 1.5 * at_full_pace + 7.75, seconds


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


def feed(
    controller: PaceController, start: float, answers: int, failing: set[int], gap: float = 0.01
) -> float:
    """`answers` answers `gap` apart, sent after `start`; those numbered in `failing` fail."""
    now = start
    for n in range(answers):
        now += gap
        controller.answered(f"{start}-{n}", n in failing, now - gap / 2, now)
    return now


def test_a_decrease_that_does_not_cure_is_followed_by_one_under_the_good_answers():
    controller = PaceController(window=20, margin=0.1)
    now = feed(controller, 0.0, 20, failing=set())
    before = controller.delay
    now = feed(controller, now, 3, failing={0, 1, 2})
    assert controller.decreases == 1
    first = controller.delay
    # Failures go on at the slower pace (a limiter still over its rate; the pace of good
    # answers it was measured from counted its burst): slower again, under those since.
    now = feed(controller, now, 20, failing={11, 15, 19})
    assert (controller.decreases, controller.restored) == (2, 0)
    assert controller.delay > first
    assert 1 / controller.delay < 17 / 20 / 0.01
    slower = controller.delay
    # Then none: cured, and the pace stays near where it cured them, creeping up.
    feed(controller, now, 20, failing=set())
    assert (controller.decreases, controller.restored) == (2, 0)
    assert before < controller.delay <= slower


def test_failures_that_a_slower_pace_does_not_cure_are_the_servers_usual_share():
    controller = PaceController(window=20, margin=0.1)
    now = feed(controller, 0.0, 20, failing=set())
    before = controller.delay
    now = feed(controller, now, 3, failing={0, 1, 2})
    now = feed(controller, now, 20, failing={0, 10, 18})
    assert (controller.decreases, controller.restored) == (2, 0)
    now = feed(controller, now, 20, failing={3, 12, 17})
    # Twice slower, the failures go on: not about the pace. The first pace is given back.
    assert (controller.decreases, controller.restored) == (2, 1)
    assert controller.delay == before
    assert controller.usual_share == pytest.approx(0.15)
    # From then on that share is tolerated.
    feed(controller, now, 40, failing={5, 11, 19, 25, 31, 39})
    assert controller.decreases == 2


def test_after_a_cured_decrease_the_pace_comes_back_quickly_then_slowly():
    controller = PaceController(window=20, margin=0.1)
    # A second of good answers at 50 a second, then three refusals.
    now = feed(controller, 0.0, 50, failing=set(), gap=0.02)
    now = feed(controller, now, 3, failing={0, 1, 2}, gap=0.001)
    assert controller.decreases == 1
    assert 1 / controller.delay == pytest.approx(0.8 * 50, rel=0.1)
    now = feed(controller, now, 20, failing=set(), gap=controller.delay)
    # Quickly back to just under the pace answered well at (0.9 of it)...
    now = feed(controller, now, 10, failing=set(), gap=controller.delay)
    assert 1 / controller.delay == pytest.approx(0.9 * 50, rel=0.1)
    # ...then slowly: 5 % of it a second.
    rate = 1 / controller.delay
    feed(controller, now, 45, failing=set(), gap=1 / 45)
    assert 1 / controller.delay == pytest.approx(rate + 0.05 * 45, rel=0.1)


def test_a_server_that_never_answered_well_is_asked_about_once_a_second():
    controller = PaceController()
    # Not judged on its first few answers: half a window at least.
    for n in range(9):
        controller.answered(f"u{n}", True, 0.0, 0.001 * (n + 1))
    assert controller.decreases == 0
    controller.answered("u9", True, 0.0, 0.01)
    assert controller.decreases == 1
    assert controller.delay == pytest.approx(1 / 0.8)
    # Once it answers well (the first answer, 3 s on, ends the judging of the decrease),
    # the pace grows as in TCP's slow start: 5 % an answer.
    now = feed(controller, 2.0, 1, failing=set(), gap=1.25)
    assert controller.delay == pytest.approx(1 / 0.8)
    feed(controller, now, 20, failing=set(), gap=1.25)
    assert 1 / controller.delay == pytest.approx(0.8 * 1.05**20, rel=0.01)
