"""Running the real `scrapy crawl tramites` against the replica, for end-to-end tests."""

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from scrapy.crawler import CrawlerRunner

from lapaz import settings as project
from lapaz.crawl.state import CrawlState
from lapaz.spiders.tramites import TramitesSpider
from lapaz.storage.history import CHANGES_FILE, snapshots
from lapaz.storage.jsonl import read_jsonl
from lapaz.storage.store import DETALLES_FILE, TRAMITES_FILE, TRAMITES_PARTIAL_FILE
from tools.crawl import CRAWL_TIMEOUT, PROJECT_ROOT, crawl_command, crawl_settings


class CrawlFiles:
    """The records a crawl left in its `data_dir` (a field of the classes below)."""

    @property
    def tramites(self) -> list[dict]:
        return read_jsonl(self.data_dir / TRAMITES_FILE).records

    @property
    def tramites_partial(self) -> list[dict]:
        """The features of a run whose harvest was not complete."""
        return read_jsonl(self.data_dir / TRAMITES_PARTIAL_FILE).records

    @property
    def detalles(self) -> list[dict]:
        return read_jsonl(self.data_dir / DETALLES_FILE).records

    @property
    def cambios(self) -> list[dict]:
        """The change log: every complete harvest's changes against the one before."""
        return read_jsonl(self.data_dir / CHANGES_FILE).records

    @property
    def snapshots(self) -> list[Path]:
        """The complete harvests kept in historial/, oldest first."""
        return [path for _, path in snapshots(self.data_dir)]


@dataclass
class CrawlResult(CrawlFiles):
    """A `scrapy crawl` run in a subprocess: its exit status, its log, its files."""

    returncode: int
    log: str
    data_dir: Path


def project_settings(**overrides) -> dict[str, object]:
    """The project's settings, for crawlers built in-process (scrapy.utils.test.get_crawler)."""
    names = [name for name in dir(project) if name.isupper()]
    return {**{name: getattr(project, name) for name in names}, **overrides}


def run_crawl(
    replica,
    data_dir: Path,
    arguments: dict | None = None,
    extra: tuple = (),
    timeout: float = CRAWL_TIMEOUT,
    user_console: bool = False,
    **settings,
) -> CrawlResult:
    """One `scrapy crawl tramites` in a subprocess, from the project's root, as a user runs it.

    user_console: the project's log level, as a user's console shows it, not the tests'.
    """
    chosen = crawl_settings(replica, data_dir, **settings)
    if user_console:
        del chosen["LOG_LEVEL"]
    command = crawl_command(chosen, arguments, extra)
    completed = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )
    return CrawlResult(completed.returncode, completed.stderr + completed.stdout, data_dir)


def wait_for(condition, timeout: float, what: str) -> None:
    """Wait until `condition()` holds, checking often; fail saying `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def pages_written(data_dir: Path, at_least: int) -> bool:
    detalles = data_dir / DETALLES_FILE
    return detalles.exists() and detalles.read_bytes().count(b"\n") >= at_least


def kill_when(replica, data_dir: Path, condition, what: str, **settings) -> None:
    """Start `scrapy crawl tramites`, and SIGKILL it whole once `condition()` holds."""
    process = start_crawl(replica, data_dir, **settings)
    try:
        wait_for(condition, timeout=CRAWL_TIMEOUT, what=what)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def start_crawl(replica, data_dir: Path, **settings) -> subprocess.Popen:
    """`scrapy crawl tramites` in the background, in its own session (for killing it whole)."""
    return subprocess.Popen(
        crawl_command(crawl_settings(replica, data_dir, **settings)),
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def warc_records(path: Path) -> list[dict]:
    """Every whole record of a WARC file as read by warcio: headers, status, decoded body."""
    from warcio.archiveiterator import ArchiveIterator  # only the archive tests need it

    records = []
    with path.open("rb") as stream:
        for record in ArchiveIterator(stream, check_digests=True):
            http = record.http_headers
            records.append(
                {
                    "type": record.rec_type,
                    "headers": dict(record.rec_headers.headers),
                    "status": http.get_statuscode() if http else None,
                    "http_headers": dict(http.headers) if http else {},
                    "body": record.content_stream().read(),
                }
            )
    return records


@dataclass
class InProcessCrawl(CrawlFiles):
    """A crawl run in the test's own process: its stats and verdict, read as objects."""

    stats: dict
    verdict: object
    data_dir: Path


async def crawl_in_process(
    site, data_dir: Path, arguments: dict | None = None, **settings
) -> InProcessCrawl:
    """The tramites spider with the project's settings, through Scrapy's CrawlerRunner
    (for tests that check stats, not what a user sees; those run `scrapy crawl`)."""
    runner = CrawlerRunner(project_settings(**crawl_settings(site, data_dir, **settings)))
    crawler = runner.create_crawler(TramitesSpider)
    await runner.crawl(crawler, **(arguments or {}))
    verdict = crawler.get_extension(CrawlState).verdict
    return InProcessCrawl(crawler.stats.get_stats(), verdict, data_dir)
