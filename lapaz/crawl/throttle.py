"""The pace of new requests to a server: slower at once when it refuses, faster while it answers.

What limits the load is `CONCURRENT_REQUESTS_PER_DOMAIN` requests in flight. That is not
enough against a server behind a request-rate limiter (nginx's `limit_req`): it answers a
request beyond its rate at once, with 503 (or 429) and no Retry-After, so the places in
flight come back in a millisecond and the crawl asks faster the more it is refused. Here
the time between new requests to a server (the download slot's delay) is set as TCP sets
its window: when failures across URLs pass what the server shows anyway, the pace drops
at once to a fraction of the pace it was answering well at (multiplicative decrease),
comes back quickly to just under that pace while answers are good, then creeps up
(additive increase: `increase` of that pace a second, every second).

A failure of one URL is not a failure of the server: failures are counted once per URL
among the last answers (a page that always answers 500 counts once however often it is
retried; its retries are the scheduler's, soon and few). And some servers fail a share
of their pages whatever the pace. So a decrease is judged: once the answers to the
requests sent while a limiter's bucket was still full are in, a limiter refuses nothing
below its rate. Failures that go on at the slower pace may still be a limiter's (the
pace of good answers the decrease was measured from counted its burst): the pace drops
again, to just under the good answers since. If they go on after that too, they are not
about the pace: the pace it had before is given back, and that share becomes the
server's usual one, tolerated from then on.

A server's Retry-After still wins: it sets how long its request waits (lapaz.crawl.retries).
"""

import logging
from collections import deque
from dataclasses import dataclass, field
from time import monotonic

from scrapy import signals
from scrapy.exceptions import NotConfigured

from lapaz.crawl.statkeys import (
    THROTTLE_DECREASES,
    THROTTLE_DELAY,
    THROTTLE_FAILURES,
    THROTTLE_RESTORED,
    THROTTLE_USUAL_FAILURE_SHARE,
)

logger = logging.getLogger(__name__)

# Answers that say the server is refusing or failing (what RETRY_HTTP_CODES retries, 408 aside).
FAILURE_STATUSES = frozenset({429, 500, 502, 503, 504, 522, 524})
# The good answers of this many seconds give the pace the server was answering well at;
# early in a crawl, those since its first answer, over no less than the shortest span.
ANSWERED_SPAN = 1.0
SHORTEST_SPAN = 0.25
# A decrease is judged after a window of answers, or after this many seconds at a slow pace.
LONGEST_PROBE = 3.0
# Good answers since a decrease that measure a pace.
FEWEST_GOOD = 5
# The pace after a decrease (requests a second) when no answer has been good yet.
NO_PACE_YET = 1.0
# Answers before the window that show the share of pages failing whatever the pace.
OLDER_ANSWERS = 100
# Up to the pace to recover, each good answer raises the pace by this factor.
QUICK_RECOVERY = 1.05


@dataclass
class PaceController:
    """The pace of one server, fed its answers in order. Pure: times are given.

    window: answers over which failures are counted (one per URL).
    margin: share of failures beyond the server's usual one that calls for a decrease.
    decrease: the pace after a decrease, as a share of the pace of good answers.
    increase: share of the pace to recover gained every second of good answers (at a
        limiter's rate of 4 requests a second as carefully as at 20).
    min_delay, max_delay: bounds of the time between new requests.
    usual_max: a failure share above this is trouble, never the server's usual one.
    """

    window: int = 20
    margin: float = 0.10
    decrease: float = 0.8
    increase: float = 0.05
    min_delay: float = 0.001
    max_delay: float = 5.0
    usual_max: float = 0.5
    delay: float = 0.0
    usual_share: float = 0.0
    # The pace regained at once after a decrease (requests a second).
    recover_rate: float = 0.0
    answered_well: bool = False
    decreases: int = 0
    restored: int = 0
    # The moment of the last decrease: answers to requests sent before it say nothing of it.
    decreased_at: float = float("-inf")
    first_answer_at: float | None = None
    _recent: deque = field(default_factory=deque, repr=False)
    # Whether each of the answers before the window failed: the share that fails anyway.
    _older: deque = field(default_factory=deque, repr=False)
    _good_times: deque = field(default_factory=deque, repr=False)
    # While judging a decrease: what the pace was before slowing down, and how it went since.
    _probe: "Probe | None" = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.delay = max(self.delay, self.min_delay)
        self._recent = deque(maxlen=self.window)
        self._older = deque(maxlen=OLDER_ANSWERS)

    def tolerated(self, answers: int) -> float:
        """Failing URLs among `answers` that the server's usual share explains.

        Beyond its usual share by the margin, and by chance: failing pages come in
        clusters now and then (2.3 standard deviations: 1 % of windows).
        """
        usual = max(self.usual_share, 0.02)
        chance = 2.33 * (answers * usual * (1.0 - usual)) ** 0.5
        return answers * self.usual_share + max(answers * self.margin, chance)

    def paced(self, good_rate: float) -> float:
        """The pace of requests that the rate of good answers shows, with the share of
        answers that failed before the window (pages that fail whatever the pace)."""
        if len(self._older) < self.window:
            return good_rate
        failing_anyway = min(sum(self._older) / len(self._older), self.usual_max)
        return good_rate / (1.0 - failing_anyway)

    def failing_urls(self) -> int:
        return len({url for url in self._recent if url is not None})

    def answered(self, url: str, failed: bool, sent_at: float, now: float) -> float:
        """Feeds one answer; returns the delay between new requests from now on."""
        if self.first_answer_at is None:
            self.first_answer_at = now
        if not failed:
            self._good_times.append(now)
            self.answered_well = True
        while self._good_times and self._good_times[0] < now - ANSWERED_SPAN:
            self._good_times.popleft()
        if sent_at < self.decreased_at:
            return self.delay
        if len(self._recent) == self.window:
            self._older.append(self._recent[0] is not None)
        self._recent.append(url if failed else None)
        if self._probe is not None:
            self._judge_decrease(failed, now)
        elif (
            failed
            and len(self._recent) >= self.window // 2
            and self.failing_urls() > self.tolerated(self.window)
        ):
            self._decrease(now)
        elif not failed:
            rate = 1.0 / self.delay
            if not self.recover_rate or rate * QUICK_RECOVERY <= self.recover_rate:
                # Back quickly to just under the pace the server answered well at when
                # the failures began (or, not knowing it, as TCP's slow start): failing
                # pages now and then look like a limiter's refusals at first, and a
                # slowdown for them must not last.
                rate *= QUICK_RECOVERY
            else:
                # One answer of a second's worth at this pace.
                rate += self.increase * max(self.recover_rate, 1.0) / rate
            self.delay = max(self.min_delay, 1.0 / rate)
        return self.delay

    def _decrease(self, now: float, followed: "Probe | None" = None) -> None:
        if followed is None:
            span = min(max(now - self.first_answer_at, SHORTEST_SPAN), ANSWERED_SPAN)
            answered_rate = self.paced(len(self._good_times) / span)
            if answered_rate:
                # The good answers of the last second lag behind a pace just regained.
                answered_rate = max(answered_rate, min(1.0 / self.delay, self.recover_rate))
                # Never below the pace regained after an earlier decrease: failing pages
                # now and then must not drive the pace down one slowdown after another.
                self.recover_rate = max(self.recover_rate, (1.0 - self.margin) * answered_rate)
            else:
                # No good answer to measure a pace by: slower than the pace it had (only
                # the retries of failing pages are left, or a server fails everything),
                # or, when none ever came, about one request a second.
                answered_rate = 1.0 / self.delay if self.answered_well else NO_PACE_YET
            rate = self.decrease * answered_rate
            self._probe = Probe(self.delay, self.recover_rate)
        else:
            # Again after a decrease that did not cure: if the pace is still over a
            # limiter's rate, the rate of good answers since is that rate. Just under it.
            span = max(now - followed.first_answer_at, SHORTEST_SPAN)
            answers = len(followed.failed)
            good_rate = (answers - 1) / span * followed.failed.count(False) / answers
            rate = self.recover_rate = (1.0 - self.margin) * self.paced(good_rate)
            self._probe = Probe(followed.before_delay, followed.before_recover, followed=True)
        rate = max(rate, 1.0 / self.max_delay)
        self.delay = max(self.delay, 1.0 / rate)
        self.decreases += 1
        self.decreased_at = now
        self._recent.clear()

    def _judge_decrease(self, failed: bool, now: float) -> None:
        """After a window of answers at the slower pace: did it cure the failures?"""
        probe = self._probe
        if probe.first_answer_at is None:
            probe.first_answer_at = now
        probe.failed.append(failed)
        answers = len(probe.failed)
        if answers < self.window and now - self.decreased_at < LONGEST_PROBE:
            return
        self._probe = None
        # Cured: over the later two thirds of the answers since, no more failures than the
        # server's usual share. A limiter refuses nothing below its rate, once the
        # requests sent while its bucket was still full have had their answer; pages
        # that fail whatever the pace go on failing.
        later = probe.failed[len(probe.failed) // 3 :]
        if sum(later) <= self.usual_share * len(later):
            if probe.followed and self.usual_share:
                # On a server known to fail pages anyway, a cluster of them is the likelier
                # cause than a limiter: the pace regained quickly is the one from before.
                self.recover_rate = probe.before_recover
            return
        share = self.failing_urls() / answers
        # Trouble, not a share to tolerate; or too few good answers to measure a pace by
        # (the retries of failing pages, at the end of a crawl): the next failures slow
        # it down again, as any failures would.
        if share > self.usual_max or probe.failed.count(False) < FEWEST_GOOD:
            return
        if not probe.followed:
            # Perhaps a limiter whose rate is below this pace still: the pace it was
            # measured from counted the limiter's burst. Slower again, to just under the
            # pace of good answers since, and judged again.
            self._decrease(now, followed=probe)
            return
        # Twice slower, the failures go on: they are not about the pace. The pace is
        # given back, and this share is the usual one.
        self.usual_share = max(self.usual_share, share)
        self.delay = probe.before_delay
        self.recover_rate = probe.before_recover
        self.restored += 1


@dataclass
class Probe:
    """A decrease being judged: the delay before the first of its decreases and the pace to
    recover as that one left it, whether it follows one, and the answers since (when the
    first came, whether each failed)."""

    before_delay: float
    before_recover: float
    followed: bool = False
    first_answer_at: float | None = None
    failed: list[bool] = field(default_factory=list)


class AdaptiveThrottle:
    """Sets each download slot's delay from its answers (see PaceController).

    Its state is in the stats: `lapaz/throttle/delay` (seconds, of the slot last changed),
    `decreases`, `restored` (decreases given back), `failures` (answers counted as failed)
    and `usual_failure_share`.
    """

    def __init__(self, crawler):
        settings = crawler.settings
        if not settings.getbool("LAPAZ_THROTTLE_ENABLED"):
            raise NotConfigured
        self.crawler = crawler
        self.stats = crawler.stats
        self.settings = {
            "window": settings.getint("LAPAZ_THROTTLE_WINDOW"),
            "margin": settings.getfloat("LAPAZ_THROTTLE_MARGIN"),
            "decrease": settings.getfloat("LAPAZ_THROTTLE_DECREASE"),
            "increase": settings.getfloat("LAPAZ_THROTTLE_INCREASE"),
            "min_delay": settings.getfloat("DOWNLOAD_DELAY"),
            "max_delay": settings.getfloat("LAPAZ_THROTTLE_MAX_DELAY"),
        }
        self.controllers: dict[str, PaceController] = {}
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def response_downloaded(self, response, request, spider) -> None:
        key = request.meta.get("download_slot")
        latency = request.meta.get("download_latency")
        slot = self.crawler.engine.downloader.slots.get(key)
        if slot is None or latency is None:
            return
        controller = self.controllers.get(key)
        if controller is None:
            controller = self.controllers[key] = PaceController(**self.settings)
        failed = response.status in FAILURE_STATUSES
        if failed:
            self.stats.inc_value(THROTTLE_FAILURES)
        now = monotonic()
        before = (controller.decreases, controller.restored, slot.delay)
        slot.delay = controller.answered(request.url, failed, now - latency, now)
        if before != (controller.decreases, controller.restored, slot.delay):
            self._note(controller, slot.delay)
        if before[:2] != (controller.decreases, controller.restored):
            logger.debug(
                "Pace of %s: %.3f s between new requests (%d decreases, %d given back)",
                key,
                slot.delay,
                controller.decreases,
                controller.restored,
            )

    def _note(self, controller: PaceController, delay: float) -> None:
        self.stats.set_value(THROTTLE_DELAY, round(delay, 4))
        self.stats.set_value(THROTTLE_DECREASES, controller.decreases)
        self.stats.set_value(THROTTLE_RESTORED, controller.restored)
        self.stats.set_value(THROTTLE_USUAL_FAILURE_SHARE, controller.usual_share)
