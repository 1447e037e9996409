"""Extensions: the summary that closes every crawl, monitors' results included."""

import logging

from scrapy import signals

from lapaz.crawl import statkeys

logger = logging.getLogger(__name__)


def summary_lines(harvest, reason: str) -> list[str]:
    """What a person needs to know at the end of a crawl, from its state."""
    figure = harvest.figure
    matched = harvest.number_matched
    return [
        f"features harvested: {harvest.features_received} of"
        f" {matched if matched is not None else 'unknown'} matched by the server"
        f" ({figure(statkeys.TRAMITES_NEW)} new since the last run)",
        f"WFS pages: {figure(statkeys.WFS_PAGES)} ok, {len(harvest.failed_wfs_pages)} failed;"
        f" duplicate features dropped: {figure(statkeys.WFS_DUPLICATE_FEATURES)}",
        f"permit pages: {figure(statkeys.PAGES_OUTCOME_PREFIX + 'ok')} ok,"
        f" {figure(statkeys.PAGES_OUTCOME_PREFIX + 'rechazada')} refused,"
        f" {figure(statkeys.PAGES_OUTCOME_PREFIX + 'sin_secciones')} without data,"
        f" {figure(statkeys.PAGES_OUTCOME_PREFIX + 'failed')} failed,"
        f" {figure(statkeys.PAGES_SKIPPED_DONE)} skipped as already done,"
        f" {figure(statkeys.PAGES_NOT_REQUESTABLE)} without an identifier,"
        f" {figure(statkeys.PAGES_OUTCOME_PREFIX + 'no_solicitada')} not requested",
        f"features left out by the filters: {figure(statkeys.WFS_FILTERED_OUT)}",
        *_monitor_lines(harvest),
        f"finish reason: {reason}" + _verdict(harvest),
    ]


def _monitor_lines(harvest) -> list[str]:
    """The monitors' results (monitors.py beside this one): how many passed, and each
    failure."""
    failures = harvest.monitor_failures
    if not harvest.monitors_run:
        return ["monitors: none ran"]
    passed = harvest.monitors_run - len(failures)
    return [
        f"monitors: {passed} passed, {len(failures)} failed",
        *(f"  MONITOR FAILED: {failure}" for failure in failures),
    ]


def _verdict(harvest) -> str:
    """Why the exit status is non-zero, if it is; the details are in the lines above."""
    if harvest.succeeded:
        return ""
    if harvest.layer_changed is not None:
        why = "THE WFS LAYER CHANGED"
    elif not harvest.complete:
        why = "THE HARVEST IS INCOMPLETE"
    elif harvest.pages_stopped is not None:
        why = "PAGES NOT ALL REQUESTED"
        if not harvest.monitors_run:  # else a monitor's line above says why
            why += f": {harvest.pages_stopped}"
    else:
        why = "A MONITOR FAILED"
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
        harvest = self.crawler.spider.harvest
        lines = summary_lines(harvest, reason)
        self.crawler.stats.set_value(statkeys.SUMMARY, lines)
        log = logger.info if harvest.succeeded else logger.error
        log("Crawl summary:\n  %s", "\n  ".join(lines))
