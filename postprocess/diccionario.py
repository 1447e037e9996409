"""Writes docs/diccionario.md, the data dictionary, from the project's schema.

    python -m postprocess.diccionario [--output docs/diccionario.md] [--check]

Every column of the merged table with its English name, source (WFS property, page
section and row, or derived), type, unit, meaning and an example; the rules for the
columns derived from others; the BLDS mapping. Generated, so that it cannot drift from the
code: `--check` (and a test) fail when the committed file differs from what this writes.
"""

import argparse
import re
import sys
from pathlib import Path

from lapaz.i18n import _
from lapaz.records.schema import FLOAT_FIELDS, INTEGER_FIELDS, TEXT_CODE_FIELDS, TRAMITE_PROPERTIES
from postprocess.blds import BLDS_MAPPING
from postprocess.dictionary_data import (
    DATASETTE_TERMS,
    DATE_FIELDS,
    MERGE_TERMS,
    PAGE_TERMS,
    PERSONAL_FIELDS,
    WFS_TERMS,
    Term,
)
from postprocess.numeric import NUMBER_SUFFIX, UNIT_SUFFIX

DEFAULT_OUTPUT = Path("docs") / "diccionario.md"
PROPERTY_BY_FIELD = {field: name for name, field in TRAMITE_PROPERTIES.items()}
# A label repeated within a section: `par__superficie_construida__2`.
_REPEAT = re.compile(r"__\d+$")


def wfs_type(name: str) -> str:
    if name in INTEGER_FIELDS:
        return "entero"
    if name in FLOAT_FIELDS or name in ("latitude", "longitude"):
        return "decimal"
    if name in DATE_FIELDS:
        return "fecha y hora UTC"
    if name in TEXT_CODE_FIELDS:
        return "texto (código)"
    return "texto"


def wfs_source(name: str) -> str:
    if name in PROPERTY_BY_FIELD:
        return f"WFS: `{PROPERTY_BY_FIELD[name]}`"
    return "WFS: geometría (punto)"


def _cell(text: str) -> str:
    return text.replace("|", "\\|") or "–"


def row(name: str, term: Term, source: str, kind: str) -> str:
    personal = " **Dato personal** (`--sin-nombres` la omite)." if name in PERSONAL_FIELDS else ""
    cells = [f"`{name}`", term.english, source, kind, term.unit, term.meaning + personal]
    cells.append(f"`{term.example}`" if term.example else "")
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


HEADER = [
    "| columna | término en inglés | fuente | tipo | unidad | significado | ejemplo |",
    "|---|---|---|---|---|---|---|",
]


def _known_term(name: str) -> tuple[Term, str] | None:
    """The term of a column the dictionary lists by name, and its type."""
    if name in WFS_TERMS:
        return WFS_TERMS[name], wfs_type(name)
    if name in MERGE_TERMS:
        return MERGE_TERMS[name]
    if name in DATASETTE_TERMS:
        return DATASETTE_TERMS[name]
    if name in PAGE_TERMS:
        return PAGE_TERMS[name][1], "texto"
    return None


def column_term(column: str) -> tuple[Term, str] | None:
    """What a column of the merged table means and its type; None if the dictionary does
    not explain it. Columns derived from a page row (`_num`, `_unidad`, `__2`) are
    explained from that row."""
    known = _known_term(column)
    if known is not None:
        return known
    for suffix in (NUMBER_SUFFIX, UNIT_SUFFIX):
        if column.startswith("par__") and column.endswith(suffix):
            base = column.removesuffix(suffix)
            break
    else:
        suffix, base = "", column
    found = _known_term(_REPEAT.sub("", base))
    if found is None:
        return None
    term, kind = found
    if suffix == NUMBER_SUFFIX:
        return Term(term.english, f"{term.meaning} Solo el número.", "", term.unit), "número"
    if suffix == UNIT_SUFFIX:
        return Term("unit", f"La unidad escrita tras el número de `{base}`.", "", ""), "texto"
    repeated = f"{term.meaning} Otro valor de la misma etiqueta en la página."
    return Term(term.english, repeated, term.example, term.unit), kind


def plain_text(meaning: str) -> str:
    """A meaning without its Markdown, for readers that show it as typed (a spreadsheet,
    Datasette)."""
    return meaning.replace("`", "")


def undocumented(columns) -> list[str]:
    """The columns of a merged table that the dictionary does not explain."""
    return [column for column in columns if column_term(column) is None]


def dictionary_markdown() -> str:
    lines = [
        "# Diccionario de datos (data dictionary)",
        "",
        "<!-- Generado por `python -m postprocess.diccionario`: no editar a mano. -->",
        "",
        "Las columnas de la tabla que escribe `python -m postprocess.merge`"
        " (`tramites_merge.csv`, `.parquet`, `.gpkg`, `.geojson`, `.xlsx`), en su orden."
        " Entre paréntesis, el término en inglés. Los datos los publica el Gobierno Autónomo"
        " Municipal de La Paz (GAMLP) en su sistema de información territorial.",
        "",
        "Tipos: en CSV y JSON lines las fechas quedan como texto ISO 8601 en UTC"
        " (`2017-11-14T17:04:40.303Z`; La Paz es UTC−4); en Parquet y GeoPackage son marcas de"
        " tiempo UTC, en `.xlsx` fechas (en UTC, lo dice la celda:"
        " `2017-11-14 17:04:40 UTC`). Los enteros son"
        " enteros, los decimales números; los códigos (`texto (código)`) son siempre texto,"
        " con sus ceros a la izquierda. Los formatos GIS llevan además `geometry`: el punto"
        " (longitud, latitud) en EPSG:4326, vacío si el trámite no tiene coordenadas.",
        "",
        "## Del servicio WFS (capa `sit:tramitesterritoriales`)",
        "",
        *HEADER,
    ]
    lines += [row(name, term, wfs_source(name), wfs_type(name)) for name, term in WFS_TERMS.items()]
    lines += ["", "## Añadidas por la unión (merge)", "", *HEADER]
    lines += [row(name, term, "derivada", kind) for name, (term, kind) in MERGE_TERMS.items()]
    lines += [
        "",
        "## Solo en Datasette (`python -m postprocess.datasette`)",
        "",
        *HEADER,
    ]
    lines += [row(name, term, "derivada", kind) for name, (term, kind) in DATASETTE_TERMS.items()]
    lines += [
        "",
        "## De la página del permiso",
        "",
        "Texto tal como lo muestra la página (`…/situtiles/pc/?<identificador>`): coma"
        " decimal, punto de miles y la unidad (`1.234,56 m2`). Prefijo por sección: `gral__`"
        " Datos Generales, `par__` Parámetros de Construcción, `otro__` Otros datos. La clave"
        " es la etiqueta de la fila en minúsculas, sin tildes, `ñ` → `ni`, espacios → `_`;"
        " las filas con subetiquetas las unen con `_sub_`.",
        "",
        *HEADER,
    ]
    lines += [
        row(name, term, f"página: {section} › {label}", "texto")
        for name, ((section, label), term) in PAGE_TERMS.items()
    ]
    lines += [
        "",
        "## Columnas derivadas de otras",
        "",
        "| columna | término en inglés | fuente | tipo | significado | ejemplo |",
        "|---|---|---|---|---|---|",
        f"| `par__<clave>{NUMBER_SUFFIX}` | number | derivada (`--numeric`) | entero o decimal |"
        " El número del valor de `par__<clave>`; vacío si no tiene número, nunca 0. |"
        " `1234.56` |",
        f"| `par__<clave>{UNIT_SUFFIX}` | unit | derivada (`--numeric`) | texto |"
        " La unidad escrita tras el número, en minúsculas (`m2`, `ml`, `plantas`). | `m2` |",
        "| `<clave>__2`, `__3`… | repeated row | página | texto |"
        " Una etiqueta repetida en la misma sección guarda cada valor. |"
        " `par__superficie_construida__2` |",
        "",
        "Si la página gana filas nuevas, aparecen como `gral__…`, `par__…`, `otro__…` con"
        " la regla de arriba; un test avisa de toda columna que este diccionario no explique.",
        "",
        "## Exportación BLDS (`--blds`)",
        "",
        "`python -m postprocess.merge --blds --output permisos_blds.csv` escribe un registro"
        " por trámite con los campos del núcleo de permisos de la Building & Land Development"
        " Specification (BLDS), para comparar La Paz con las ciudades que la publican. Fechas"
        " como días (AAAA-MM-DD) de La Paz (UTC−4); superficie en pies cuadrados.",
        "",
        "| campo BLDS | de dónde sale |",
        "|---|---|",
    ]
    lines += [f"| `{field}` | {_cell(source)} |" for field, source in BLDS_MAPPING.items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m postprocess.diccionario",
        description=_("Write the data dictionary (docs/diccionario.md) from the code."),
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--check",
        action="store_true",
        help=_("fail if the file differs from what would be written"),
    )
    args = parser.parse_args(argv)
    text = dictionary_markdown()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else None
        if current != text:
            print(
                _("error: {path} is out of date: run python -m postprocess.diccionario").format(
                    path=args.output
                )
            )
            return 1
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(_("Wrote {path}").format(path=args.output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
