"""Extensions: the summary that closes every crawl."""

import logging

from scrapy import signals

logger = logging.getLogger(__name__)


def summary_lines(stats: dict, reason: str) -> list[str]:
    """What a person needs to know at the end of a crawl, from its stats."""
    get = stats.get
    matched = get("lapaz/wfs/number_matched")
    features = get("lapaz/wfs/features", 0)
    complete = get("lapaz/harvest_complete")
    return [
        f"features harvested: {features} of {matched if matched is not None else 'unknown'}"
        f" matched by the server ({get('lapaz/tramites/new', 0)} new since the last run)",
        f"WFS pages: {get('lapaz/wfs/pages', 0)} ok, {get('lapaz/wfs/pages_failed', 0)} failed;"
        f" duplicate features dropped: {get('lapaz/wfs/duplicate_features', 0)}",
        f"permit pages: {get('lapaz/detalles/ok', 0)} ok, {get('lapaz/detalles/rechazada', 0)}"
        f" refused, {get('lapaz/detalles/sin_secciones', 0)} without data,"
        f" {get('lapaz/detalles/failed', 0)} failed,"
        f" {get('lapaz/detalles/skipped_done', 0)} skipped as already done,"
        f" {get('lapaz/detalles/not_requestable', 0)} without an identifier",
        f"features left out by the filters: {get('lapaz/wfs/features_filtered_out', 0)}",
        f"finish reason: {reason}"
        + ("" if complete else " (THE HARVEST IS INCOMPLETE: the exit status is non-zero)"),
    ]


class CrawlSummary:
    """Logs the summary at the end and keeps it in the stats as `lapaz/summary`."""

    def __init__(self, crawler):
        self.crawler = crawler
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_closed(self, reason):
        lines = summary_lines(self.crawler.stats.get_stats(), reason)
        self.crawler.stats.set_value("lapaz/summary", lines)
        log = (
            logger.info if self.crawler.stats.get_value("lapaz/harvest_complete") else logger.error
        )
        log("Crawl summary:\n  %s", "\n  ".join(lines))
