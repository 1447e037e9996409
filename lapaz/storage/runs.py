"""The run history: one line per crawl, successful or not, in `historial/corridas.jsonl`.

Every run appends one JSON object (the crawl's extension lapaz.crawl.extensions.run_history
writes it when the spider closes, the `crawl` command when the crawl could not start):

    {"inicio": "2026-12-07T07:30:02Z", "fin": "2026-12-07T07:41:15Z", "duracion_s": 673.2,
     "estado": "correcta", "cierre": "finished", "motivo": null,
     "features_recibidas": 13907, "features_servidor": 13907, "tramites_nuevos": 41,
     "paginas_pedidas": 57, "paginas_ok": 50, "paginas_rechazadas": 2,
     "paginas_sin_datos": 0, "paginas_fallidas": 5, "paginas_persistentes": 5,
     "peticiones": 63, "bytes_recibidos": 13114368, "warc": "lapaz-20261207T073002Z.warc.gz",
     "version": "1.0.0", "capa_huella": "3f0c…",
     "capa_propiedades": {"idPCTramite": ["integer"], …}}

`estado` says how it ended: `correcta` (exit status 0), `fallida` (it ran, and its last line,
`motivo`, says why not), `no_iniciada` (it could not start: a bad argument, a data folder
another crawl holds). `cierre` is Scrapy's finish reason. `paginas_persistentes` counts
the `paginas_fallidas` that failed in an earlier run too (`paginas_fallidas.jsonl` lists
them). `capa_propiedades` is the layer's property names with the JSON types of their
values, the fingerprint `capa.json` keeps; `capa_huella` a short digest of it. A figure
the run never got to is null. The file is only ever appended to: nothing a run does
rewrites an earlier line.
"""

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from lapaz.storage.files import append_json_lines
from lapaz.storage.history import HISTORY_DIR, harvest_label
from lapaz.storage.jsonl import JsonLines, read_jsonl

RUNS_FILE = "corridas.jsonl"

SUCCEEDED = "correcta"
FAILED = "fallida"
NOT_STARTED = "no_iniciada"


@dataclass(frozen=True)
class Run:
    """One line of the run history; see the module's docstring for each field."""

    inicio: str
    fin: str
    duracion_s: float
    estado: str
    version: str
    cierre: str | None = None
    motivo: str | None = None
    features_recibidas: int | None = None
    features_servidor: int | None = None
    tramites_nuevos: int | None = None
    paginas_pedidas: int | None = None
    paginas_ok: int | None = None
    paginas_rechazadas: int | None = None
    paginas_sin_datos: int | None = None
    paginas_fallidas: int | None = None
    paginas_persistentes: int | None = None
    peticiones: int | None = None
    bytes_recibidos: int | None = None
    warc: str | None = None
    capa_huella: str | None = None
    capa_propiedades: dict[str, list[str]] | None = None


def run_times(started: datetime, ended: datetime) -> dict[str, object]:
    """`inicio`, `fin` (UTC, to the second) and `duracion_s` of a run."""
    return {
        "inicio": harvest_label(started),
        "fin": harvest_label(ended),
        "duracion_s": round((ended - started).total_seconds(), 1),
    }


def runs_path(data_dir: Path) -> Path:
    return data_dir / HISTORY_DIR / RUNS_FILE


def append_run(data_dir: Path, run: Run) -> Path:
    """Append the run's line to the history (made with its folder if need be); its path."""
    path = runs_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    append_json_lines(path, [asdict(run)])
    return path


def read_runs(data_dir: Path) -> JsonLines:
    """The run history's lines, oldest first (none when no run has written one yet); a
    line cut short by a killed process is left out with a warning."""
    path = runs_path(data_dir)
    if not path.exists():
        return JsonLines()
    return read_jsonl(path)
