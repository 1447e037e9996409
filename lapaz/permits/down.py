"""Noticing that the permit-page server is down: it fails every try, for long enough.
Pure logic, fed by the crawl with the times of its answers. The pace of the crawl slows
down to a request every few seconds against a failing server (lapaz.crawl.throttle), so
without this a server that fails everything would be asked for hours.
"""

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class PageServerWatch:
    """Fed every try at a permit page, in order: an answer that is no failure (any but
    5xx or 429: a page, the refusal page) or a failed try (those answers, a timeout, a
    lost connection), with its time in seconds.

    The server is down when no try went well for `after` seconds since the first failure
    after the last good answer, and at least `min_failures` tries failed in that time.
    """

    after: float = 60.0
    min_failures: int = 10
    # When the failing began (the first failure since the last good answer), if it did.
    failing_since: float | None = field(default=None, init=False)
    # The reasons of the failed tries since then (`http_503`, `TimeoutError`...).
    reasons: Counter = field(default_factory=Counter, init=False)

    def answered(self) -> None:
        self.failing_since = None
        self.reasons.clear()

    def failed(self, reason: str, now: float) -> None:
        if self.failing_since is None:
            self.failing_since = now
        self.reasons[reason] += 1

    @property
    def failures(self) -> int:
        return self.reasons.total()

    def is_down(self, now: float) -> bool:
        return (
            self.failing_since is not None
            and self.failures >= self.min_failures
            and now - self.failing_since >= self.after
        )

    def describe_reasons(self) -> str:
        """The reasons of the failures, the most frequent first: `http_503 (12)`."""
        return ", ".join(f"{reason} ({count})" for reason, count in self.reasons.most_common())
