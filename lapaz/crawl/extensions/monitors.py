"""Monitors (Spidermon), run when the spider closes: they tell, they do not judge.

The crawl's verdict (lapaz.crawl.state) is the one judge; the monitors are how its failures,
and a finish reason other than SPIDERMON_EXPECTED_FINISH_REASONS (Spidermon's own
FinishReasonMonitor), reach a person through Spidermon's notifiers: Telegram, Slack or
e-mail, each added only when configured. `KeepResults` puts the monitors' results in the
stats, where the closing summary reads them.
"""

import logging
import warnings

from scrapy.exceptions import NotConfigured as ScrapyNotConfigured
from scrapy.exceptions import ScrapyDeprecationWarning
from scrapy.utils.misc import load_object
from spidermon import Monitor, MonitorSuite, monitors
from spidermon.contrib.scrapy.monitors import FinishReasonMonitor
from spidermon.core.actions import Action
from spidermon.exceptions import NotConfigured

from lapaz.crawl import statkeys
from lapaz.crawl.state import CrawlState
from lapaz.i18n import _

logger = logging.getLogger(__name__)

# Spidermon writes its report through Spider.log(), which Scrapy deprecates; the report is
# wanted, the warning (one per line) is not.
warnings.filterwarnings(
    "ignore", r"Spider\.log\(\) is deprecated", ScrapyDeprecationWarning, "spidermon"
)

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


@monitors.name("Verdict")
class VerdictMonitor(Monitor):
    @monitors.name("the run succeeded")
    def test_verdict(self):
        verdict = self.data.crawler.get_extension(CrawlState).verdict
        if verdict is None:
            self.skipTest("the crawl was not judged")
        if not verdict.succeeded:
            self.fail(verdict.line)


class KeepResults(Action):
    """The monitors' results in the stats: how many passed, one line per failure."""

    def run_action(self):
        stats = self.data.crawler.stats
        stats.set_value(statkeys.MONITORS_PASSED, len(self.result.monitors_passed_results))
        stats.set_value(statkeys.MONITORS_FAILED, failure_lines(self.result))


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
            logger.warning(_("%s notifications are off: %s"), channel, error)
    return actions


class SpidermonReportAtDebug(logging.Filter):
    """Spidermon's report (tracebacks of failed monitors included) at DEBUG: it would bury
    the closing summary, which gives each failure in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("[Spidermon]"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


class HarvestMonitorSuite(MonitorSuite):
    """The project's monitors; a failure is told through the notifiers configured."""

    monitors = (FinishReasonMonitor, VerdictMonitor)
    monitors_finished_actions = (KeepResults,)

    def __init__(self, *args, crawler=None, **kwargs):
        super().__init__(*args, crawler=crawler, **kwargs)
        if crawler is not None:
            # Instances: Spidermon would build classes without the crawler's settings.
            self.monitors_failed_actions.extend(notifier_actions(crawler))
            spider_logger = logging.getLogger(crawler.spidercls.name)
            if not any(isinstance(f, SpidermonReportAtDebug) for f in spider_logger.filters):
                spider_logger.addFilter(SpidermonReportAtDebug())


def failure_lines(result) -> list[str]:
    """One line per monitor that failed or broke: its name and what it said."""
    return [f"{item.item.name}: {_what_it_said(item)}" for item in result.monitors_failed_results]


def _what_it_said(item) -> str:
    if item.reason:  # a failure: the monitor's own message
        return item.reason.splitlines()[0]
    lines = (item.error or "").strip().splitlines()  # an error: the traceback's last line
    return lines[-1] if lines else "failed"
