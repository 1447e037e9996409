"""What earlier runs left in the data folder, read once when a crawl opens it (read-only).

Besides `tramites.jsonl` and `detalles.jsonl`, two small files carry what a run needs to
judge the dataset rather than its own sample:

- `paginas_fallidas.jsonl`: every page whose latest record is a failure, one JSON object
  a line: `{"identificador", "id_pc_tramite", "error", "primera_falla", "corridas"}` —
  the UTC time of its first failed answer, and in how many runs it has failed. A page
  that failed before and fails again is a *persisting* failure: reported, never by itself
  a reason for a non-zero exit.
- `capa.json`: the layer of the last complete harvest of the whole layer: its number of
  features (`entidades`) and its properties with the JSON types of their values
  (`propiedades`). A layer that shrank or whose properties changed since fails the run.

Both are written by a run that commits (lapaz.storage.store).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson

from lapaz.records.diff import NEW, needs_new_page, page_fingerprints
from lapaz.records.pick import page_is_done, record_key
from lapaz.storage.history import CHANGES_FILE, snapshots
from lapaz.storage.jsonl import JsonLines, read_jsonl

TRAMITES_FILE = "tramites.jsonl"
DETALLES_FILE = "detalles.jsonl"
FAILURES_FILE = "paginas_fallidas.jsonl"
LAYER_FILE = "capa.json"


@dataclass(frozen=True)
class PageFailure:
    """A page whose latest record is a failure, and since when it fails."""

    identificador: str
    id_pc_tramite: object
    error: str
    primera_falla: str
    corridas: int

    @property
    def persisting(self) -> bool:
        """Failed in an earlier run too."""
        return self.corridas > 1


@dataclass(frozen=True)
class LayerRecord:
    """The layer of the last complete harvest of the whole layer (`capa.json`)."""

    entidades: int
    propiedades: dict[str, list[str]]


@dataclass
class PreviousHarvest:
    """The data folder as the crawl found it."""

    feature_ids: set = field(default_factory=set)
    # id_pc_tramite -> fingerprint in the last complete harvest (lapaz.records.diff).
    fingerprints: dict[object, bytes] = field(default_factory=dict)
    # Identifiers of the pages earlier runs finished: not asked again.
    done_identifiers: set[str] = field(default_factory=set)
    # Permits with a finished page: a new record of theirs replaces it (at commit).
    finished_permits: set = field(default_factory=set)
    failures: dict[str, PageFailure] = field(default_factory=dict)
    layer: LayerRecord | None = None
    # When a permit was last new in a harvest (or the first harvest kept), if known.
    last_new_permit: datetime | None = None
    warnings: list[str] = field(default_factory=list)

    def page_is_done(self, *identifiers: str | None) -> bool:
        return not self.done_identifiers.isdisjoint(identifiers)

    def page_is_stale(self, permit: object, record: dict) -> bool:
        """The permit's record changed since the last complete harvest: its page too, maybe."""
        return needs_new_page(self.fingerprints.get(permit), record)

    def failure(self, record: dict, when: str) -> PageFailure:
        """The failure a failed page record makes, counted on from an earlier one."""
        key = record["identificador"]
        before = self.failures.get(key)
        return PageFailure(
            identificador=key,
            id_pc_tramite=record.get("id_pc_tramite"),
            error=record.get("error"),
            primera_falla=before.primera_falla if before else when,
            corridas=before.corridas + 1 if before else 1,
        )


def read_previous(data_dir: Path, full_refresh: bool) -> PreviousHarvest:
    """The folder's harvest and pages; with `full_refresh`, as if it held no pages."""
    previous = PreviousHarvest()
    tramites = data_dir / TRAMITES_FILE
    if tramites.exists():
        records = _records(tramites, previous)
        previous.feature_ids = {record.get("id_pc_tramite") for record in records}
        if not full_refresh:
            previous.fingerprints = page_fingerprints(records)
    if (data_dir / DETALLES_FILE).exists() and not full_refresh:
        _read_pages(_records(data_dir / DETALLES_FILE, previous), previous)
        if (data_dir / FAILURES_FILE).exists():
            known = _records(data_dir / FAILURES_FILE, previous)
            failures = {record["identificador"]: PageFailure(**record) for record in known}
            previous.failures.update(
                (key, failures.get(key, failure)) for key, failure in previous.failures.items()
            )
    if (data_dir / LAYER_FILE).exists():
        previous.layer = LayerRecord(**orjson.loads((data_dir / LAYER_FILE).read_bytes()))
    previous.last_new_permit = _last_new_permit(data_dir)
    return previous


def _records(path: Path, previous: PreviousHarvest) -> list[dict]:
    content: JsonLines = read_jsonl(path)
    previous.warnings += content.warnings
    return content.records


def _read_pages(records: list[dict], previous: PreviousHarvest) -> None:
    """Finished pages, and pages whose only records are failures (the last one counts)."""
    failed: dict[str, dict] = {}
    for record in records:
        key = record_key("detalles", record)
        if page_is_done(record):
            previous.done_identifiers.add(key)
            previous.finished_permits.add(record.get("id_pc_tramite"))
            failed.pop(key, None)
        elif isinstance(key, str) and key not in previous.done_identifiers:
            failed[key] = record
    previous.failures = {
        key: PageFailure(key, record.get("id_pc_tramite"), record.get("error"), _when(record), 1)
        for key, record in failed.items()
    }


def _when(record: dict) -> str:
    return record.get("fecha_consulta") or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _last_new_permit(data_dir: Path) -> datetime | None:
    """The latest harvest that brought a new permit, else the first harvest kept."""
    kept = snapshots(data_dir)
    latest = kept[0][0] if kept else None
    if (data_dir / CHANGES_FILE).exists():
        for line in read_jsonl(data_dir / CHANGES_FILE).records:
            if line.get("tipo") == NEW:
                moment = datetime.strptime(line["cosecha"], "%Y-%m-%dT%H:%M:%SZ")
                moment = moment.replace(tzinfo=UTC)
                latest = moment if latest is None else max(latest, moment)
    return latest
