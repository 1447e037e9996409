"""The state of one crawl, and its one verdict.

`CrawlState` is an extension (reach it with `crawler.get_extension(CrawlState)`): the
spider feeds it what the WFS layer answers, the data folder's pipeline what it writes and
what the folder held before. When the spider closes, it judges once into a frozen
`Verdict`, which everything after reads: the pipeline (whether to commit the harvest),
the monitors and their notifications, the closing summary, the run history and the exit
status of `scrapy crawl`. Its one change after: a harvest judged complete that the data
folder could not take fails the run (`not_written`), before the run history and the
command read it.

The dataset is judged, not this run's sample: a page that failed last run and fails again
is a persisting failure (reported, never by itself a failure of the run); shares of
outcomes are judged on the new failures against every wanted page, or on this run's pages
only when enough were asked.
"""

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from scrapy import signals

from lapaz.crawl import messages
from lapaz.crawl.statkeys import (
    LAYER_CHANGED,
    PAGES_PERSISTING,
    PAGES_SKIPPED_DONE,
    TRAMITES_NEW,
    WFS_DUPLICATE_FEATURES,
    WFS_FEATURES,
    WFS_NUMBER_MATCHED,
    WFS_PAGES_FAILED,
    key_coverage_key,
    outcome_key,
)
from lapaz.layer.guard import fingerprint_changes, note_property_types
from lapaz.records.schema import PageOutcome
from lapaz.storage.previous import LayerRecord, PageFailure, PreviousHarvest

# Outcomes of the pages asked in this run, in the order they are reported.
ASKED = (PageOutcome.OK, PageOutcome.REFUSED, PageOutcome.NO_SECTIONS, PageOutcome.FAILED)


class Failure:
    """Why a run fails (the verdict's `reason`), from the gravest."""

    LAYER_CHANGED = "layer_changed"
    INCOMPLETE = "wfs_incomplete"
    LAYER_SHRANK = "layer_shrank"
    PAGES_STOPPED = "pages_stopped"
    CHECKS = "checks_failed"
    # Judged complete, but the data folder could not take the harvest (a full disk).
    NOT_WRITTEN = "not_written"


@dataclass(frozen=True)
class Verdict:
    """How a crawl ended, judged once when its spider closed. Plain fields only."""

    # The layer's harvest is complete: it replaced tramites.jsonl (the folder committed).
    complete: bool
    # Why the run failed (a Failure value), and the one line a person reads; None if not.
    reason: str | None
    line: str | None
    exit_code: int
    finish_reason: str
    features_received: int
    features_matched: int | None
    # Pages of this run by outcome (PageOutcome values; every outcome present).
    pages: dict[str, int]
    new_failures: int
    # Pages that failed in an earlier run and failed again (lapaz.storage.previous).
    persisting: tuple[PageFailure, ...]
    # Wanted pages with a record in the dataset after this run (asked, done, unaskable).
    pages_wanted: int
    # Worth a person's look, no failure (no new permit for weeks).
    warnings: tuple[str, ...]
    # Each check that failed, one line each (the `line` joins them when reason is CHECKS).
    problems: tuple[str, ...]
    # The layer's property names -> the JSON types of their values.
    fingerprint: dict[str, list[str]]

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0


@dataclass
class CrawlState:
    """The crawl's figures as they arrive; `judge()` makes them a Verdict (see the module)."""

    crawler: object
    number_matched: int | None = None
    # The number of features a complete harvest has, once known (the limit applied).
    expected: int | None = None
    feature_ids: set = field(default_factory=set)
    features_received: int = 0
    failed_wfs_pages: list[str] = field(default_factory=list)
    passes: int = 1
    # The spider found nothing more to ask: the crawl ran to its end.
    ended: bool = False
    # Why the crawl stopped asking for permit pages, when it did.
    pages_stopped: str | None = None
    # They stopped because the page server seems down: its retries are dropped too.
    page_server_down: bool = False
    # Why the WFS layer no longer looks as expected, when it does.
    layer_changed: str | None = None
    # Whether this crawl harvests the whole layer (no filter, no limit): only then is a
    # complete harvest kept in historial/ and the layer's size and fingerprint judged.
    whole_layer: bool = True
    previous: PreviousHarvest = field(default_factory=PreviousHarvest)
    failures: list[PageFailure] = field(default_factory=list)
    property_types: dict[str, set[str]] = field(default_factory=dict)
    verdict: Verdict | None = None

    @classmethod
    def from_crawler(cls, crawler):
        state = cls(crawler)
        crawler.signals.connect(state.spider_closed, signal=signals.spider_closed)
        return state

    @property
    def stats(self):
        return self.crawler.stats

    @property
    def settings(self):
        return self.crawler.settings

    def count(self, key: str, amount: int = 1) -> None:
        self.stats.inc_value(key, amount)

    def figure(self, key: str) -> int:
        return self.stats.get_value(key, 0)

    # What the spider tells

    def note_number_matched(self, number_matched: int, expected: int | None) -> None:
        # The latest count: a layer that changes while it is paged is judged as it is now.
        self.number_matched = number_matched
        self.expected = expected
        self.stats.set_value(WFS_NUMBER_MATCHED, number_matched)

    def receive_feature(self, key: object, properties: dict) -> bool:
        """Count a feature in; False for one already received (unstable paging)."""
        if key is not None:
            if key in self.feature_ids:
                self.count(WFS_DUPLICATE_FEATURES)
                return False
            self.feature_ids.add(key)
        note_property_types(properties, self.property_types)
        self.features_received += 1
        self.count(WFS_FEATURES)
        return True

    def fail_wfs_page(self, description: str) -> None:
        if description in self.failed_wfs_pages:
            return  # an unreachable server is said once, whatever the pages
        self.count(WFS_PAGES_FAILED)
        self.failed_wfs_pages.append(description)

    def stop_pages(self, line: str, server_down: bool = False) -> bool:
        """Ask for no more permit pages; False when they were stopped already.
        server_down: the page server seems down (lapaz.permits.down), so that the retries
        of its failed pages are not sent either."""
        if self.pages_stopped is not None:
            return False
        self.pages_stopped = line
        self.page_server_down = server_down
        return True

    def change_layer(self, line: str) -> None:
        self.layer_changed = line
        self.stats.set_value(LAYER_CHANGED, line)

    @property
    def short(self) -> bool:
        return self.expected is not None and self.features_received < self.expected

    # What the data folder's pipeline tells

    def note_page(self, record: dict) -> None:
        """Count a page record written, by its outcome; a failure, since when it fails."""
        outcome = PageOutcome.of_error(record.get("error"))
        self.count(outcome_key(outcome))
        if outcome is PageOutcome.OK:
            for key in self.settings.getlist("LAPAZ_MONITOR_PAGE_KEYS"):
                if record.get(key):
                    self.count(key_coverage_key(key))
        elif outcome is PageOutcome.FAILED and record.get("identificador"):
            failure = self.previous.failure(record, record.get("fecha_consulta") or _now())
            self.failures.append(failure)
            if failure.persisting:
                self.count(PAGES_PERSISTING)

    # The judgement

    def spider_closed(self, reason: str) -> None:
        self.judge(reason)

    def judge(self, finish_reason: str) -> Verdict:
        """Judge the crawl, once: the verdict every reader after reads."""
        if self.verdict is not None:
            return self.verdict
        pages = {outcome.value: self.figure(outcome_key(outcome)) for outcome in PageOutcome}
        persisting = tuple(failure for failure in self.failures if failure.persisting)
        new_failures = len(self.failures) - len(persisting)
        wanted = sum(pages.values()) + self.figure(PAGES_SKIPPED_DONE)
        fingerprint = {name: sorted(types) for name, types in self.property_types.items()}
        reason, lines = self._failure(finish_reason, fingerprint)
        problems = () if reason else tuple(self._check_problems(pages, new_failures, wanted))
        if problems:
            reason, lines = Failure.CHECKS, [messages.checks_failed(problems)]
        complete = reason in (None, Failure.PAGES_STOPPED, Failure.CHECKS)
        self.verdict = Verdict(
            complete=complete,
            reason=reason,
            line="; ".join(lines) if lines else None,
            exit_code=0 if reason is None else 1,
            finish_reason=finish_reason,
            features_received=self.features_received,
            features_matched=self.number_matched,
            pages=pages,
            new_failures=new_failures,
            persisting=persisting,
            pages_wanted=wanted,
            warnings=tuple(self._warnings()),
            problems=problems,
            fingerprint=fingerprint,
        )
        return self.verdict

    def not_written(self, line: str) -> Verdict:
        """The harvest judged complete could not be committed: the run fails on `line`.

        The one change to a verdict once judged, made before the readers after the commit
        (the run history, the command) read it.
        """
        self.verdict = replace(
            self.verdict, complete=False, reason=Failure.NOT_WRITTEN, line=line, exit_code=1
        )
        return self.verdict

    def layer_record(self) -> LayerRecord | None:
        """What `capa.json` keeps of a harvest of the whole layer."""
        if not self.whole_layer:
            return None
        return LayerRecord(self.features_received, self.verdict.fingerprint)

    def _failure(self, finish_reason: str, fingerprint: dict) -> tuple[str | None, list[str]]:
        """The gravest reason the run fails, with its line(s); (None, []) if none."""
        if self.layer_changed is not None:
            return Failure.LAYER_CHANGED, [self.layer_changed]
        previous = self.previous.layer
        if self.whole_layer and previous and fingerprint and previous.propiedades:
            changed = fingerprint_changes(previous.propiedades, fingerprint)
            if changed:
                return Failure.LAYER_CHANGED, [messages.fingerprint_changed(changed)]
        problems = list(self.failed_wfs_pages)
        if self.short:
            problems.append(messages.features_short(self.features_received, self.expected))
        if not self.ended and not problems:
            problems.append(messages.ended_early(finish_reason))
        if problems:
            return Failure.INCOMPLETE, [messages.incomplete(problems)]
        shrink = self.settings.getfloat("LAPAZ_MAX_LAYER_SHRINK")
        before = previous.entidades if self.whole_layer and previous else 0
        if self.features_received < before * (1 - shrink):
            line = messages.layer_shrank(self.features_received, before, shrink)
            return Failure.LAYER_SHRANK, [line]
        if self.pages_stopped is not None:
            return Failure.PAGES_STOPPED, [self.pages_stopped]
        return None, []

    def _check_problems(self, pages: dict[str, int], new_failures: int, wanted: int):
        """The bounds on the pages: new failures against every wanted page; the shares of
        this run's outcomes and the page keys' coverage once enough pages were asked."""
        settings = self.settings
        bound = settings.getfloat("LAPAZ_MONITOR_MAX_FAILED_SHARE")
        if wanted and new_failures / wanted > bound:
            yield messages.share_out_of_bounds(new_failures, wanted, "new_failures", "max", bound)
        asked = sum(pages[outcome.value] for outcome in ASKED)
        if asked < settings.getint("LAPAZ_MONITOR_MIN_PAGES"):
            return
        arguments = getattr(self.crawler.spider, "arguments", None)
        only_approved = arguments is None or arguments.only_default_results
        for outcome, kind, name in SHARE_BOUNDS:
            if outcome.finished and not only_approved:
                # The site refuses the pages of permits not approved: normal with `todos`.
                continue
            bound = settings.getfloat(name)
            share = pages[outcome.value] / asked
            if (kind == "min" and share < bound) or (kind == "max" and share > bound):
                yield messages.share_out_of_bounds(pages[outcome], asked, outcome, kind, bound)
        ok = pages[PageOutcome.OK.value]
        minimum = settings.getfloat("LAPAZ_MONITOR_MIN_KEY_COVERAGE")
        for key in settings.getlist("LAPAZ_MONITOR_PAGE_KEYS"):
            count = self.figure(key_coverage_key(key))
            if ok and count / ok < minimum:
                yield messages.coverage_too_low(key, count, ok, minimum)

    def _warnings(self):
        weeks = self.settings.getint("LAPAZ_WARN_NO_NEW_PERMIT_WEEKS")
        last = self.previous.last_new_permit
        quiet = weeks and last and not self.figure(TRAMITES_NEW) and self.whole_layer
        if quiet and datetime.now(UTC) - last > timedelta(weeks=weeks):
            yield messages.no_new_permit_since(last, weeks)


# (outcome, bound kind, setting): the shares of this run's pages that are checked.
SHARE_BOUNDS = (
    (PageOutcome.OK, "min", "LAPAZ_MONITOR_MIN_OK_SHARE"),
    (PageOutcome.REFUSED, "max", "LAPAZ_MONITOR_MAX_REFUSED_SHARE"),
    (PageOutcome.NO_SECTIONS, "max", "LAPAZ_MONITOR_MAX_NO_DATA_SHARE"),
)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
