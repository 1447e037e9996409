"""The summary that closes every crawl: its figures and its verdict (lapaz.crawl.state)."""

import logging

from scrapy import signals

from lapaz.crawl import statkeys
from lapaz.crawl.state import CrawlState, Failure, Verdict
from lapaz.i18n import N_, _
from lapaz.records.schema import NOT_REQUESTABLE, PageOutcome

logger = logging.getLogger(__name__)

# Why the exit status is non-zero, as the summary's last line shouts it.
FAILURE_WORDS = {
    Failure.LAYER_CHANGED: N_("THE WFS LAYER CHANGED"),
    Failure.INCOMPLETE: N_("THE HARVEST IS INCOMPLETE"),
    Failure.LAYER_SHRANK: N_("THE WFS LAYER SHRANK"),
    Failure.PAGES_STOPPED: N_("PAGES NOT ALL REQUESTED"),
    Failure.CHECKS: N_("THE HARVEST'S CHECKS FAILED"),
    Failure.NOT_WRITTEN: N_("THE DATA FOLDER COULD NOT BE WRITTEN"),
}
# Persisting failures listed one a line; the rest are in paginas_fallidas.jsonl.
LISTED_PERSISTING = 10


def summary_lines(verdict: Verdict, figure, line_follows: bool = False) -> list[str]:
    """What a person needs to know at the end of a crawl; `figure(key)` reads the stats.
    `line_follows`: the verdict's line ends the run on the console (the crawl command's
    `error:` line), so the monitors' lines point to it instead of repeating it."""
    pages = verdict.pages
    matched = verdict.features_matched
    return [
        _(
            "features harvested: {received} of {matched} matched by the server"
            " ({new} new since the last run)"
        ).format(
            received=verdict.features_received,
            matched=matched if matched is not None else _("unknown"),
            new=figure(statkeys.TRAMITES_NEW),
        ),
        _("WFS pages: {ok} ok, {failed} failed; duplicate features dropped: {duplicates}").format(
            ok=figure(statkeys.WFS_PAGES),
            failed=figure(statkeys.WFS_PAGES_FAILED),
            duplicates=figure(statkeys.WFS_DUPLICATE_FEATURES),
        ),
        _(
            "permit pages: {ok} ok, {refused} refused, {no_data} without data,"
            " {failed} failed ({new} new, {persisting} persisting),"
            " {skipped} skipped as already done, {no_identifier} without an identifier,"
            " {not_requested} not requested; {wanted} wanted in all"
        ).format(
            ok=pages[PageOutcome.OK],
            refused=pages[PageOutcome.REFUSED],
            no_data=pages[PageOutcome.NO_SECTIONS],
            failed=pages[PageOutcome.FAILED],
            new=verdict.new_failures,
            persisting=len(verdict.persisting),
            skipped=figure(statkeys.PAGES_SKIPPED_DONE),
            no_identifier=sum(pages[outcome] for outcome in NOT_REQUESTABLE),
            not_requested=pages[PageOutcome.NOT_REQUESTED],
            wanted=verdict.pages_wanted,
        ),
        *_persisting_lines(verdict),
        _("features left out by the filters: {count}").format(
            count=figure(statkeys.WFS_FILTERED_OUT)
        ),
        *(_("  WARNING: {warning}").format(warning=warning) for warning in verdict.warnings),
        *_monitor_lines(figure, verdict if line_follows else None),
        _("finish reason: {reason}").format(reason=verdict.finish_reason)
        + _failure(verdict, told=bool(figure(statkeys.MONITORS_FAILED))),
    ]


def _persisting_lines(verdict: Verdict) -> list[str]:
    if not verdict.persisting:
        return []
    lines = [
        _(
            "  persisting: {identificador} (id_pc_tramite {id}): {error},"
            " failing since {since}, {runs} runs"
        ).format(
            identificador=failure.identificador,
            id=failure.id_pc_tramite,
            error=failure.error,
            since=failure.primera_falla,
            runs=failure.corridas,
        )
        for failure in verdict.persisting[:LISTED_PERSISTING]
    ]
    left = len(verdict.persisting) - LISTED_PERSISTING
    if left > 0:
        lines.append(_("  ... and {count} more (paginas_fallidas.jsonl)").format(count=left))
    return lines


def _monitor_lines(figure, verdict: Verdict | None) -> list[str]:
    """The monitors' results (monitors.py beside this one); the line of `verdict`, if
    given, is left to the end of the run."""
    failures = figure(statkeys.MONITORS_FAILED) or []
    passed = figure(statkeys.MONITORS_PASSED)
    if not failures and not passed:
        return [_("monitors: none ran")]
    told_below = _("see the error line at the end")
    return [
        _("monitors: {passed} passed, {failed} failed").format(passed=passed, failed=len(failures)),
        *(
            _("  MONITOR FAILED: {failure}").format(
                failure=failure.replace(verdict.line, told_below)
                if verdict is not None and verdict.line
                else failure
            )
            for failure in failures
        ),
    ]


def _failure(verdict: Verdict, told: bool) -> str:
    """Why the exit status is non-zero, if it is; the verdict's line unless a monitor's
    line above says it (`told`)."""
    if verdict.succeeded:
        return ""
    why = _(FAILURE_WORDS[verdict.reason]) + ("" if told else f": {verdict.line}")
    return _(" ({why}: the exit status is non-zero)").format(why=why)


class CrawlSummary:
    """Logs the summary at the end and keeps it in the stats as `lapaz/summary`."""

    def __init__(self, crawler):
        self.crawler = crawler
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_closed(self, reason):
        verdict = self.crawler.get_extension(CrawlState).judge(reason)
        # On the console the crawl command's last line says why the run failed; a log
        # file (as under Scrapyd) gets no such line, so the summary keeps it.
        line_follows = not self.crawler.settings.get("LOG_FILE")
        lines = summary_lines(
            verdict, lambda key: self.crawler.stats.get_value(key, 0), line_follows
        )
        self.crawler.stats.set_value(statkeys.SUMMARY, lines)
        log = logger.info if verdict.succeeded else logger.error
        log(_("Crawl summary:\n  %s"), "\n  ".join(lines))
