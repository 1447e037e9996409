"""The run history's line of a crawl (lapaz.storage.runs), appended when the spider closes.

Built from the crawl's verdict (lapaz.crawl.state) and Scrapy's stats, after the verdict
was judged and the data folder committed (a commit that fails fails the run). A crawl
that could not start never gets here: the `crawl` command writes that line
(`not_started_run`).
"""

import logging
from datetime import UTC, datetime
from pathlib import Path

from scrapy import signals

from lapaz import __version__
from lapaz.crawl import statkeys
from lapaz.crawl.state import ASKED, CrawlState, Verdict
from lapaz.i18n import _
from lapaz.layer.guard import fingerprint_digest
from lapaz.records.schema import PageOutcome
from lapaz.storage.runs import FAILED, NOT_STARTED, SUCCEEDED, Run, append_run, run_times

logger = logging.getLogger(__name__)

# A page outcome of this run -> its field in the run's line.
PAGE_FIELDS = {
    PageOutcome.OK: "paginas_ok",
    PageOutcome.REFUSED: "paginas_rechazadas",
    PageOutcome.NO_SECTIONS: "paginas_sin_datos",
    PageOutcome.FAILED: "paginas_fallidas",
}


def closed_run(stats: dict, verdict: Verdict, ended: datetime) -> Run:
    """The history line of a crawl that ran, from its verdict and its stats."""
    pages = {name: verdict.pages.get(outcome.value, 0) for outcome, name in PAGE_FIELDS.items()}
    return Run(
        **run_times(stats.get("start_time", ended), stats.get("finish_time", ended)),
        estado=SUCCEEDED if verdict.exit_code == 0 else FAILED,
        version=__version__,
        cierre=verdict.finish_reason,
        motivo=verdict.line,
        features_recibidas=verdict.features_received,
        features_servidor=verdict.features_matched,
        tramites_nuevos=stats.get(statkeys.TRAMITES_NEW, 0),
        paginas_pedidas=sum(verdict.pages.get(outcome.value, 0) for outcome in ASKED),
        **pages,
        paginas_persistentes=len(verdict.persisting),
        peticiones=stats.get("downloader/request_count", 0),
        bytes_recibidos=stats.get("downloader/response_bytes", 0),
        warc=stats.get(statkeys.ARCHIVE_FILE),
        capa_huella=fingerprint_digest(verdict.fingerprint),
        capa_propiedades=verdict.fingerprint or None,
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
        logger.error(_("The run history cannot be written: %s"), error)
        return
    logger.info(_("Run recorded in %s (python -m postprocess.corridas shows them)"), path)


class RunHistory:
    """Appends the crawl's line to the run history when the spider closes (after the
    crawl's state judged it: see EXTENSIONS in lapaz.settings)."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.data_dir = Path(crawler.settings["LAPAZ_DATA_DIR"])
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_opened(self):
        # Receivers run in the order they connected, and the pipeline connects as the
        # engine is built, after the extensions: connected now, the line is written after
        # the pipeline's commit, and says whether the data folder took the harvest.
        self.crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    def spider_closed(self, reason):
        verdict = self.crawler.get_extension(CrawlState).judge(reason)
        stats = self.crawler.stats.get_stats()
        record_run(self.data_dir, closed_run(stats, verdict, datetime.now(UTC)))
