"""The state of one crawl, created once by the spider and handed to whoever needs it.

The spider fills it as answers arrive; the writer pipeline writes through its store; the
progress extension, the closing summary and the `crawl` command read it. Its counts are
mirrored in Scrapy's stats (under the keys of lapaz.crawl.statkeys) for the stats dump,
Scrapyd and the periodic progress line.
"""

from dataclasses import dataclass, field

from lapaz.crawl import statkeys
from lapaz.storage.store import DataStore


@dataclass
class Harvest:
    store: DataStore
    # The crawler, for its stats: the spider makes the harvest before the crawler has
    # made its stats collector.
    crawler: object
    number_matched: int | None = None
    # The number of features a complete harvest has, once known (the limit applied).
    expected: int | None = None
    feature_ids: set = field(default_factory=set)
    features_received: int = 0
    failed_wfs_pages: list[str] = field(default_factory=list)
    passes: int = 1
    # Set when the crawl is judged at its end: every feature the server counted arrived.
    complete: bool = False
    problems: list[str] = field(default_factory=list)
    # Why the crawl stopped asking for permit pages, when it did (a changed site, a
    # robots.txt that forbids them): the run then fails, whatever the WFS harvest.
    pages_stopped: str | None = None
    # Why the WFS layer no longer looks as expected (renamed properties), when it does.
    layer_changed: str | None = None
    # One line per monitor that failed (lapaz.crawl.extensions.monitors), set when the
    # spider closes.
    monitor_failures: list[str] = field(default_factory=list)
    monitors_run: int = 0

    @property
    def succeeded(self) -> bool:
        """What the exit status says: a complete harvest, every wanted page asked for,
        and every monitor passed."""
        return (
            self.complete
            and self.pages_stopped is None
            and self.layer_changed is None
            and not self.monitor_failures
        )

    def verdict(self, finish_reason: str) -> str | None:
        """The one line a failed run ends on (None for a run that succeeded)."""
        if self.layer_changed is not None:
            return self.layer_changed
        if not self.complete:
            problems = self.problems or [f"the crawl ended early ({finish_reason})"]
            return "The WFS harvest is incomplete: " + "; ".join(problems)
        if self.pages_stopped is not None:
            return self.pages_stopped
        if self.monitor_failures:
            return "The harvest's checks failed: " + "; ".join(self.monitor_failures)
        return None

    @property
    def stats(self):
        return self.crawler.stats

    def count(self, key: str, amount: int = 1) -> None:
        self.stats.inc_value(key, amount)

    def figure(self, key: str) -> int:
        return self.stats.get_value(key, 0)

    def note_number_matched(self, number_matched: int, expected: int | None) -> None:
        # The latest count: a layer that changes while it is paged is judged as it is now.
        self.number_matched = number_matched
        self.expected = expected
        self.stats.set_value(statkeys.WFS_NUMBER_MATCHED, number_matched)

    def receive_feature(self, key: object) -> bool:
        """Count a feature in; False for one already received (unstable paging)."""
        if key is not None:
            if key in self.feature_ids:
                self.count(statkeys.WFS_DUPLICATE_FEATURES)
                return False
            self.feature_ids.add(key)
        self.features_received += 1
        self.count(statkeys.WFS_FEATURES)
        return True

    def fail_wfs_page(self, description: str) -> None:
        self.count(statkeys.WFS_PAGES_FAILED)
        self.failed_wfs_pages.append(description)

    @property
    def short(self) -> bool:
        return self.expected is not None and self.features_received < self.expected

    def judge(self) -> bool:
        """Whether the WFS harvest is complete; what is missing goes to `problems`."""
        self.problems = list(self.failed_wfs_pages)
        if self.layer_changed is not None:
            self.problems.append(self.layer_changed)
        if self.short:
            self.problems.append(
                f"received {self.features_received} features of the {self.expected}"
                " the server matched"
            )
        self.complete = not self.problems
        self.stats.set_value(statkeys.HARVEST_COMPLETE, self.complete)
        return self.complete
