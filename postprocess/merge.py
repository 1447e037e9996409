"""Merge the WFS permits with their pages into one table.

    python -m postprocess.merge [--data-dir data] [--output FILE] [--numeric]

Reads `tramites.jsonl` (one record per WFS feature) and `detalles.jsonl` (one record per
permit page) from the data folder and writes `tramites_merge.csv` there unless `--output`
names another file; its extension picks the format (see postprocess.formats): `.xlsx` is
the spreadsheet file, `.csv` (UTF-8) is for programs. An `--output` that would write over a
file the crawl keeps (`tramites.jsonl`, `detalles.jsonl`, `cambios.jsonl`,
`paginas_fallidas.jsonl`, `capa.json`, anything in `historial/`, `archivo/` or `muestras/`,
in the folder merged or any folder a crawl has used) is refused with one line before
anything is read or written.

The join is exact: a page record joins the API record of the permit it was requested
for, the one with its `id_pc_tramite` (the crawl writes it in every page record). A page
record without one joins the first permit with its identity, what the page identifier
encodes: the canonical `codigo_catastral`, `numero_tramite` and registration year (taken
from the record's fields, else decoded from its `identificador`). So a parcel with several
permits keeps one row per permit, permits that share a code and number in different years
or that have no code keep their own pages, and a failed page, or one never requested
(`sin_numero_tramite`...), still joins its permit. It is an outer join: `fuente` says
whether a row came from the `API`, the page (`HTML`) or `Ambos`. A permit listed twice by
the WFS (unstable paging) is kept once; a page recorded twice for the same permit keeps its
successful record, else the last one.

Columns: the API fields in TRAMITE_FIELDS order (`id_pc_tramite`, `codigo_catastral` and
`numero_tramite` come from the page record on `HTML` rows), then `anio`, `identificador`,
`url`, `error_pagina` (the page record's `error`), `fecha_consulta_pagina` (when the page
was fetched; `fecha_consulta` is when the permit's WFS page was), `warc_archivo` and
`warc_registro` (the archived answer, see lapaz.crawl.archive), then the page keys section
by section (`gral__`, `par__`, `otro__`, as first seen), anything else, and `fuente` last.
The page's own code stays in `gral__codigo_catastral`; rows where it differs from `codigo_catastral`
once both are in the same form are reported. With `--numeric`, each `par__<key>` column
holding numbers is followed by `par__<key>_num` and `par__<key>_unidad` (see
postprocess.numeric). Code-like columns are text, whole numbers are nullable integers.
"""

import argparse
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pandas as pd

from lapaz.i18n import _
from lapaz.permits.identity import decode_identifier
from lapaz.records.schema import (
    DETALLE_FIELDS,
    FLOAT_FIELDS,
    INTEGER_FIELDS,
    PROVENANCE_FIELDS,
    TEXT_CODE_FIELDS,
    TRAMITE_FIELDS,
    order_keys,
)
from lapaz.records.values import normalize_codigo_catastral, registration_year
from lapaz.storage.files import LOCK_FILE
from lapaz.storage.jsonl import JsonLinesError, read_jsonl
from lapaz.storage.store import (
    DETALLES_FILE,
    TRAMITES_FILE,
    TRAMITES_PARTIAL_FILE,
    crawl_file,
)
from postprocess.blds import blds_records
from postprocess.demo_mark import DEMO_COLUMN, DEMO_MARK, is_demo, is_demo_table
from postprocess.formats import OUTPUT_FORMATS, write_table
from postprocess.numeric import add_numeric_columns
from postprocess.privacy import without_personal_data

DEFAULT_OUTPUT = "tramites_merge.csv"
DEFAULT_BLDS_OUTPUT = "permisos_blds.csv"
BLDS_FORMATS = (".csv", ".jsonl", ".xlsx")
# With --parcial: true on every row of a table made from an interrupted harvest.
PARTIAL_COLUMN = "descarga_incompleta"

SOURCE_COLUMN = "fuente"
SOURCE_BY_SIDE = {"left_only": "API", "right_only": "HTML", "both": "Ambos"}
PAGE_ERROR_COLUMN = "error_pagina"
PAGE_FETCHED_COLUMN = "fecha_consulta_pagina"
# The page record's own names -> their columns in the merged table.
PAGE_COLUMNS = {"error": PAGE_ERROR_COLUMN, "fecha_consulta": PAGE_FETCHED_COLUMN}
PAGE_CODE_COLUMN = "gral__codigo_catastral"
# The page record repeats these API fields to say which permit it belongs to.
PERMIT_FIELDS = ("id_pc_tramite", "codigo_catastral", "numero_tramite")
LEADING_COLUMNS = [
    *TRAMITE_FIELDS,
    "anio",
    "identificador",
    "url",
    *(PAGE_COLUMNS.get(name, name) for name in ["error", *PROVENANCE_FIELDS]),
]

TEXT_COLUMNS = TEXT_CODE_FIELDS | {PAGE_CODE_COLUMN, "identificador"}
WHOLE_NUMBER_COLUMNS = INTEGER_FIELDS | {"anio"}

_KEY = "_clave"
_PAGE_PREFIX = "_pagina_"
_API_ROW = "_fila_api"
_PAGE_ROW = "_fila_pagina"
MISMATCH_EXAMPLES = 5
MISMATCH_COLUMNS = ["id_pc_tramite", "numero_tramite", "codigo_catastral", PAGE_CODE_COLUMN]


@dataclass
class MergeReport:
    rows_by_source: dict[str, int] = field(default_factory=dict)
    page_errors: dict[str, int] = field(default_factory=dict)
    codigo_mismatches: int = 0
    mismatch_examples: list[dict] = field(default_factory=list)
    duplicate_permits: int = 0
    duplicate_pages: int = 0


# -- Typed frames from records -------------------------------------------------------


def as_text(value: object) -> str | None:
    """A value as text; whole floats lose their ".0" (18122.0 -> "18122")."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def typed_column(name: str, values: list) -> pd.Series:
    """The values of one key as a column whose type fits them and the schema.

    Code-like keys are text whatever they were given as; whole numbers become nullable
    integers (no "61153.0"); a key with values of mixed kinds becomes text.
    """
    kinds = {type(value) for value in values if value is not None}
    if name in TEXT_COLUMNS or (not kinds and name not in WHOLE_NUMBER_COLUMNS | FLOAT_FIELDS):
        return pd.Series([as_text(value) for value in values], dtype="str")
    if kinds <= {int} and name not in FLOAT_FIELDS:
        return pd.Series(values, dtype="Int64")
    if kinds <= {int, float}:
        whole = name in WHOLE_NUMBER_COLUMNS and all(
            value is None or float(value).is_integer() for value in values
        )
        return pd.Series(values, dtype="Int64" if whole else "Float64")
    if kinds == {bool}:
        return pd.Series(values, dtype="boolean")
    return pd.Series([as_text(value) for value in values], dtype="str")


def records_to_frame(records: list[dict], fields: list[str]) -> pd.DataFrame:
    """The records as a frame: `fields` first (even if no record has them), then other keys."""
    keys = dict.fromkeys([*fields, *(key for record in records for key in record)])
    return pd.DataFrame(
        {key: typed_column(key, [record.get(key) for record in records]) for key in keys}
    )


# -- The merge -------------------------------------------------------------------------


def _present(value: object) -> object:
    return None if value is None or value is pd.NA or value != value else value


def permit_identity(codigo: object, numero: object, anio: object) -> str | None:
    """What a page identifier encodes, `<codigo>|<numero>|<year>` with the canonical code.

    None when a part is missing: the crawl builds no identifier for such a permit.
    """
    codigo = normalize_codigo_catastral(_present(codigo))
    numero, anio = _present(numero), _present(anio)
    if codigo is None or numero is None or anio is None:
        return None
    return f"{codigo}|{as_text(numero)}|{as_text(anio)}"


def identifier_identity(identificador: object) -> str | None:
    """The identity a page identifier encodes, or None when it is not one."""
    identificador = _present(identificador)
    if not isinstance(identificador, str):
        return None
    try:
        return permit_identity(*decode_identifier(identificador))
    except ValueError:  # not base64, not UTF-8 or not three parts
        return None


def _id_key(id_pc_tramite: object) -> str | None:
    id_pc_tramite = _present(id_pc_tramite)
    return None if id_pc_tramite is None else f"id:{as_text(id_pc_tramite)}"


def permit_keys(api: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    """Each API row's join key, and the key of the first permit with each identity.

    A permit is keyed by its `id_pc_tramite`; one without by its identity (the first of
    those sharing it; the others, like rows with neither, get a key no other row shares).
    """
    keys: list[str] = []
    key_by_identity: dict[str, str] = {}
    columns = ("id_pc_tramite", "codigo_catastral", "numero_tramite", "fecha_registro")
    for position, (id_pc_tramite, codigo, numero, fecha) in enumerate(
        zip(*(api[name] for name in columns), strict=True)
    ):
        identity = permit_identity(codigo, numero, registration_year(_present(fecha)))
        key = _id_key(id_pc_tramite)
        if key is None and identity is not None and identity not in key_by_identity:
            key = f"identidad:{identity}"
        key = key or f"?api{position}"
        if identity is not None:
            key_by_identity.setdefault(identity, key)
        keys.append(key)
    return keys, key_by_identity


def page_keys(pages: pd.DataFrame, key_by_identity: dict[str, str]) -> list[str]:
    """Each page record's join key: that of the permit it was requested for.

    The permit's `id_pc_tramite` when the record has one; else the key of the permit with
    the record's identity (from its fields, else from its identifier); else a key no other
    row shares.
    """
    keys: list[str] = []
    columns = ("id_pc_tramite", "codigo_catastral", "numero_tramite", "anio", "identificador")
    for position, (id_pc_tramite, codigo, numero, anio, identificador) in enumerate(
        zip(*(pages[name] for name in columns), strict=True)
    ):
        key = _id_key(id_pc_tramite)
        if key is None:
            identity = permit_identity(codigo, numero, anio) or identifier_identity(identificador)
            if identity is not None:
                key = key_by_identity.get(identity, f"identidad:{identity}")
        keys.append(key or f"?pagina{position}")
    return keys


def with_columns(frame: pd.DataFrame, fields: list[str]) -> pd.DataFrame:
    """`frame` with every one of `fields`, empty where it had none."""
    missing = {name: pd.Series(pd.NA, index=frame.index, dtype="str") for name in fields}
    return frame.assign(**{name: column for name, column in missing.items() if name not in frame})


def drop_duplicate_permits(api: pd.DataFrame) -> pd.DataFrame:
    """The API records with each `id_pc_tramite` once (the first)."""
    ids = api["id_pc_tramite"]
    return api[ids.isna() | ~ids.duplicated()]


def drop_duplicate_pages(pages: pd.DataFrame) -> pd.DataFrame:
    """The page records with each join key once: a successful one if any, else the last."""
    failed_first = pages.assign(_ok=pages["error"].isna()).sort_values("_ok", kind="stable")
    kept = failed_first.drop_duplicates(_KEY, keep="last").drop(columns="_ok")
    return kept.sort_values(_PAGE_ROW)


def error_reason(error: str) -> str:
    """The reason of a page error: "TimeoutError: took too long" -> "TimeoutError"."""
    return error.split(":", 1)[0].strip()


def count_page_errors(errors: pd.Series) -> dict[str, int]:
    """How many pages failed for each reason, the most frequent first."""
    return dict(Counter(error_reason(error) for error in errors.dropna()).most_common())


def codigo_mismatches(merged: pd.DataFrame) -> pd.DataFrame:
    """The permits whose page code and API code differ once brought to the same form."""
    if PAGE_CODE_COLUMN not in merged:
        return pd.DataFrame(columns=MISMATCH_COLUMNS)
    both = merged[merged[PAGE_CODE_COLUMN].notna() & merged["codigo_catastral"].notna()]
    differs = [
        normalize_codigo_catastral(page_code) != normalize_codigo_catastral(codigo)
        for page_code, codigo in zip(both[PAGE_CODE_COLUMN], both["codigo_catastral"], strict=True)
    ]
    return both.loc[pd.Series(differs, index=both.index, dtype=bool), MISMATCH_COLUMNS]


def merge(tramites: pd.DataFrame, detalles: pd.DataFrame) -> tuple[pd.DataFrame, MergeReport]:
    """One row per permit and per page without permit, and what the merge found."""
    api = with_columns(tramites, TRAMITE_FIELDS).reset_index(drop=True)
    keys, key_by_identity = permit_keys(api)
    api = api.assign(**{_KEY: keys, _API_ROW: range(len(api))})
    unique_api = drop_duplicate_permits(api)

    pages = with_columns(detalles, DETALLE_FIELDS).reset_index(drop=True)
    pages = pages.assign(**{_KEY: page_keys(pages, key_by_identity), _PAGE_ROW: range(len(pages))})
    unique_pages = drop_duplicate_pages(pages).rename(
        columns=PAGE_COLUMNS | {name: f"{_PAGE_PREFIX}{name}" for name in PERMIT_FIELDS}
    )

    merged = unique_api.merge(
        unique_pages, on=_KEY, how="outer", indicator=True, suffixes=("", "_pagina")
    )
    merged = merged.sort_values([_API_ROW, _PAGE_ROW], kind="stable", na_position="last")
    merged = merged.reset_index(drop=True)
    for name in PERMIT_FIELDS:
        merged[name] = merged[name].where(merged[name].notna(), merged[f"{_PAGE_PREFIX}{name}"])
    merged[SOURCE_COLUMN] = pd.Series(
        merged["_merge"].astype(str).map(SOURCE_BY_SIDE), index=merged.index, dtype="str"
    )

    internal = {_KEY, _API_ROW, _PAGE_ROW, "_merge", SOURCE_COLUMN}
    internal |= {f"{_PAGE_PREFIX}{name}" for name in PERMIT_FIELDS}
    columns = order_keys((name for name in merged if name not in internal), LEADING_COLUMNS)
    merged = merged[[*columns, SOURCE_COLUMN]]

    mismatches = codigo_mismatches(merged)
    sources = merged[SOURCE_COLUMN].value_counts()
    report = MergeReport(
        rows_by_source={source: int(sources.get(source, 0)) for source in SOURCE_BY_SIDE.values()},
        page_errors=count_page_errors(merged[PAGE_ERROR_COLUMN]),
        codigo_mismatches=len(mismatches),
        mismatch_examples=mismatches.head(MISMATCH_EXAMPLES).to_dict("records"),
        duplicate_permits=len(api) - len(unique_api),
        duplicate_pages=len(pages) - len(unique_pages),
    )
    return merged, report


# -- Output ----------------------------------------------------------------------------


def format_report(report: MergeReport) -> str:
    """What the merge did, as lines for a person."""
    sources = ", ".join(f"{source} {count}" for source, count in report.rows_by_source.items())
    lines = [_("Rows by fuente: {sources}").format(sources=sources)]
    errors = sum(report.page_errors.values())
    reasons = ", ".join(f"{reason} {count}" for reason, count in report.page_errors.items())
    lines.append(
        _("Pages with errors: {count}").format(count=errors) + (f" ({reasons})" if errors else "")
    )
    lines.append(
        _("Page code differs from permit code: {count} rows").format(count=report.codigo_mismatches)
    )
    lines += [
        _("  id_pc_tramite {id}, numero_tramite {numero}: {codigo} vs page {page_code}").format(
            id=example["id_pc_tramite"],
            numero=example["numero_tramite"],
            codigo=example["codigo_catastral"],
            page_code=repr(example[PAGE_CODE_COLUMN]),
        )
        for example in report.mismatch_examples
    ]
    if report.duplicate_permits or report.duplicate_pages:
        lines.append(
            _(
                "Duplicates dropped: {permits} permits listed twice, {pages} pages recorded twice"
            ).format(permits=report.duplicate_permits, pages=report.duplicate_pages)
        )
    return "\n".join(lines)


class InputError(Exception):
    """An input that cannot be merged; the message is one line."""


def tramites_input(data_dir: Path, partial: bool) -> tuple[Path, list[str]]:
    """The features file to merge, and warnings about it.

    The crawl writes its features to tramites.jsonl.partial and renames it tramites.jsonl
    once the harvest is complete: without the complete file, the partial one is what an
    interrupted run left, merged only when asked (--parcial).
    """
    complete, interrupted = data_dir / TRAMITES_FILE, data_dir / TRAMITES_PARTIAL_FILE
    if partial:
        if not interrupted.is_file():
            raise InputError(
                _(
                    "{path}: file not found (no interrupted harvest to merge;"
                    " merge without --parcial)"
                ).format(path=interrupted)
            )
        return interrupted, []
    if complete.is_file():
        newer = interrupted.is_file() and interrupted.stat().st_mtime > complete.stat().st_mtime
        note = _(
            "{partial} is newer: a later harvest was interrupted or is running;"
            " merging the last complete one, {complete} (--parcial merges the other)"
        ).format(partial=interrupted, complete=complete)
        return complete, [note] if newer else []
    if interrupted.is_file():
        raise InputError(
            _(
                "{complete}: file not found, but {partial} holds an interrupted harvest:"
                " run the crawl again to complete it, or merge what it has with --parcial"
            ).format(complete=complete, partial=interrupted)
        )
    raise InputError(
        _("{path}: file not found (run scrapy crawl tramites first)").format(path=complete)
    )


def data_folders(output: Path, data_dir: Path) -> list[Path]:
    """The data folders `output` could be in: the one merged, and any folder above the
    output that a crawl has used (it holds the crawl's lock file)."""
    above = [folder for folder in output.resolve().parents if (folder / LOCK_FILE).exists()]
    return [data_dir, *above]


def output_problem(output: Path, data_dir: Path) -> str | None:
    """Why the merge must not write `output`, in one line, or None: writing over one of
    the crawl's files (the merge's own inputs among them) would lose what the crawl kept."""
    for folder in data_folders(output, data_dir):
        owned = crawl_file(output, folder)
        if owned is not None:
            return _(
                "--output {output} would write over the crawl's {owned} in {folder}:"
                " choose another name, e.g. {example}"
            ).format(output=output, owned=owned, folder=folder, example=folder / DEFAULT_OUTPUT)
    return None


def no_features_to_merge(path: Path) -> str:
    return _(
        "{path} holds no features: the interrupted harvest got none, there is nothing to merge"
    ).format(path=path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m postprocess.merge",
        description=_("Merge the WFS permits (tramites.jsonl) with their pages (detalles.jsonl)."),
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path("data"), help=_("folder of the JSON-lines inputs")
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=_(
            "output file, {formats} (default: DATA_DIR/{default}; with --blds DATA_DIR/{blds})"
        ).format(
            formats=", ".join(OUTPUT_FORMATS), default=DEFAULT_OUTPUT, blds=DEFAULT_BLDS_OUTPUT
        ),
    )
    parser.add_argument(
        "--numeric",
        action="store_true",
        help=_("add par__<key>_num and par__<key>_unidad after each par__ value with a number"),
    )
    # Gone: a CSV is read wrong by a Spanish-locale spreadsheet whatever its encoding.
    parser.add_argument("--excel", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--sin-nombres",
        action="store_true",
        help=_("leave out the personal data (names; the architects' registry numbers)"),
    )
    parser.add_argument(
        "--parcial",
        action="store_true",
        help=_("merge an interrupted harvest ({file}), marked as incomplete").format(
            file=TRAMITES_PARTIAL_FILE
        ),
    )
    parser.add_argument(
        "--blds",
        action="store_true",
        help=_("write the permits as BLDS core permit records (see docs/diccionario.md)"),
    )
    args = parser.parse_args(argv)
    default = DEFAULT_BLDS_OUTPUT if args.blds else DEFAULT_OUTPUT
    args.output = args.output or args.data_dir / default
    suffix = args.output.suffix.lower()
    formats = BLDS_FORMATS if args.blds else OUTPUT_FORMATS
    if suffix not in formats:
        parser.error(
            _("--output must end in {formats}: {path}").format(
                formats=", ".join(formats), path=args.output
            )
        )
    if args.excel:
        parser.error(_("--excel is gone: spreadsheets open the .xlsx (--output FILE.xlsx)"))
    return args


def read_inputs(args: argparse.Namespace) -> tuple[list[dict], list[dict], Path]:
    """The feature and page records, and the features file they came from."""
    try:
        path, notes = tramites_input(args.data_dir, args.parcial)
        tramites = read_jsonl(path)
        detalles = read_jsonl(args.data_dir / DETALLES_FILE)
    except (InputError, JsonLinesError) as error:
        raise InputError(str(error)) from None
    if args.parcial and not tramites.records:
        raise InputError(no_features_to_merge(path))
    for warning in [*notes, *tramites.warnings, *detalles.warnings]:
        print(_("warning: {why}").format(why=warning), file=sys.stderr)
    return tramites.records, detalles.records, path


def output_table(merged: pd.DataFrame, args: argparse.Namespace) -> tuple[pd.DataFrame, list]:
    """The table to write as the options ask, and lines saying what they changed."""
    notes = []
    if args.sin_nombres:
        merged, dropped = without_personal_data(merged)
        notes.append(
            _("Personal data left out: {columns}").format(
                columns=", ".join(dropped) or _("none found")
            )
        )
    if args.parcial:
        merged = merged.assign(**{PARTIAL_COLUMN: pd.Series(True, index=merged.index)})
        notes.append(
            _(
                "INCOMPLETE HARVEST: merged from {file}, permits may be missing;"
                " the column {column} marks every row"
            ).format(file=TRAMITES_PARTIAL_FILE, column=PARTIAL_COLUMN)
        )
    if args.blds:
        permits = blds_records(merged)
        left_out = len(merged) - len(permits)
        notes.append(
            _("BLDS: {permits} permits ({left_out} pages without a permit left out)").format(
                permits=len(permits), left_out=left_out
            )
        )
        merged = permits
    if is_demo(args.data_dir):
        merged = merged.assign(**{DEMO_COLUMN: pd.Series(True, index=merged.index)})
    return merged, notes


def demo_line(data_dir: Path) -> str:
    """The merge's first line when its data folder is the demo's."""
    return _(
        "{mark}: {folder} was made by python -m tools.demo from a replica of the site; its"
        " permits are invented, not La Paz's. The column {column} marks every row"
    ).format(mark=DEMO_MARK, folder=data_dir, column=DEMO_COLUMN)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problem = output_problem(args.output, args.data_dir)
    if problem is not None:
        print(_("error: {why}").format(why=problem), file=sys.stderr)
        return 1
    try:
        tramites, detalles, source = read_inputs(args)
    except InputError as error:
        print(_("error: {why}").format(why=error), file=sys.stderr)
        return 1
    pages = records_to_frame(detalles, DETALLE_FIELDS)
    if args.numeric:
        pages = add_numeric_columns(pages)
    merged, report = merge(records_to_frame(tramites, TRAMITE_FIELDS), pages)
    table, notes = output_table(merged, args)
    if is_demo_table(table.columns):
        print(demo_line(args.data_dir))
    try:
        write_table(table, args.output)
    except OSError as error:
        print(
            _("error: {path}: cannot write ({why})").format(
                path=args.output, why=error.strerror or error
            ),
            file=sys.stderr,
        )
        return 1
    print(
        _(
            "Read {permits} permits ({file}) and {pages} pages;"
            " wrote {rows} rows, {columns} columns to {output}"
        ).format(
            permits=len(tramites),
            file=source.name,
            pages=len(detalles),
            rows=len(table),
            columns=len(table.columns),
            output=args.output,
        )
    )
    print("\n".join([format_report(report), *notes]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
