"""The summary that closes every crawl: its figures and its verdict (lapaz.crawl.state)."""

import logging

from scrapy import signals

from lapaz.crawl import statkeys
from lapaz.crawl.state import CrawlState, Failure, Verdict
from lapaz.records.schema import NOT_REQUESTABLE, PageOutcome

logger = logging.getLogger(__name__)

# Why the exit status is non-zero, as the summary's last line shouts it.
FAILURE_WORDS = {
    Failure.LAYER_CHANGED: "THE WFS LAYER CHANGED",
    Failure.INCOMPLETE: "THE HARVEST IS INCOMPLETE",
    Failure.LAYER_SHRANK: "THE WFS LAYER SHRANK",
    Failure.PAGES_STOPPED: "PAGES NOT ALL REQUESTED",
    Failure.CHECKS: "THE HARVEST'S CHECKS FAILED",
}
# Persisting failures listed one a line; the rest are in paginas_fallidas.jsonl.
LISTED_PERSISTING = 10


def summary_lines(verdict: Verdict, figure) -> list[str]:
    """What a person needs to know at the end of a crawl; `figure(key)` reads the stats."""
    pages = verdict.pages
    matched = verdict.features_matched
    return [
        f"features harvested: {verdict.features_received} of"
        f" {matched if matched is not None else 'unknown'} matched by the server"
        f" ({figure(statkeys.TRAMITES_NEW)} new since the last run)",
        f"WFS pages: {figure(statkeys.WFS_PAGES)} ok, {figure(statkeys.WFS_PAGES_FAILED)}"
        f" failed; duplicate features dropped: {figure(statkeys.WFS_DUPLICATE_FEATURES)}",
        f"permit pages: {pages[PageOutcome.OK]} ok,"
        f" {pages[PageOutcome.REFUSED]} refused,"
        f" {pages[PageOutcome.NO_SECTIONS]} without data,"
        f" {pages[PageOutcome.FAILED]} failed ({verdict.new_failures} new,"
        f" {len(verdict.persisting)} persisting),"
        f" {figure(statkeys.PAGES_SKIPPED_DONE)} skipped as already done,"
        f" {sum(pages[outcome] for outcome in NOT_REQUESTABLE)} without an identifier,"
        f" {pages[PageOutcome.NOT_REQUESTED]} not requested;"
        f" {verdict.pages_wanted} wanted in all",
        *_persisting_lines(verdict),
        f"features left out by the filters: {figure(statkeys.WFS_FILTERED_OUT)}",
        *(f"  WARNING: {warning}" for warning in verdict.warnings),
        *_monitor_lines(figure),
        f"finish reason: {verdict.finish_reason}"
        + _failure(verdict, told=bool(figure(statkeys.MONITORS_FAILED))),
    ]


def _persisting_lines(verdict: Verdict) -> list[str]:
    if not verdict.persisting:
        return []
    lines = [
        f"  persisting: {failure.identificador} (id_pc_tramite {failure.id_pc_tramite}):"
        f" {failure.error}, failing since {failure.primera_falla}, {failure.corridas} runs"
        for failure in verdict.persisting[:LISTED_PERSISTING]
    ]
    left = len(verdict.persisting) - LISTED_PERSISTING
    if left > 0:
        lines.append(f"  ... and {left} more (paginas_fallidas.jsonl)")
    return lines


def _monitor_lines(figure) -> list[str]:
    """The monitors' results (monitors.py beside this one)."""
    failures = figure(statkeys.MONITORS_FAILED) or []
    passed = figure(statkeys.MONITORS_PASSED)
    if not failures and not passed:
        return ["monitors: none ran"]
    return [
        f"monitors: {passed} passed, {len(failures)} failed",
        *(f"  MONITOR FAILED: {failure}" for failure in failures),
    ]


def _failure(verdict: Verdict, told: bool) -> str:
    """Why the exit status is non-zero, if it is; the verdict's line unless a monitor's
    line above says it (`told`)."""
    if verdict.succeeded:
        return ""
    why = FAILURE_WORDS[verdict.reason] + ("" if told else f": {verdict.line}")
    return f" ({why}: the exit status is non-zero)"


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
        lines = summary_lines(verdict, lambda key: self.crawler.stats.get_value(key, 0))
        self.crawler.stats.set_value(statkeys.SUMMARY, lines)
        log = logger.info if verdict.succeeded else logger.error
        log("Crawl summary:\n  %s", "\n  ".join(lines))
