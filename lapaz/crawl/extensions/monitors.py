"""Monitors (Spidermon) that judge a crawl when its spider closes.

Each monitor fails with one line a person understands; the failures are kept on the
crawl's `Harvest` (`monitor_failures`), where the closing summary and the exit status of
`scrapy crawl` read them. Thresholds are settings (LAPAZ_MONITOR_*). Notifications by
Telegram, Slack or e-mail are Spidermon's own actions, added only when configured.
"""

import logging

from scrapy.exceptions import NotConfigured as ScrapyNotConfigured
from scrapy.utils.misc import load_object
from spidermon import Monitor, MonitorSuite, monitors
from spidermon.contrib.scrapy.extensions import Spidermon
from spidermon.contrib.scrapy.runners import SpiderMonitorResult, SpiderMonitorRunner
from spidermon.exceptions import NotConfigured

from lapaz.crawl import statkeys
from lapaz.records.schema import DEFAULT_RESULTS

logger = logging.getLogger(__name__)

# Outcome of a page asked in this run -> its name in words.
PAGE_OUTCOMES = {
    "ok": "with data",
    "rechazada": "refused",
    "sin_secciones": "without data",
    "failed": "failed",
}
# (setting, outcome, bound kind): the shares of the pages asked that are checked.
SHARE_BOUNDS = (
    ("LAPAZ_MONITOR_MIN_OK_SHARE", "ok", "min"),
    ("LAPAZ_MONITOR_MAX_REFUSED_SHARE", "rechazada", "max"),
    ("LAPAZ_MONITOR_MAX_FAILED_SHARE", "failed", "max"),
    ("LAPAZ_MONITOR_MAX_NO_DATA_SHARE", "sin_secciones", "max"),
)
# Outcomes whose share says something only of the pages of approved permits.
APPROVED_ONLY_OUTCOMES = {"ok", "rechazada"}
# Notification channel -> (the setting that turns it on, Spidermon's action class).
NOTIFIERS = {
    "Telegram": (
        "SPIDERMON_TELEGRAM_SENDER_TOKEN",
        "spidermon.contrib.actions.telegram.notifiers.SendTelegramMessageSpiderFinished",
    ),
    "Slack": (
        "SPIDERMON_SLACK_SENDER_TOKEN",
        "spidermon.contrib.actions.slack.notifiers.SendSlackMessageSpiderFinished",
    ),
    "e-mail": ("SPIDERMON_EMAIL_TO", "spidermon.contrib.actions.email.smtp.SendSmtpEmail"),
}


def page_counts(stats) -> dict[str, int]:
    """Pages asked in this run, by outcome (pages not asked are not counted)."""
    return {
        outcome: stats.get(statkeys.PAGES_OUTCOME_PREFIX + outcome, 0) for outcome in PAGE_OUTCOMES
    }


def share_problems(counts: dict[str, int], bounds: list[tuple[str, str, float]]) -> list[str]:
    """Each share out of its bound, in words; `bounds` holds (outcome, "min"|"max", share)."""
    asked = sum(counts.values())
    if not asked:
        return []
    problems = []
    for outcome, kind, bound in bounds:
        share = counts[outcome] / asked
        if (kind == "min" and share < bound) or (kind == "max" and share > bound):
            word = "at least" if kind == "min" else "at most"
            problems.append(
                f"{counts[outcome]} of {asked} permit pages {PAGE_OUTCOMES[outcome]}"
                f" ({share:.1%}; expected {word} {bound:.0%})"
            )
    return problems


def coverage_problems(ok_pages: int, key_counts: dict[str, int], minimum: float) -> list[str]:
    """Each expected page key found on fewer than `minimum` of the pages with data."""
    if not ok_pages:
        return []
    return [
        f"{key} is on {count} of {ok_pages} pages with data ({count / ok_pages:.1%};"
        f" expected at least {minimum:.0%})"
        for key, count in key_counts.items()
        if count / ok_pages < minimum
    ]


class _HarvestMonitor(Monitor):
    @property
    def crawler(self):
        return self.data.crawler

    @property
    def harvest(self):
        return self.crawler.spider.harvest

    @property
    def settings(self):
        return self.crawler.settings


@monitors.name("Crawl")
class CrawlMonitor(_HarvestMonitor):
    @monitors.name("finish reason")
    def test_finish_reason(self):
        reason = self.data.stats.get("finish_reason")
        allowed = self.settings.getlist("LAPAZ_MONITOR_FINISH_REASONS")
        if reason not in allowed:
            self.fail(f"the crawl finished as {reason!r}, not {' or '.join(allowed)}")

    @monitors.name("harvest complete")
    def test_harvest_complete(self):
        harvest = self.harvest
        if not harvest.complete:
            why = "; ".join(harvest.problems) or "the crawl ended before it was judged"
            self.fail(f"the WFS harvest is incomplete: {why}")

    @monitors.name("features against the server's count")
    def test_features_counted(self):
        harvest = self.harvest
        if harvest.expected is None:
            self.skipTest("the server gave no count")
        if harvest.features_received < harvest.expected:
            self.fail(
                f"received {harvest.features_received} features of the {harvest.expected}"
                " the server counted"
            )

    @monitors.name("every wanted page asked for")
    def test_pages_asked(self):
        harvest = self.harvest
        if harvest.layer_changed is not None:
            self.fail(harvest.layer_changed)
        if harvest.pages_stopped is not None:
            self.fail(harvest.pages_stopped)


@monitors.name("Permit pages")
class PagesMonitor(_HarvestMonitor):
    @monitors.name("shares of outcomes")
    def test_shares(self):
        # Pages of permits not approved have no data on the site: refusing them is its
        # normal answer, so with `-a resultado=todos` only failures and drift are judged.
        arguments = getattr(self.crawler.spider, "arguments", None)
        only_approved = getattr(arguments, "wanted_results", None) == {DEFAULT_RESULTS}
        bounds = [
            (outcome, kind, self.settings.getfloat(name))
            for name, outcome, kind in SHARE_BOUNDS
            if only_approved or outcome not in APPROVED_ONLY_OUTCOMES
        ]
        problems = share_problems(page_counts(self.data.stats), bounds)
        if problems:
            self.fail("; ".join(problems))

    @monitors.name("coverage of the page keys")
    def test_key_coverage(self):
        stats = self.data.stats
        keys = self.settings.getlist("LAPAZ_MONITOR_PAGE_KEYS")
        counts = {key: stats.get(statkeys.PAGES_KEY_PREFIX + key, 0) for key in keys}
        ok_pages = stats.get(statkeys.PAGES_OUTCOME_PREFIX + "ok", 0)
        problems = coverage_problems(
            ok_pages, counts, self.settings.getfloat("LAPAZ_MONITOR_MIN_KEY_COVERAGE")
        )
        if problems:
            self.fail("; ".join(problems))


def notifier_actions(crawler) -> list:
    """Spidermon's notification actions that the settings turn on, built for this crawler.

    One that cannot be built (a setting missing, its library not installed) is left out
    with a warning: a notification must never keep the crawl from running.
    """
    actions = []
    for channel, (switch, path) in NOTIFIERS.items():
        if not crawler.settings.get(switch):
            continue
        try:
            actions.append(load_object(path).from_crawler(crawler))
        except (ImportError, NotConfigured, ScrapyNotConfigured) as error:
            logger.warning("%s notifications are off: %s", channel, error)
    return actions


class HarvestMonitorSuite(MonitorSuite):
    """The project's monitors; a failure is told through the notifiers configured."""

    monitors = (CrawlMonitor, PagesMonitor)

    def __init__(self, *args, crawler=None, **kwargs):
        super().__init__(*args, crawler=crawler, **kwargs)
        if crawler is not None:
            # Instances: Spidermon would build classes without the crawler's settings.
            self.monitors_failed_actions.extend(notifier_actions(crawler))


def failure_lines(result) -> list[str]:
    """One line per monitor that failed or broke: its name and what it said."""
    return [f"{item.item.name}: {_what_it_said(item)}" for item in result.monitors_failed_results]


def _what_it_said(item) -> str:
    if item.reason:  # a failure: the monitor's own message
        return item.reason
    lines = (item.error or "").strip().splitlines()  # an error: the traceback's last line
    return lines[-1] if lines else "failed"


class _LoggerResult(SpiderMonitorResult):
    def log(self, msg, level=logging.DEBUG):
        # Spidermon writes through Spider.log(), deprecated in Scrapy: the logger instead,
        # and at DEBUG: its report (tracebacks of failed monitors included) would bury the
        # closing summary, which gives each failure in one line.
        self.spider.logger.debug("[Spidermon] %s", msg)


class _LoggerRunner(SpiderMonitorRunner):
    def create_result(self):
        return _LoggerResult(self.spider)


class HarvestSpidermon(Spidermon):
    """Spidermon's extension, logging without deprecation warnings, its results kept on
    the crawl's Harvest for the summary and the exit status."""

    def _run_suites(self, spider, suites):
        data = self._generate_data_for_spider(spider)
        harvest = getattr(spider, "harvest", None)
        for suite in suites:
            result = _LoggerRunner(spider=spider).run(suite, **data)
            if harvest is not None:
                harvest.monitors_run += len(result.monitor_results)
                failures = failure_lines(result)
                harvest.monitor_failures.extend(failures)
                self.crawler.stats.set_value(statkeys.MONITORS_FAILED, harvest.monitor_failures)
