"""Serve the merged GeoPackage with Datasette, described as the data dictionary says.

    python -m postprocess.datasette data/tramites.gpkg [--sin-nombres] [--port 8001]

Prepares, next to the GeoPackage, a folder `datasette/` (`datasette-sin-nombres/` with
`--sin-nombres`) and runs Datasette on what it holds:

- `<name>.db`: an SQLite copy of the layer `tramites` without the GeoPackage's internal
  tables and binary geometry (the map is drawn from `latitude` and `longitude`), rows keyed
  by `id_pc_tramite`, the columns a reader looks at first, the personal data last (or left
  out), `anio_registro` for facets by year, and a full-text index on the descriptive text;
- `metadata.json`: title, description, source, how to cite, licence, every column's
  description and unit (in Spanish, from postprocess.diccionario), suggested facets, the
  full-text index and the map (datasette-cluster-map).

The copy is rebuilt on each run: it follows the GeoPackage it comes from.
"""

import argparse
import importlib.util
import json
import os
import sqlite3
import sys
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from lapaz.i18n import _
from lapaz.records.schema import order_keys
from lapaz.records.values import la_paz_year
from postprocess.demo_mark import DEMO_MARK, DEMO_NOTE, demo_title, is_demo_table
from postprocess.diccionario import column_term, plain_text
from postprocess.formats import LAYER
from postprocess.privacy import is_personal

TABLE = LAYER
FTS_TABLE = f"{TABLE}_fts"
KEY = "id_pc_tramite"
YEAR_COLUMN = "anio_registro"
# What a reader looks at first; the rest follows in the merged table's order.
LEADING_COLUMNS = [
    KEY,
    "fecha_registro",
    YEAR_COLUMN,
    "descripcion",
    "resultado",
    "estado_tramite",
    "macro_distrito",
    "distrito_municipal",
    "gral__zona_referencial",
    "nombre_edificio",
    "tipo_proyecto",
    "tipo_obra",
    "superficie_construida",
    "superficie_legal",
    "cantidad_pisos",
    "codigo_catastral",
    "numero_tramite",
    "fecha_aprobacion",
    "url",
]
# Text worth searching: what was built, where, and (unless left out) by whom.
SEARCH_COLUMNS = [
    "descripcion",
    "nombre_edificio",
    "tipo_proyecto",
    "tipo_obra",
    "gral__zona_referencial",
    "gral__patron_de_asentamiento",
    "solicitante",
    "arquitecto_nombre",
    "otro__arquitecto_reponsable",
]
FACETS = [YEAR_COLUMN, "macro_distrito", "resultado", "descripcion"]
# The dictionary's units that Datasette (pint) can print next to a number.
PINT_UNITS = {"m²": "m^2", "m": "m"}
NUMERIC_TYPES = ("INTEGER", "REAL", "MEDIUMINT", "BIGINT", "FLOAT", "DOUBLE")

SOURCE = "Gobierno Autónomo Municipal de La Paz (GAMLP), Sistema de Información Territorial"
SOURCE_URL = "https://sitservicios.lapaz.bo/geoserver/sit/ows"
LICENSE = "Sin licencia declarada: datos públicos que publica el GAMLP (citar la fuente)"
# Sixty column descriptions in Datasette's one-per-line list push the map and the table
# out of sight: three to a line, smaller, in a box that scrolls.
STYLESHEET = """\
dl.column-descriptions {
  display: grid;
  grid-template-columns: repeat(3, minmax(9em, max-content) minmax(12em, 1fr));
  gap: 0.1em 0.8em;
  font-size: 0.8em;
  max-height: 16em;
  overflow-y: auto;
  border: 1px solid #ccc;
  padding: 0.4em;
}
dl.column-descriptions dt { font-weight: bold; }
dl.column-descriptions dd { margin: 0; }
"""
STATIC_MOUNT = "lapaz"
# Installed by requirements-extras.txt, not by the project's own requirements.
SERVING_PACKAGES = ("datasette", "datasette_cluster_map")


class PrepareError(Exception):
    """A GeoPackage that cannot be served; the message is one line."""


@dataclass(frozen=True)
class Prepared:
    database: Path
    metadata: Path
    keyed: bool  # rows keyed by id_pc_tramite (else by SQLite's rowid)


def layer_columns(connection: sqlite3.Connection) -> list[tuple[str, str]]:
    """The (name, declared type) of each column of the GeoPackage's layer but its geometry."""
    geometry = connection.execute(
        "select column_name from source.gpkg_geometry_columns where table_name = ?", (TABLE,)
    ).fetchone()
    rows = connection.execute(f'pragma source.table_info("{TABLE}")').fetchall()
    skipped = {"fid", geometry[0] if geometry else None}
    return [(name, kind or "TEXT") for _, name, kind, *_ in rows if name not in skipped]


def served_columns(columns: list[str], without_names: bool) -> list[str]:
    """The columns to serve in reading order; personal data last, or left out."""
    names = [name for name in columns if is_personal(name)]
    others = [name for name in columns if name not in names]
    ordered = order_keys(others, LEADING_COLUMNS)
    return ordered if without_names else [*ordered, *names]


def has_unique_keys(connection: sqlite3.Connection) -> bool:
    missing, total, distinct = connection.execute(
        f'select count(*) - count("{KEY}"), count(*), count(distinct "{KEY}") from source."{TABLE}"'
    ).fetchone()
    return missing == 0 and distinct == total


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def copy_layer(
    connection: sqlite3.Connection, types: dict[str, str], without_names: bool
) -> tuple[list[str], bool]:
    """The layer as table `tramites` of the main database; its columns and whether its rows
    are keyed by id_pc_tramite. `types` are the layer's column types, `anio_registro`
    included when the layer has `fecha_registro`."""
    if KEY not in types:
        raise PrepareError(
            _("the layer {layer!r} has no column {column}").format(layer=TABLE, column=KEY)
        )
    keyed = has_unique_keys(connection)
    columns = served_columns(list(types), without_names)
    definitions = [
        f"{quoted(name)} INTEGER PRIMARY KEY"
        if keyed and name == KEY
        else f"{quoted(name)} {types[name]}"
        for name in columns
    ]
    connection.execute(f"create table {TABLE} ({', '.join(definitions)})")
    connection.create_function("la_paz_year", 1, la_paz_year, deterministic=True)
    values = [
        "la_paz_year(fecha_registro)" if name == YEAR_COLUMN else quoted(name) for name in columns
    ]
    connection.execute(
        f"insert into {TABLE} ({', '.join(map(quoted, columns))})"
        f' select {", ".join(values)} from source."{TABLE}" order by fid'
    )
    return columns, keyed


def add_search_index(connection: sqlite3.Connection, columns: list[str], keyed: bool) -> list[str]:
    """A full-text index (FTS5, accents ignored) over the searchable columns present."""
    searched = [name for name in SEARCH_COLUMNS if name in columns]
    if not searched:
        return []
    connection.execute(
        f"create virtual table {FTS_TABLE} using fts5({', '.join(map(quoted, searched))},"
        f' content="{TABLE}", content_rowid="{KEY if keyed else "rowid"}",'
        " tokenize='unicode61 remove_diacritics 2')"
    )
    connection.execute(f"insert into {FTS_TABLE}({FTS_TABLE}) values ('rebuild')")
    return searched


def harvest_day(connection: sqlite3.Connection, columns: list[str]) -> str | None:
    """The UTC day of the latest WFS answer in the table: when the data were consulted."""
    if "fecha_consulta" not in columns:
        return None
    latest = connection.execute(f"select max(fecha_consulta) from {TABLE}").fetchone()[0]
    return latest[:10] if latest else None


def column_descriptions(columns: list[str]) -> dict[str, str]:
    """Each column's meaning (and unit) from the data dictionary."""
    descriptions = {}
    for name in columns:
        found = column_term(name)
        if found is None:
            continue
        term, _ = found
        unit = f" Unidad: {term.unit}." if term.unit else ""
        descriptions[name] = plain_text(f"{term.meaning}{unit}")
    return descriptions


def column_units(columns: list[str], types: dict[str, str]) -> dict[str, str]:
    """The units Datasette prints after the numbers of each numeric column."""
    units = {}
    for name in columns:
        found = column_term(name)
        if found and found[0].unit in PINT_UNITS and types[name].upper() in NUMERIC_TYPES:
            units[name] = PINT_UNITS[found[0].unit]
    return units


def citation(day: str | None) -> str:
    consulted = day or "AAAA-MM-DD (el día de la descarga)"
    return (
        "Gobierno Autónomo Municipal de La Paz, Sistema de Información Territorial: trámites"
        " territoriales (permisos de construcción), capa WFS sit:tramitesterritoriales y"
        f" páginas de permisos, consultado el {consulted}."
    )


def description_html(day: str | None, without_names: bool) -> str:
    names = (
        "Sin datos personales: ni nombres ni registros de arquitectos (servido con --sin-nombres)."
        if without_names
        else "Incluye nombres de solicitantes y arquitectos y el registro de los arquitectos:"
        " datos personales; para servir al público use --sin-nombres."
    )
    return (
        "<p>Los trámites territoriales (permisos de construcción) de La Paz, Bolivia, con los"
        " datos de la página de cada permiso aprobado. Fechas y horas en UTC (La Paz es"
        f" UTC−4). {names}</p><p><strong>Cómo citar:</strong> {citation(day)}</p>"
    )


def demo_html() -> str:
    """First in every description of a table merged from the demo's data folder."""
    return f'<p style="color: #b00"><strong>{DEMO_MARK}</strong>: {DEMO_NOTE}</p>'


def metadata(
    database: str, columns: list[str], types: dict[str, str], facts: dict[str, object]
) -> dict:
    """Datasette's metadata for the prepared database; `facts` holds the harvest `day`,
    the `searched` columns, whether rows are `keyed` and whether names were left out.
    A table merged from the demo says so in every title and description."""
    demo = is_demo_table(columns)
    description = description_html(facts["day"], facts["without_names"])
    if demo:
        description = demo_html() + description

    def title(text: str) -> str:
        return demo_title(text) if demo else text

    table = {
        "title": title("Trámites territoriales (permisos de construcción)"),
        "description_html": description,
        "columns": column_descriptions(columns),
        "units": column_units(columns, types),
        "facets": [name for name in FACETS if name in columns],
        "plugins": {
            "datasette-cluster-map": {
                "latitude_column": "latitude",
                "longitude_column": "longitude",
            }
        },
    }
    if "fecha_registro" in columns:
        table["sort_desc"] = "fecha_registro"
    if facts["searched"]:
        table["fts_table"] = FTS_TABLE
        table["fts_pk"] = KEY if facts["keyed"] else "rowid"
    return {
        "title": title("Permisos de construcción de La Paz"),
        "description_html": description,
        "source": SOURCE,
        "source_url": SOURCE_URL,
        "license": LICENSE,
        "extra_css_urls": [f"/{STATIC_MOUNT}/lapaz.css"],
        "databases": {database: {"tables": {TABLE: table}}},
    }


def check_geopackage(path: Path) -> None:
    if not path.is_file():
        raise PrepareError(_("{path}: file not found").format(path=path))
    with closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)) as connection:
        try:
            found = connection.execute(
                "select 1 from gpkg_contents where table_name = ?", (TABLE,)
            ).fetchone()
        except sqlite3.DatabaseError:
            found = None
    if not found:
        raise PrepareError(
            _(
                "{path}: no layer {layer!r} (write one with python -m postprocess.merge"
                " --output {name})"
            ).format(path=path, layer=TABLE, name=path.name)
        )


def prepare(geopackage: Path, without_names: bool = False) -> Prepared:
    """The database and metadata to serve `geopackage` with, written next to it."""
    check_geopackage(geopackage)
    folder = geopackage.parent / ("datasette-sin-nombres" if without_names else "datasette")
    folder.mkdir(exist_ok=True)
    database = folder / f"{geopackage.stem}.db"
    database.unlink(missing_ok=True)
    source = geopackage.resolve().as_uri() + "?mode=ro"
    with closing(sqlite3.connect(database.resolve().as_uri(), uri=True)) as connection, connection:
        connection.execute("attach database ? as source", (source,))
        types = dict(layer_columns(connection))
        if "fecha_registro" in types:
            types[YEAR_COLUMN] = "INTEGER"
        columns, keyed = copy_layer(connection, types, without_names)
        searched = add_search_index(connection, columns, keyed)
        day = harvest_day(connection, columns)
    facts = {"day": day, "searched": searched, "keyed": keyed, "without_names": without_names}
    (folder / "static").mkdir(exist_ok=True)
    (folder / "static" / "lapaz.css").write_text(STYLESHEET, encoding="utf-8")
    path = folder / "metadata.json"
    document = metadata(database.stem, columns, types, facts)
    path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    return Prepared(database, path, keyed)


def serve_command(prepared: Prepared, host: str, port: int) -> list[str]:
    """Datasette serving the prepared database, read-only and immutable."""
    return [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        "--immutable",
        str(prepared.database),
        "--metadata",
        str(prepared.metadata),
        "--static",
        f"{STATIC_MOUNT}:{prepared.metadata.parent / 'static'}",
        "--host",
        host,
        "--port",
        str(port),
    ]


def main(argv: list[str] | None = None) -> NoReturn:
    """Prepare the GeoPackage and serve it; exits 1 with a one-line error if it cannot."""
    parser = argparse.ArgumentParser(
        prog="python -m postprocess.datasette",
        description=_("Serve the merged GeoPackage with Datasette: described, searchable, mapped."),
    )
    parser.add_argument("geopackage", type=Path, help=_("the merge's .gpkg output"))
    parser.add_argument(
        "--sin-nombres",
        action="store_true",
        help=_("leave out the personal data: names, architects' registry (serving for the public)"),
    )
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--host", default="127.0.0.1", help=_("address to listen on (0.0.0.0: every interface)")
    )
    args = parser.parse_args(argv)
    missing = [name for name in SERVING_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        parser.exit(
            1,
            _("error: {packages} not installed: pip install -r requirements-extras.txt").format(
                packages=", ".join(missing)
            )
            + "\n",
        )
    try:
        prepared = prepare(args.geopackage, args.sin_nombres)
    except (PrepareError, sqlite3.DatabaseError) as error:
        parser.exit(1, f"error: {error}\n")
    if not prepared.keyed:
        print(
            _("warning: {column} is missing or repeated: rows are keyed by number").format(
                column=KEY
            ),
            file=sys.stderr,
        )
    address = f"http://{args.host}:{args.port}/{prepared.database.stem}/{TABLE}"
    print(
        _("Serving {database} at {address}").format(database=prepared.database, address=address),
        flush=True,
    )
    serve(prepared, args.host, args.port)


def serve(prepared: Prepared, host: str, port: int) -> NoReturn:
    """Datasette takes this process's place (its id, its signals)."""
    command = serve_command(prepared, host, port)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
