"""The pace of new requests to a server: slower at once when it refuses, faster while it answers.

What limits the load is `CONCURRENT_REQUESTS_PER_DOMAIN` requests in flight. That is not
enough against a server behind a request-rate limiter (nginx's `limit_req`): it answers a
request beyond its rate at once, with 503 (or 429) and no Retry-After, so the places in
flight come back in a millisecond and the crawl asks faster the more it is refused. Here
the time between new requests to a server (the download slot's delay) is set as TCP sets
its window: when failures across URLs pass what the server shows anyway, the pace drops
at once to a fraction of the pace it was answering well (multiplicative decrease), then
creeps back up while answers are good (additive increase, `increase` requests a second
every second).

A failure of one URL is not a failure of the server: failures are counted once per URL
among the last answers (a page that always answers 500 counts once however often it is
retried; its retries are the scheduler's, soon and few). And some servers fail a share
of their pages whatever the pace: after a decrease the controller watches whether the
slower pace cured the failures; if not, they are not about the pace, the pace it had is
given back, and that share becomes the server's usual one, tolerated from then on.

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


@dataclass
class PaceController:
    """The pace of one server, fed its answers in order. Pure: times are given.

    window: answers over which failures are counted (one per URL).
    margin: share of failures beyond the server's usual one that calls for a decrease.
    decrease: the pace after a decrease, as a share of the pace of good answers.
    increase: requests a second gained every second of good answers.
    min_delay, max_delay: bounds of the time between new requests.
    usual_max: a failure share above this is trouble, never the server's usual one.
    """

    window: int = 20
    margin: float = 0.15
    decrease: float = 0.7
    increase: float = 1.0
    min_delay: float = 0.001
    max_delay: float = 5.0
    usual_max: float = 0.5
    delay: float = 0.0
    usual_share: float = 0.0
    decreases: int = 0
    restored: int = 0
    # The moment of the last decrease: answers to requests sent before it say nothing of it.
    decreased_at: float = float("-inf")
    first_answer_at: float | None = None
    _recent: deque = field(default_factory=deque, repr=False)
    _good_times: deque = field(default_factory=deque, repr=False)
    # While judging a decrease: [the delay before it, answers since].
    _probe: list | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.delay = max(self.delay, self.min_delay)
        self._recent = deque(maxlen=self.window)

    def failing_urls(self) -> int:
        return len({url for url in self._recent if url is not None})

    def answered(self, url: str, failed: bool, sent_at: float, now: float) -> float:
        """Feeds one answer; returns the delay between new requests from now on."""
        if self.first_answer_at is None:
            self.first_answer_at = now
        if not failed:
            self._good_times.append(now)
        while self._good_times and self._good_times[0] < now - ANSWERED_SPAN:
            self._good_times.popleft()
        if sent_at < self.decreased_at:
            return self.delay
        self._recent.append(url if failed else None)
        if self._probe is not None:
            self._judge_decrease(now)
        elif failed and self.failing_urls() > (self.usual_share + self.margin) * self.window:
            self._decrease(now)
        elif not failed:
            # One answer of a second's worth at this pace: `increase` a second per second.
            rate = 1.0 / self.delay
            self.delay = max(self.min_delay, 1.0 / (rate + self.increase / rate))
        return self.delay

    def _decrease(self, now: float) -> None:
        span = min(max(now - self.first_answer_at, SHORTEST_SPAN), ANSWERED_SPAN)
        answered_rate = len(self._good_times) / span
        rate = max(self.decrease * answered_rate, 1.0 / self.max_delay)
        self._probe = [self.delay, 0]
        self.delay = max(self.delay, 1.0 / rate)
        self.decreases += 1
        self.decreased_at = now
        self._recent.clear()

    def _judge_decrease(self, now: float) -> None:
        """After a window of answers at the slower pace: did it cure the failures?"""
        self._probe[1] += 1
        before_delay, answers = self._probe
        if answers < self.window and now - self.decreased_at < LONGEST_PROBE:
            return
        self._probe = None
        failing = self.failing_urls()
        # Cured: the failures fell to half the server's usual share or less. A limiter
        # stops refusing altogether below its rate; a share of failing pages goes on.
        if failing <= self.usual_share * answers / 2:
            return
        share = failing / answers
        if share <= self.usual_max:
            # Not about the pace: the pace is given back, and this share is the usual one.
            self.usual_share = share
            self.delay = before_delay
            self.restored += 1


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
