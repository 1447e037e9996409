"""What changed between two complete harvests: snapshots, the change log, stale pages.

Each complete harvest of the whole layer is kept, compressed, as
`<data dir>/historial/tramites-YYYYMMDDTHHMMSSZ.jsonl.gz` (named by the UTC time it was
completed), and its changes against the previous snapshot are appended to
`<data dir>/cambios.jsonl`, one JSON object a line:

    {"cosecha": "2026-12-03T16:00:00Z", "id_pc_tramite": 123, "tipo": "modificado",
     "campo": "resultado", "antes": "OBSERVADO", "despues": "APROBADO"}

`tipo` is `nuevo` (in this harvest only), `retirado` (in the previous one only) or
`modificado` (one line per changed field); `campo`, `antes` and `despues` are null for the
first two. Records are matched on `id_pc_tramite` (a record without one cannot be matched
and is left out) and compared in their normalised form (see `normalised`), so that a
value written differently is no change.

The comparison itself is lapaz.records.diff; this module keeps the files.
"""

import gzip
import re
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lapaz.i18n import _
from lapaz.records.diff import changes
from lapaz.storage.files import append_json_lines, atomic_file
from lapaz.storage.jsonl import parse_jsonl, read_jsonl

TRAMITES_FILE = "tramites.jsonl"
HISTORY_DIR = "historial"
CHANGES_FILE = "cambios.jsonl"
SNAPSHOT_PREFIX = "tramites-"
SNAPSHOT_SUFFIX = ".jsonl.gz"
SNAPSHOT_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
_SNAPSHOT_NAME = re.compile(r"^tramites-(\d{8}T\d{6}Z)\.jsonl\.gz$")


def harvest_label(harvest_time: datetime) -> str:
    """The `cosecha` of a harvest: its UTC time, ISO 8601 to the second."""
    return harvest_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def snapshot_path(data_dir: Path, harvest_time: datetime) -> Path:
    name = SNAPSHOT_PREFIX + harvest_time.astimezone(UTC).strftime(SNAPSHOT_TIME_FORMAT)
    return data_dir / HISTORY_DIR / (name + SNAPSHOT_SUFFIX)


def snapshot_time(path: Path) -> datetime | None:
    """The harvest time a snapshot's name gives, or None for any other file."""
    match = _SNAPSHOT_NAME.match(path.name)
    if match is None:
        return None
    return datetime.strptime(match.group(1), SNAPSHOT_TIME_FORMAT).replace(tzinfo=UTC)


def snapshots(data_dir: Path) -> list[tuple[datetime, Path]]:
    """The kept harvests, oldest first."""
    folder = data_dir / HISTORY_DIR
    if not folder.is_dir():
        return []
    found = ((snapshot_time(path), path) for path in folder.iterdir())
    return sorted((time, path) for time, path in found if time is not None)


def read_snapshot(path: Path) -> list[dict]:
    """The records of a kept harvest."""
    try:
        content = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as error:
        raise OSError(
            _("{path}: cannot read the snapshot ({error})").format(path=path, error=error)
        ) from None
    return parse_jsonl(content, str(path)).records


def _free_time(data_dir: Path, harvest_time: datetime) -> datetime:
    """The harvest time, a second later while a snapshot has that name already (two
    harvests completed within one second must not overwrite each other)."""
    moment = harvest_time.astimezone(UTC).replace(microsecond=0)
    while snapshot_path(data_dir, moment).exists():
        moment += timedelta(seconds=1)
    return moment


def keep_snapshot(data_dir: Path, tramites_path: Path, harvest_time: datetime) -> Path:
    """Write a gzip copy of `tramites_path` into historial/, atomically (a temporary file
    renamed into place: a reader never sees half a snapshot)."""
    target = snapshot_path(data_dir, harvest_time)
    # mtime from the harvest: the same harvest gives the same bytes. zlib's default level,
    # not gzip's 9: half the CPU time, for a file a few per cent larger.
    mtime = int(harvest_time.timestamp())
    with (
        tramites_path.open("rb") as source,
        atomic_file(target) as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=mtime) as out,
    ):
        shutil.copyfileobj(source, out)
    return target


def record_harvest(data_dir: Path, harvest_time: datetime) -> Path:
    """A complete harvest has just become `tramites.jsonl`: log its changes against the
    latest snapshot before it, if any, then keep it as a snapshot; returns the snapshot.

    The log is written first: should the process die in between, the next harvest compares
    against the older snapshot and repeats some lines, rather than losing them.
    """
    harvest_time = _free_time(data_dir, harvest_time)
    tramites = data_dir / TRAMITES_FILE
    earlier = [path for time, path in snapshots(data_dir) if time < harvest_time]
    if earlier:
        current = read_jsonl(tramites).records
        lines = changes(read_snapshot(earlier[-1]), current, harvest_label(harvest_time))
        append_json_lines(data_dir / CHANGES_FILE, lines)
    return keep_snapshot(data_dir, tramites, harvest_time)
