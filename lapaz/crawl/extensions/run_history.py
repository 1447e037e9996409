"""The run history's line of a crawl (lapaz.storage.runs), appended when the spider closes.

Built from the crawl's state and Scrapy's stats once every other extension has had its
say (the monitors' results decide how the run ended). A crawl that could not start never
gets here: the `crawl` command writes that line (`not_started_run`).
"""

import logging
from datetime import UTC, datetime
from pathlib import Path

from scrapy import signals

from lapaz import __version__
from lapaz.crawl import statkeys
from lapaz.layer.fingerprint import layer_fingerprint
from lapaz.storage.runs import FAILED, NOT_STARTED, SUCCEEDED, Run, append_run, run_times

logger = logging.getLogger(__name__)

FINISHED = "finished"
# Outcomes of a page asked in this run (lapaz/detalles/<outcome>) -> the run's field.
ASKED_PAGE_FIELDS = {
    "ok": "paginas_ok",
    "rechazada": "paginas_rechazadas",
    "sin_secciones": "paginas_sin_datos",
    "failed": "paginas_fallidas",
}


def ended_early(reason: str) -> str:
    return f"the crawl ended early ({reason})"


def failure_line(harvest, reason: str) -> str | None:
    """The one line a run that failed ends on; None for a run that succeeded."""
    if reason == FINISHED and harvest.succeeded:
        return None
    return harvest.verdict(reason) or ended_early(reason)


def closed_run(stats: dict, harvest, reason: str, ended: datetime) -> Run:
    """The history line of a crawl that ran, from its stats and its state."""
    pages = {
        name: stats.get(statkeys.PAGES_OUTCOME_PREFIX + outcome, 0)
        for outcome, name in ASKED_PAGE_FIELDS.items()
    }
    failure = failure_line(harvest, reason)
    properties = harvest.layer_shape.properties()
    return Run(
        **run_times(stats.get("start_time", ended), stats.get("finish_time", ended)),
        estado=SUCCEEDED if failure is None else FAILED,
        version=__version__,
        cierre=reason,
        motivo=failure,
        features_recibidas=harvest.features_received,
        features_servidor=harvest.number_matched,
        tramites_nuevos=stats.get(statkeys.TRAMITES_NEW, 0),
        paginas_pedidas=sum(pages.values()),
        **pages,
        peticiones=stats.get("downloader/request_count", 0),
        bytes_recibidos=stats.get("downloader/response_bytes", 0),
        warc=stats.get(statkeys.ARCHIVE_FILE),
        capa_huella=layer_fingerprint(properties),
        capa_propiedades=properties,
    )


def not_started_run(started: datetime, ended: datetime, why: str) -> Run:
    """The history line of a crawl that could not start (a bad argument, a locked folder)."""
    return Run(**run_times(started, ended), estado=NOT_STARTED, version=__version__, motivo=why)


def record_run(data_dir: Path, run: Run) -> None:
    """Append the run's line; a history that cannot be written is said, and the run goes on
    to its own end (its exit status does not depend on it)."""
    try:
        path = append_run(data_dir, run)
    except OSError as error:
        logger.error("The run history cannot be written: %s", error)
        return
    logger.info("Run recorded in %s (python -m postprocess.corridas shows them)", path)


class RunHistory:
    """Appends the crawl's line to the run history when the spider closes."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.data_dir = Path(crawler.settings["LAPAZ_DATA_DIR"])
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_closed(self, reason):
        stats = self.crawler.stats.get_stats()
        run = closed_run(stats, self.crawler.spider.harvest, reason, datetime.now(UTC))
        record_run(self.data_dir, run)
