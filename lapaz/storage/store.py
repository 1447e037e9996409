"""The data directory: `tramites.jsonl` and `detalles.jsonl`, and what they already hold.

Each run harvests the whole WFS layer again (a few requests) into
`tramites.jsonl.partial`, which replaces `tramites.jsonl` once the harvest is complete;
`detalles.jsonl` is kept across runs, so a run requests only the pages
it lacks: new permits, and pages that failed last time. This is also what makes a killed
crawl resumable: the files, not the scheduler's queue, are the record of work done.
"""

import fcntl
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

import orjson

from lapaz.records.diff import page_fingerprints
from lapaz.records.pick import keep_replaced_pages, page_is_done, record_key
from lapaz.storage import history
from lapaz.storage.files import _rewrite
from lapaz.storage.jsonl import read_jsonl

logger = logging.getLogger(__name__)

TRAMITES_FILE = "tramites.jsonl"
# Where a run writes its features; it becomes TRAMITES_FILE when the harvest is complete.
TRAMITES_PARTIAL_FILE = "tramites.jsonl.partial"
DETALLES_FILE = "detalles.jsonl"
# A page of a changed layout, kept for a person to look at (see lapaz.permits.drift).
SAMPLES_DIR = "muestras"
# Held while a crawl writes, so that two crawls never write the same files.
LOCK_FILE = ".lock"


def read_json_lines(path: Path) -> list[dict]:
    """The records of a JSON-lines file; a truncated last line is skipped with a warning."""
    content = read_jsonl(path)
    for warning in content.warnings:
        logger.warning(warning)
    return content.records


class DataStore:
    """The data directory of one crawl: opened (locked, read) when the crawl is built."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        # Identifiers of the pages earlier runs finished: not asked again.
        self.done_identifiers: set[str] = set()
        self.previous_feature_ids: set[int] = set()
        # id_pc_tramite -> fingerprint in the last complete harvest (lapaz.storage.history).
        self.previous_fingerprints: dict[object, bytes] = {}
        # Whether a complete harvest is of the whole layer, so kept in historial/ (the
        # spider says no when filters or a limit leave features out).
        self.keeps_history = True
        self._replaced_pages: set[object] = set()
        self._written = {"tramites": set(), "detalles": set()}
        self._streams = {}
        self._lock = None

    @classmethod
    def open_dir(cls, data_dir: Path, full_refresh: bool) -> "DataStore":
        store = cls(data_dir)
        store.open(full_refresh)
        return store

    def open(self, full_refresh: bool) -> None:
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._lock = (self.data_dir / LOCK_FILE).open("a")
        except OSError as error:
            raise OSError(f"the data directory {self.data_dir} is not writable: {error}") from error
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            raise OSError(
                f"another crawl is writing to {self.data_dir}: wait for it to end, or give this"
                " one another LAPAZ_DATA_DIR"
            ) from None
        tramites = self.data_dir / TRAMITES_FILE
        detalles = self.data_dir / DETALLES_FILE
        if tramites.exists() and not full_refresh:
            previous = read_json_lines(tramites)
            self.previous_feature_ids = {record.get("id_pc_tramite") for record in previous}
            self.previous_fingerprints = page_fingerprints(previous)
        if detalles.exists() and not full_refresh:
            self._keep_finished_pages(detalles)
        elif detalles.exists():
            detalles.unlink()
        self._streams["tramites"] = (self.data_dir / TRAMITES_PARTIAL_FILE).open("wb")
        self._streams["detalles"] = detalles.open("ab")

    def _keep_finished_pages(self, path: Path) -> None:
        """Rewrite `detalles.jsonl` with one record per finished page, dropping the rest."""
        kept: dict[object, bytes] = {}
        for record in read_json_lines(path):
            if page_is_done(record):
                kept.setdefault(record_key("detalles", record), orjson.dumps(record))
        _rewrite(path, kept.values())
        self.done_identifiers = {key for key in kept if isinstance(key, str)}
        self._written["detalles"] = set(kept)

    def replace_page(self, identificador: str, permit: object) -> None:
        """The permit's page is asked again (its record changed): the new page record is no
        duplicate, and at close it replaces the old one."""
        self._written["detalles"].discard(identificador)
        self._replaced_pages.add(permit)

    def keep_sample(self, body: bytes) -> str | None:
        """Keep a page that no longer looks like a permit page; its path, or None when it
        cannot be written (said in the log: the crawl goes on)."""
        moment = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = self.data_dir / SAMPLES_DIR / f"pagina-sin-secciones-{moment}.html"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
        except OSError as error:
            logger.warning("Could not keep a sample page in %s: %s", path, error)
            return None
        return str(path)

    def is_duplicate(self, kind: str, record: dict) -> bool:
        key = record_key(kind, record)
        return key is not None and key in self._written[kind]

    def write(self, kind: str, record: dict) -> None:
        key = record_key(kind, record)
        if key is not None:
            self._written[kind].add(key)
        stream = self._streams[kind]
        stream.write(orjson.dumps(record) + b"\n")
        stream.flush()

    def close(self, harvest_complete: bool) -> None:
        """Close the files; a complete harvest replaces `tramites.jsonl`."""
        for stream in self._streams.values():
            stream.close()
        self._streams.clear()
        partial = self.data_dir / TRAMITES_PARTIAL_FILE
        if self._replaced_pages:
            detalles = self.data_dir / DETALLES_FILE
            records = keep_replaced_pages(read_json_lines(detalles), self._replaced_pages)
            _rewrite(detalles, (orjson.dumps(record) for record in records))
        if harvest_complete and partial.exists():
            os.replace(partial, self.data_dir / TRAMITES_FILE)
            if self.keeps_history:
                history.record_harvest(self.data_dir, datetime.now(UTC))
        elif partial.exists() and (self.data_dir / TRAMITES_FILE).exists():
            logger.warning(
                "The harvest is incomplete: %s keeps the last complete one, and this run's"
                " features are in %s",
                TRAMITES_FILE,
                partial,
            )
        elif partial.exists():
            logger.warning(
                "The harvest is incomplete and there is no complete one yet: this run's"
                " features are in %s (postprocess.merge --parcial merges them)",
                partial,
            )
        if self._lock is not None:
            self._lock.close()  # which releases the lock; so does the end of the process
            self._lock = None
