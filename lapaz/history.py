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

No Scrapy here: the store calls `record_harvest`, the spider `page_fingerprints` and
`needs_new_page`.
"""

import gzip
import hashlib
import math
import os
import re
import shutil
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from lapaz.jsonl import parse_jsonl, read_jsonl
from lapaz.schema import TRAMITE_FIELDS, TRAMITE_PROVENANCE_FIELDS

TRAMITES_FILE = "tramites.jsonl"
HISTORY_DIR = "historial"
CHANGES_FILE = "cambios.jsonl"
SNAPSHOT_PREFIX = "tramites-"
SNAPSHOT_SUFFIX = ".jsonl.gz"
SNAPSHOT_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
_SNAPSHOT_NAME = re.compile(r"^tramites-(\d{8}T\d{6}Z)\.jsonl\.gz$")

KEY = "id_pc_tramite"
NEW, REMOVED, MODIFIED = "nuevo", "retirado", "modificado"
# Floats are compared to this many significant digits: enough for coordinates to 7
# decimals (~1 cm) and surfaces to the cent, while the last digits a server's float
# formatting adds (354.04 vs 354.04000000000002) make no change.
SIGNIFICANT_DIGITS = 10
_FIELD_ORDER = {name: position for position, name in enumerate(TRAMITE_FIELDS)}


# -- Comparing records -------------------------------------------------------------------


def normalised_value(value: object) -> object:
    """The comparison form of one value.

    Blank text is None (a server that writes null text as "" says the same); other text is
    stripped; whole numbers are ints (3 == 3.0); other floats keep SIGNIFICANT_DIGITS.
    Text is never read as a number: codes are text on purpose ("044..." is not 44).
    """
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            return int(value)
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, list | tuple):
        return [normalised_value(item) for item in value]
    if isinstance(value, Mapping):
        return {key: normalised_value(item) for key, item in value.items()}
    return value


def normalised(record: Mapping[str, object]) -> dict[str, object]:
    """The comparison form of a tramites record: normalised values, null fields left out
    (a field missing and a field null are the same), keys sorted (order means nothing).

    When it was fetched (`fecha_consulta`) says nothing of the permit: left out too.
    """
    values = (
        (key, normalised_value(value))
        for key, value in record.items()
        if key not in TRAMITE_PROVENANCE_FIELDS
    )
    return dict(sorted((key, value) for key, value in values if value is not None))


def record_fingerprint(record: Mapping[str, object]) -> bytes:
    """A short digest of the normalised record: equal records, equal fingerprints."""
    encoded = orjson.dumps(normalised(record), option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(encoded, digest_size=16).digest()


def _by_id(records: Iterable[Mapping[str, object]]) -> dict[object, Mapping[str, object]]:
    return {record[KEY]: record for record in records if record.get(KEY) is not None}


def id_order(key: object) -> tuple:
    """Sort key of ids: ints in order, then anything else a server might send, as text."""
    return (0, key, "") if isinstance(key, int) else (1, 0, str(key))


def _field_order(name: str) -> tuple:
    return (_FIELD_ORDER.get(name, len(_FIELD_ORDER)), name)


def _line(cosecha: str, key: object, tipo: str, campo=None, antes=None, despues=None) -> dict:
    return {
        "cosecha": cosecha,
        KEY: key,
        "tipo": tipo,
        "campo": campo,
        "antes": antes,
        "despues": despues,
    }


def record_changes(
    before: Mapping[str, object], after: Mapping[str, object]
) -> list[tuple[str, object, object]]:
    """(field, value before, value after) for each field whose normalised value differs,
    in the schema's field order; values as the records hold them (None when missing)."""
    old, new = normalised(before), normalised(after)
    names = sorted(old.keys() | new.keys(), key=_field_order)
    return [
        (name, before.get(name), after.get(name))
        for name in names
        if old.get(name) != new.get(name)
    ]


def changes(
    previous: Iterable[Mapping[str, object]],
    current: Iterable[Mapping[str, object]],
    cosecha: str,
) -> list[dict]:
    """The change-log lines from the `previous` harvest to the `current` one, ordered by
    id_pc_tramite, then by field."""
    old, new = _by_id(previous), _by_id(current)
    lines = []
    for key in sorted(old.keys() | new.keys(), key=id_order):
        if key not in old:
            lines.append(_line(cosecha, key, NEW))
        elif key not in new:
            lines.append(_line(cosecha, key, REMOVED))
        else:
            lines += [
                _line(cosecha, key, MODIFIED, name, before, after)
                for name, before, after in record_changes(old[key], new[key])
            ]
    return lines


# -- Pages that follow changes -------------------------------------------------------------


def page_fingerprints(previous: Iterable[Mapping[str, object]]) -> dict[object, bytes]:
    """id_pc_tramite -> fingerprint of each record of the previous complete harvest
    (`tramites.jsonl` before this crawl replaces it)."""
    return {key: record_fingerprint(record) for key, record in _by_id(previous).items()}


def needs_new_page(previous_fingerprint: bytes | None, record: Mapping[str, object]) -> bool:
    """Whether a page fetched for the permit's previous record is stale: its record changed
    since the previous complete harvest (a permit newly APROBADO included). A permit the
    previous harvest did not have has no stale page (it gets one as any page it lacks)."""
    return previous_fingerprint is not None and record_fingerprint(record) != previous_fingerprint


# -- Snapshots and the change log ----------------------------------------------------------


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
        raise OSError(f"{path}: cannot read the snapshot ({error})") from None
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
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with tramites_path.open("rb") as source, partial.open("wb") as raw:
        # mtime from the harvest: the same harvest gives the same bytes.
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=int(harvest_time.timestamp())) as out:
            shutil.copyfileobj(source, out)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(partial, target)
    return target


def append_changes(path: Path, lines: list[dict]) -> None:
    """Append the lines to the change log, flushed to disk."""
    if not lines:
        return
    with path.open("ab") as stream:
        stream.write(b"".join(orjson.dumps(line) + b"\n" for line in lines))
        stream.flush()
        os.fsync(stream.fileno())


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
        append_changes(data_dir / CHANGES_FILE, lines)
    return keep_snapshot(data_dir, tramites, harvest_time)
