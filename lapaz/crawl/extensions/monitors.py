"""Monitors (Spidermon), run when the spider closes: they tell, they do not judge.

The crawl's verdict (lapaz.crawl.state) is the one judge; the monitors are how its failures,
and a finish reason other than SPIDERMON_EXPECTED_FINISH_REASONS (Spidermon's own
FinishReasonMonitor), reach a person through Spidermon's notifiers: Telegram, Slack or
e-mail, each added only when configured. `KeepResults` puts the monitors' results in the
stats, where the closing summary reads them.

Every line a person reads is in the language of the crawl (lapaz.i18n): the monitors' names
and messages, and the notifications, which say what failed in the summary's own lines
(Spidermon's templates would list the monitors' names in English) unless the settings
give Spidermon a message of their own.
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
from lapaz.i18n import N_, _

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
# Our notification, as Spidermon's Jinja renders it; `lapaz_notice` and `lapaz_subject` are
# put in the action's context (notifier_actions).
NOTICE, SUBJECT = "{{ lapaz_notice() }}", "{{ lapaz_subject() }}"
# Channel -> the arguments of its action that carry our words, used when the settings give
# none of them. Slack's attachments and the e-mail's HTML body list the monitors in English.
OUR_MESSAGE = {
    "Telegram": {"message": NOTICE},
    "Slack": {"message": NOTICE, "include_attachments": False},
    "e-mail": {"subject": SUBJECT, "body_text": NOTICE, "body_html_template": None},
}
# The settings each channel reads its message from: when one is set, Spidermon's is kept.
MESSAGE_SETTINGS = {
    "Telegram": ("SPIDERMON_TELEGRAM_MESSAGE", "SPIDERMON_TELEGRAM_MESSAGE_TEMPLATE"),
    "Slack": (
        "SPIDERMON_SLACK_MESSAGE",
        "SPIDERMON_SLACK_MESSAGE_TEMPLATE",
        "SPIDERMON_SLACK_ATTACHMENTS",
        "SPIDERMON_SLACK_ATTACHMENTS_TEMPLATE",
    ),
    "e-mail": (
        "SPIDERMON_EMAIL_SUBJECT",
        "SPIDERMON_EMAIL_SUBJECT_TEMPLATE",
        "SPIDERMON_BODY_TEXT",
        "SPIDERMON_BODY_TEXT_TEMPLATE",
        "SPIDERMON_BODY_HTML",
        "SPIDERMON_BODY_HTML_TEMPLATE",
    ),
}

# The monitors' names, "suite/test" in the results: English in the code, translated where
# a person reads them (failure_lines).
VERDICT, RUN_SUCCEEDED = N_("Verdict"), N_("the run succeeded")
FINISH, FINISHED_AS_EXPECTED = N_("Finish reason"), N_("the crawl finished as expected")


@monitors.name(VERDICT)
class VerdictMonitor(Monitor):
    @monitors.name(RUN_SUCCEEDED)
    def test_verdict(self):
        verdict = self.data.crawler.get_extension(CrawlState).verdict
        if verdict is None:
            self.skipTest(_("the crawl was not judged"))
        if not verdict.succeeded:
            self.fail(verdict.line)


@monitors.name(FINISH)
class FinishMonitor(FinishReasonMonitor):
    """Spidermon's FinishReasonMonitor (SPIDERMON_EXPECTED_FINISH_REASONS), in our words."""

    @monitors.name(FINISHED_AS_EXPECTED)
    def test_should_finish_with_expected_reason(self):
        expected = self.crawler.settings.getlist("SPIDERMON_EXPECTED_FINISH_REASONS", ("finished",))
        reason = self.stats.get("finish_reason")
        if reason not in expected:
            self.fail(
                _("the crawl ended with {reason}, not with {expected}").format(
                    reason=reason, expected=", ".join(expected)
                )
            )


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
            actions.append(notifier(crawler, channel, load_object(path)))
        except (ImportError, NotConfigured, ScrapyNotConfigured) as error:
            logger.warning(_("%s notifications are off: %s"), channel, error)
    return actions


def notifier(crawler, channel: str, action_class) -> Action:
    """The action of `channel`, saying our notice unless the settings give a message."""
    arguments = action_class.from_crawler_kwargs(crawler)
    ours = not any(crawler.settings.get(name) for name in MESSAGE_SETTINGS[channel])
    if ours:
        arguments.update(OUR_MESSAGE[channel])
    action = action_class(**arguments)
    if ours:
        # A class default would put Spidermon's English template back.
        for name, value in OUR_MESSAGE[channel].items():
            setattr(action, name, value)
        spider = crawler.spidercls.name
        action.context = {
            **action.context,
            "lapaz_notice": lambda: notice(spider, failure_lines(action.result)),
            "lapaz_subject": lambda: notice_subject(spider),
        }
    return action


def notice_subject(spider: str) -> str:
    return _("La Paz permits: the {spider} crawl failed").format(spider=spider)


def notice(spider: str, failures: list[str]) -> str:
    """What a notification says: the run failed, and why, one line per monitor."""
    return "\n".join([notice_subject(spider), *(f"- {failure}" for failure in failures)])


class SpidermonReportAtDebug(logging.Filter):
    """Spidermon's report (tracebacks of failed monitors included) at DEBUG: it would bury
    the closing summary, which gives each failure in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("[Spidermon]"):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


class HarvestMonitorSuite(MonitorSuite):
    """The project's monitors; a failure is told through the notifiers configured."""

    monitors = (FinishMonitor, VerdictMonitor)
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
    return [
        f"{monitor_name(item.item.name)}: {_what_it_said(item)}"
        for item in result.monitors_failed_results
    ]


def monitor_name(name: str) -> str:
    """A monitor's "suite/test" name in the language of messages (ours are in the catalog)."""
    return "/".join(_(part) if part else part for part in name.split("/"))


def _what_it_said(item) -> str:
    if item.reason:  # a failure: the monitor's own message
        return item.reason.splitlines()[0]
    lines = (item.error or "").strip().splitlines()  # an error: the traceback's last line
    return lines[-1] if lines else _("it broke without saying why")
