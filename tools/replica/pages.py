"""HTML of the permit pages, the refusal page and a page that lost its sections.

The markup varies from page to page (deterministically, by permit) the way a municipal
site's templates drift: heading case and accents, values split across nested tags,
header/empty/one-cell rows, tables wrapped in a div or with a tbody, indented cells.
A correct parser reads exactly `dataset.page_rows(feature)` from every variant.
"""

import random
import re
from html import escape

from tools.replica.dataset import DATOS_GENERALES, OTROS_DATOS, PARAMETROS, page_rows

# The site's words, written here as the site writes them and not taken from lapaz.permits.page:
# the replica stands for the site, so a change to the crawler's text must show as a
# page the crawler no longer recognises.
REFUSAL_TEXT = "No fue posible procesar la solicitud"

# Heading spellings seen across template versions, one style per page.
HEADING_STYLES = [
    {DATOS_GENERALES: "Datos Generales", PARAMETROS: "Parámetros de Construcción"},
    {DATOS_GENERALES: "DATOS GENERALES", PARAMETROS: "PARAMETROS DE CONSTRUCCION"},
    {DATOS_GENERALES: "Datos generales", PARAMETROS: "Parámetros de construcción"},
    {DATOS_GENERALES: "DATOS GENERALES", PARAMETROS: "PARÁMETROS DE CONSTRUCCIÓN"},
]
OTROS_DATOS_SPELLINGS = ["Otros datos", "OTROS DATOS", "Otros Datos", "Otros datos"]

# A stand-in for one value byte that is not UTF-8: U+FFFF never occurs in the data and
# survives escaping, so it can be swapped for a raw 0xFF byte after encoding.
_INVALID_BYTE_MARK = "\uffff"
_NUMBER_AND_UNIT = re.compile(r"^([\d.,]+) (\S+)$")


def _chrome(title: str, content: str, rng: random.Random) -> str:
    """The municipal site's surroundings: head, navigation, scripts, footer."""
    charset = (
        '<meta charset="utf-8">'
        if rng.random() < 0.7
        else '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
    )
    return f"""<!DOCTYPE html>
<html lang="es">
<head>
{charset}
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} - SIT La Paz</title>
<link rel="stylesheet" href="/situtiles/css/bootstrap.min.css">
<link rel="stylesheet" href="/situtiles/css/sit.css?v=3.2">
<script src="/situtiles/js/jquery-3.6.0.min.js"></script>
<script>
  var sitConfig = {{ servicio: "pc", version: "3.2", mapa: "/sit/visor/" }};
  function volver() {{ if (window.history.length > 1) {{ window.history.back(); }} }}
</script>
</head>
<body>
<nav class="navbar navbar-expand-lg navbar-dark bg-success">
  <a class="navbar-brand" href="https://www.lapaz.bo">GAMLP</a>
  <ul class="navbar-nav">
    <li class="nav-item"><a class="nav-link" href="/sit/">Información Territorial</a></li>
    <li class="nav-item"><a class="nav-link" href="/sit/visor/">Visor</a></li>
    <li class="nav-item"><a class="nav-link" href="javascript:volver()">Volver</a></li>
  </ul>
</nav>
<div class="container mt-3">
{content}
</div>
<footer class="footer text-muted small">
  <p>© Gobierno Autónomo Municipal de La Paz — Secretaría Municipal de Gestión Territorial,
  Urbanismo y Medio Ambiente. Información referencial.</p>
</footer>
<script>
  window.dataLayer = window.dataLayer || [];
  $(function () {{ $('[data-toggle="tooltip"]').tooltip(); }});
</script>
</body>
</html>
"""


def _cell(text: str, *, unit_gap: str | None, indented: bool) -> str:
    """A `td`; with `unit_gap` set, a number and its unit go in separate tags."""
    match = _NUMBER_AND_UNIT.match(text) if unit_gap is not None else None
    if match:
        number, unit = (escape(part) for part in match.groups())
        inner = f'<span class="valor">{number}</span>{unit_gap}<small>{unit}</small>'
    else:
        inner = escape(text)
    if indented:
        return f"<td>\n          {inner}\n        </td>"
    return f"<td>{inner}</td>"


def _row(cells: list[str], *, unit_gap: str | None, indented: bool, bold_labels: bool) -> str:
    *labels, value = cells
    rendered = [
        f"<td><strong>{escape(label)}</strong></td>"
        if bold_labels
        else _cell(label, unit_gap=None, indented=indented)
        for label in labels
    ]
    rendered.append(_cell(value, unit_gap=unit_gap, indented=indented))
    return "<tr>" + "".join(rendered) + "</tr>"


def _table(
    rows: list[list[str]], rng: random.Random, *, unit_gap: str | None, indented: bool
) -> str:
    bold_labels = rng.random() < 0.3
    body = [
        _row(row, unit_gap=unit_gap, indented=indented, bold_labels=bold_labels) for row in rows
    ]
    # Rows that carry no data, in places a careless parser would trip on.
    if rng.random() < 0.25:
        body.insert(rng.randint(1, len(body)), "<tr></tr>")
    if rng.random() < 0.25:
        note = "Según informe técnico de la unidad correspondiente"
        body.insert(rng.randint(0, len(body)), f'<tr><td colspan="3">{note}</td></tr>')
    header = ""
    if rng.random() < 0.3:
        header = "<thead><tr><th>Descripción</th><th>Valor</th></tr></thead>"
    rows_html = "\n      ".join(body)
    if rng.random() < 0.5:
        rows_html = f"<tbody>\n      {rows_html}\n    </tbody>"
    table = f'<table class="table table-sm table-striped">{header}\n      {rows_html}\n    </table>'
    if rng.random() < 0.2:
        table = f'<div class="table-responsive">\n    {table}\n    </div>'
    return table


def _heading(text: str, rng: random.Random) -> str:
    if rng.random() < 0.3:
        return (
            f'<h5 class="card-title">\n      <i class="fa fa-list"></i> {escape(text)}\n    </h5>'
        )
    return f"<h5>{escape(text)}</h5>"


# Page layouts: the template we know, and a redesign that lists each section's rows as a
# `dl` under a `div` title (no h5, no table): what a parser of the old layout cannot read.
LAYOUT_TABLES = "tables"
LAYOUT_DIVS = "divs"
LAYOUTS = (LAYOUT_TABLES, LAYOUT_DIVS)


def _div_section(title: str, rows: list[list[str]]) -> str:
    entries = "\n      ".join(
        f"<dt>{escape(' '.join(labels))}</dt><dd>{escape(value)}</dd>" for *labels, value in rows
    )
    return (
        f'  <div class="seccion">\n    <div class="seccion-titulo">{escape(title)}</div>\n'
        f'    <dl class="row">\n      {entries}\n    </dl>\n  </div>'
    )


def render_permit_page(
    feature: dict, *, invalid_utf8: bool = False, layout: str = LAYOUT_TABLES
) -> bytes:
    """The permit page of an approved feature, UTF-8 encoded, in one of LAYOUTS.

    With `invalid_utf8`, one value ("Zona Referencial") carries a byte that is not UTF-8.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown page layout {layout!r}; use one of {LAYOUTS}")
    properties = feature["properties"]
    rng = random.Random(properties["idPCTramite"] * 7_368_787 + 5)
    style = rng.randrange(len(HEADING_STYLES))
    headings = {**HEADING_STYLES[style], OTROS_DATOS: OTROS_DATOS_SPELLINGS[style]}
    # Values split into number and unit tags, with or without a blank between them: the
    # text reads "354,04 m2" only when a parser joins the tags' texts with spaces.
    unit_gap = rng.choice((" ", "")) if rng.random() < 0.35 else None
    indented = rng.random() < 0.3

    sections = page_rows(feature)
    if invalid_utf8:
        for row in sections[DATOS_GENERALES]:
            if row[0] == "Zona Referencial":
                row[-1] += _INVALID_BYTE_MARK
    blocks = [
        _div_section(headings[name], rows)
        if layout == LAYOUT_DIVS
        else f'  <div class="seccion mb-3">\n    {_heading(headings[name], rng)}\n    '
        f"{_table(rows, rng, unit_gap=unit_gap, indented=indented)}\n  </div>"
        for name, rows in sections.items()
    ]
    numero = properties["NumeroTramite"]
    year = (properties["fechaRegistro"] or "")[:4]
    content = (
        f"<h4>Permiso de Construcción — Trámite N° {numero}/{year}</h4>\n"
        '<p class="text-muted">Datos del permiso de construcción aprobado.</p>\n'
        + "\n".join(blocks)
    )
    text = _chrome("Permiso de Construcción", content, rng)
    return text.encode("utf-8").replace(_INVALID_BYTE_MARK.encode("utf-8"), b"\xff")


def refusal_page() -> bytes:
    """What the site answers (with HTTP 200) when it has nothing for an identifier."""
    content = (
        '<div class="alert alert-warning" role="alert">\n'
        f"  <strong>Atención:</strong> {REFUSAL_TEXT}. Intente nuevamente más tarde.\n"
        "</div>"
    )
    return _chrome("Permiso de Construcción", content, random.Random(0)).encode("utf-8")


def no_sections_page() -> bytes:
    """A page whose template failed to fill in: chrome, no sections, no refusal text."""
    content = '<div id="contenido"><p>Cargando información del trámite…</p></div>'
    return _chrome("Permiso de Construcción", content, random.Random(1)).encode("utf-8")


def error_page(status: int, reason: str) -> bytes:
    """A front proxy's bare error page."""
    return (
        f"<html><head><title>{status} {reason}</title></head><body>"
        f"<center><h1>{status} {reason}</h1></center><hr><center>nginx</center>"
        "</body></html>"
    ).encode()
