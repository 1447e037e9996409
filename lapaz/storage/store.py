"""The data folder written by one crawl: opened (locked, read), written, then committed.

Each run harvests the whole WFS layer again (a few requests) into
`tramites.jsonl.partial`; `detalles.jsonl` is kept across runs and this run's page records
are appended to it as they come, so a run requests only the pages it lacks (new permits,
pages that failed, pages whose permit changed) and a killed crawl resumes from the files.

Only a run whose harvest is complete commits: its features replace `tramites.jsonl`,
`detalles.jsonl` is compacted to one record per page, the harvest is kept in `historial/`
with its changes in `cambios.jsonl`, and `paginas_fallidas.jsonl` and `capa.json` are
written (lapaz.storage.previous). Any other run leaves those files as they were, apart from
the page records it appended.
"""

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import orjson

from lapaz.i18n import _
from lapaz.records.pick import keep_replaced_pages, one_record_per_page
from lapaz.records.schema import PageOutcome
from lapaz.storage import history
from lapaz.storage.files import (
    ARCHIVE_DIR,
    LOCK_FILE,
    SAMPLES_DIR,
    lock_folder,
    replace_atomically,
)
from lapaz.storage.history import CHANGES_FILE, HISTORY_DIR
from lapaz.storage.jsonl import read_jsonl
from lapaz.storage.previous import (
    DETALLES_FILE,
    FAILURES_FILE,
    LAYER_FILE,
    TRAMITES_FILE,
    LayerRecord,
    PageFailure,
    PreviousHarvest,
    read_previous,
)

logger = logging.getLogger(__name__)

# Where a run writes its features; it becomes TRAMITES_FILE when the harvest is complete.
TRAMITES_PARTIAL_FILE = "tramites.jsonl.partial"
# What the crawl writes in its data folder: no other program may write over them.
CRAWL_FILES = frozenset(
    {
        TRAMITES_FILE,
        TRAMITES_PARTIAL_FILE,
        DETALLES_FILE,
        CHANGES_FILE,
        FAILURES_FILE,
        LAYER_FILE,
        LOCK_FILE,
    }
)
CRAWL_FOLDERS = frozenset({HISTORY_DIR, ARCHIVE_DIR, SAMPLES_DIR})
# A file being written, renamed over its final name once whole (lapaz.storage.files).
PARTIAL_SUFFIX = ".partial"
__all__ = [
    "CRAWL_FILES",
    "DETALLES_FILE",
    "TRAMITES_FILE",
    "TRAMITES_PARTIAL_FILE",
    "DataStore",
    "crawl_file",
]


def crawl_file(path: Path, data_dir: Path) -> str | None:
    """Which of the crawl's files or folders in `data_dir` `path` is (`cambios.jsonl`,
    `historial/`...), or None when it is none of them."""
    try:
        inside = path.resolve().relative_to(data_dir.resolve())
    except ValueError:
        return None
    first, *rest = inside.parts or ("",)
    if rest and first in CRAWL_FOLDERS:
        return f"{first}/"
    if not rest and (first in CRAWL_FILES or first.endswith(PARTIAL_SUFFIX)):
        return first
    return None


class DataStore:
    """The data directory of one crawl."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.previous = PreviousHarvest()
        self._full_refresh = False
        # Where this run's page records start in detalles.jsonl.
        self._pages_start = 0
        self._streams = {}
        self._lock = None
        # Features written to TRAMITES_PARTIAL_FILE by this run.
        self.features_written = 0

    def open(self, full_refresh: bool) -> PreviousHarvest:
        """Lock the folder and read what it holds; nothing in it is rewritten."""
        self._lock = lock_folder(self.data_dir)
        self._full_refresh = full_refresh
        self.previous = read_previous(self.data_dir, full_refresh)
        for warning in self.previous.warnings:
            logger.warning(warning)
        (self.data_dir / TRAMITES_PARTIAL_FILE).unlink(missing_ok=True)
        detalles = self.data_dir / DETALLES_FILE
        self._pages_start = detalles.stat().st_size if detalles.exists() else 0
        return self.previous

    @property
    def is_open(self) -> bool:
        return self._lock is not None

    def write(self, kind: str, record: dict) -> None:
        """Append a record, flushed at once (a killed crawl keeps what it wrote)."""
        stream = self._streams.get(kind)
        if stream is None:
            path = self.data_dir / (TRAMITES_PARTIAL_FILE if kind == "tramites" else DETALLES_FILE)
            _drop_torn_tail(path)
            stream = self._streams[kind] = path.open("ab")
        stream.write(orjson.dumps(record) + b"\n")
        stream.flush()
        if kind == "tramites":
            self.features_written += 1

    def close_files(self) -> None:
        for stream in self._streams.values():
            stream.close()
        self._streams.clear()

    def commit(
        self,
        replaced_pages: set,
        failures: list[PageFailure],
        layer: LayerRecord | None,
        harvest_time: datetime | None = None,
    ) -> None:
        """Make this run's complete harvest the folder's: see the module's docstring.

        `layer` (the whole layer harvested) also keeps the harvest in historial/.
        """
        self.close_files()
        detalles = self.data_dir / DETALLES_FILE
        if detalles.exists():
            records = read_jsonl(detalles).records
            if self._full_refresh:
                records = _records_from(detalles, self._pages_start)
            records = keep_replaced_pages(one_record_per_page(records), replaced_pages)
            replace_atomically(detalles, (orjson.dumps(record) for record in records))
            self._write_failures(records, failures)
        partial = self.data_dir / TRAMITES_PARTIAL_FILE
        if not partial.exists():
            partial.touch()  # a layer without features is a harvest too
        partial.replace(self.data_dir / TRAMITES_FILE)
        if layer is not None:
            history.record_harvest(self.data_dir, harvest_time or datetime.now(UTC))
            replace_atomically(self.data_dir / LAYER_FILE, [orjson.dumps(asdict(layer))])

    def _write_failures(self, records: list[dict], failures: list[PageFailure]) -> None:
        """The pages whose record is a failure, each with since when it fails."""
        this_run = {failure.identificador: failure for failure in failures}
        known = {**self.previous.failures, **this_run}
        failing = [
            known[record["identificador"]]
            for record in records
            if record.get("identificador") in known
            and PageOutcome.of_error(record.get("error")) is PageOutcome.FAILED
        ]
        lines = (orjson.dumps(asdict(failure)) for failure in failing)
        replace_atomically(self.data_dir / FAILURES_FILE, lines)

    def keep_incomplete(self) -> None:
        """Leave the folder's harvest as it was; say where this run's features are."""
        self.close_files()
        partial = self.data_dir / TRAMITES_PARTIAL_FILE
        has_complete = (self.data_dir / TRAMITES_FILE).exists()
        logger.warning(incomplete_harvest(partial, self.features_written, has_complete))

    def release(self) -> None:
        self.close_files()
        if self._lock is not None:
            self._lock.close()  # which releases the lock; so does the end of the process
            self._lock = None


def incomplete_harvest(partial: Path, features: int, has_complete: bool) -> str:
    """What an incomplete run says of its features: where they are, and, when no harvest
    was ever complete, how to merge them; only that it got none, when it got none."""
    if has_complete and not features:
        return _(
            "The harvest is incomplete: {kept} keeps the last complete one; this run got no"
            " features"
        ).format(kept=TRAMITES_FILE)
    if has_complete:
        return _(
            "The harvest is incomplete: {kept} keeps the last complete one, and this run's"
            " {count} features are in {partial}"
        ).format(kept=TRAMITES_FILE, count=features, partial=partial)
    if not features:
        return _("The harvest is incomplete and got no features: there is nothing to merge yet")
    return _(
        "The harvest is incomplete and there is no complete one yet: this run's {count}"
        " features are in {partial} (postprocess.merge --parcial merges them)"
    ).format(count=features, partial=partial)


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line that a killed crawl left unfinished (it was never a record), so
    that the next line written starts a line of its own."""
    if not path.exists():
        return
    with path.open("r+b") as stream:
        size = stream.seek(0, 2)
        if size == 0:
            return
        start = max(size - (1 << 20), 0)
        stream.seek(start)
        tail = stream.read()
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        stream.truncate(start + cut + 1 if cut >= 0 else start)


def _records_from(path: Path, offset: int) -> list[dict]:
    """The records written from `offset` on (this run's)."""
    with path.open("rb") as stream:
        stream.seek(offset)
        content = stream.read()
    return [orjson.loads(line) for line in content.splitlines() if line.strip()]
