"""A request-rate limiter in front of the replica, as nginx's `limit_req` is.

nginx keeps, per zone, the `excess` of requests over the allowed rate (a leaky bucket that
drains at `rate` a second). A request that would take the excess beyond `burst` is answered
at once with 503 (`limit_req_status`, sometimes 429), no Retry-After, nginx's small HTML
page, and does not reach the site. Within the burst it is served, at once with `nodelay`,
or else held back until the bucket has drained to it.
"""

import threading
from dataclasses import dataclass

from tools.replica.pages import error_page

REASONS = {503: "Service Temporarily Unavailable", 429: "Too Many Requests"}


@dataclass(frozen=True)
class RateLimit:
    """limit_req zone=... rate=`rate`r/s burst=`burst` [nodelay]; limit_req_status `status`."""

    rate: float
    burst: int = 5
    nodelay: bool = True
    status: int = 503

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 0:
            raise ValueError(f"a rate limit needs a rate above 0 and a burst of 0 or more: {self}")
        if self.status not in REASONS:
            raise ValueError(f"limit_req_status {self.status}: use one of {sorted(REASONS)}")

    def refusal_body(self) -> bytes:
        return error_page(self.status, REASONS[self.status])


class LeakyBucket:
    """nginx's accounting for one zone; thread-safe. Times are given, in seconds."""

    def __init__(self, limit: RateLimit):
        self.limit = limit
        self._lock = threading.Lock()
        self._excess = 0.0
        self._last: float | None = None

    def admit(self, now: float) -> float | None:
        """None when the request is refused; else the seconds its answer is held back."""
        with self._lock:
            if self._last is None:
                self._last, self._excess = now, 0.0
                return 0.0
            # What drained since the last request admitted, and this one.
            excess = max(self._excess - self.limit.rate * (now - self._last) + 1.0, 0.0)
            if excess > self.limit.burst:
                return None
            self._excess, self._last = excess, now
        return 0.0 if self.limit.nodelay else excess / self.limit.rate
