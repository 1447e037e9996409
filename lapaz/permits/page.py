"""A permit page's record: the page parsed into its three sections, and the one builder of
the `detalles` record, shared by the crawl and by re-parsing the archive
(`postprocess.reparse`): the same answer makes the same record.

lxml rather than BeautifulSoup: the same tree at a fraction of the CPU time per page; and
lxml.etree's HTML parser rather than lxml.html's, the same tree again, without lxml.html's
Python lookup of an element class for every element the code touches. The body is decoded
as Scrapy decodes it (w3lib's `html_to_unicode`: BOM, HTTP header, `<meta>`).
"""

from dataclasses import dataclass, field

import lxml.etree
from w3lib.encoding import html_to_unicode

from lapaz.records.keys import plain_text, row_key, single_spaces
from lapaz.records.schema import SECTIONS, PageOutcome

REFUSAL_TEXT = "No fue posible procesar la solicitud"
HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_NEXT_TABLE_OR_HEADING = (
    "following::*[self::table or " + " or ".join(f"self::{tag}" for tag in HEADINGS) + "][1]"
)
_HTML_PARSER = lxml.etree.HTMLParser()
_UTF8_PARSER = lxml.etree.HTMLParser(encoding="utf-8")


@dataclass
class PermitPage:
    refused: bool = False
    # section key prefix (`gral__`, ...) -> rows; a row is its label cells then its value
    sections: dict[str, list[list[str]]] = field(default_factory=dict)
    # The text of every heading (h1 ... h6) the page has: what a changed layout shows.
    headings: list[str] = field(default_factory=list)


def section_prefix(heading: str) -> str | None:
    plain = plain_text(heading)
    for name, prefix in SECTIONS.items():
        if name in plain:
            return prefix
    return None


def cell_text(cell) -> str:
    """The text of a cell, its nested tags' texts joined by single spaces."""
    return single_spaces(" ".join(cell.itertext()))


def table_rows(table) -> list[list[str]]:
    """Data rows of a table: at least two `td` cells, no header cells, not all empty."""
    rows = []
    for row in table.iter("tr"):
        if row.find("th") is not None:
            continue
        cells = [cell_text(cell) for cell in row if cell.tag == "td"]
        if len(cells) >= 2 and any(cells):
            rows.append(cells)
    return rows


def _document(html: str | bytes):
    """The parsed page, or None for a body with nothing to parse (a comment, blanks)."""
    try:
        if isinstance(html, str):
            # As bytes: lxml refuses text that carries an XML encoding declaration.
            return lxml.etree.fromstring(html.encode("utf-8"), _UTF8_PARSER)
        return lxml.etree.fromstring(html, _HTML_PARSER)
    except (lxml.etree.ParserError, ValueError):
        return None


def _table_after(heading):
    """The table a heading introduces: the next one, unless another heading comes first."""
    following = heading.xpath(_NEXT_TABLE_OR_HEADING)
    return following[0] if following and following[0].tag == "table" else None


def parse_permit_page(html: str | bytes) -> PermitPage:
    """The sections of a permit page, or `refused` for the site's refusal page.

    A section whose table has no data rows counts as missing.
    """
    page = PermitPage()
    document = _document(html) if html and html.strip() else None
    if document is None:
        return page
    for heading in document.iter(*HEADINGS):
        text = cell_text(heading)
        if text:
            page.headings.append(text)
        prefix = section_prefix(text)
        if prefix is None or prefix in page.sections:
            continue
        table = _table_after(heading)
        rows = table_rows(table) if table is not None else []
        if rows:
            page.sections[prefix] = rows
    if not page.sections:
        body_text = " ".join(document.itertext())
        page.refused = REFUSAL_TEXT.lower() in single_spaces(body_text).lower()
    return page


def flatten_sections(sections: dict[str, list[list[str]]]) -> dict[str, str]:
    """Rows as prefixed keys: `par__retiro_sub_frontal` -> "3,00 ml".

    A label repeated within a section keeps every value: the second is `<key>__2`.
    """
    flat: dict[str, str] = {}
    for prefix, rows in sections.items():
        for *labels, value in rows:
            key = prefix + row_key(labels)
            candidate, repeat = key, 1
            while candidate in flat:
                repeat += 1
                candidate = f"{key}__{repeat}"
            flat[candidate] = value
    return flat


def page_fields(page: PermitPage) -> dict[str, str | None]:
    """The fields a parsed page gives its `detalles` record: `error`, then the page keys.

    The one place that decides what a page says, for the crawl and for re-parsing archived
    pages alike: `rechazada` for the refusal page, `sin_secciones` for a page without its
    tables, else no error and the rows as prefixed keys.
    """
    if page.refused:
        return {"error": PageOutcome.REFUSED.error}
    if not page.sections:
        return {"error": PageOutcome.NO_SECTIONS.error}
    return {"error": None, **flatten_sections(page.sections)}


@dataclass(frozen=True)
class PageAnswer:
    """What an HTTP answer to a page request says: the record's `error` and page keys,
    and the page's headings (what a changed layout shows)."""

    fields: dict[str, str | None]
    headings: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> PageOutcome:
        return PageOutcome.of_error(self.fields["error"])


def read_answer(status: int, body: bytes, content_type: bytes | str | None = None) -> PageAnswer:
    """The page answer of an HTTP status and body (`content_type`: the header, if any).

    Any status but 2xx is an HTTP error (after its retries); a page nobody foresaw still
    leaves its record, with why.
    """
    if not 200 <= status < 300:
        return PageAnswer({"error": f"http_{status}"})
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    try:
        _, text = html_to_unicode(content_type, body)
        page = parse_permit_page(text)
        return PageAnswer(page_fields(page), page.headings)
    except Exception as error:
        return PageAnswer({"error": f"{type(error).__name__}: {error}"})


def permit_fields(
    id_pc_tramite, codigo_catastral, numero_tramite, anio, identificador, url
) -> dict[str, object]:
    """The fields that say which permit's page a record is (DETALLE_FIELDS up to `error`)."""
    return {
        "id_pc_tramite": id_pc_tramite,
        "codigo_catastral": codigo_catastral,
        "numero_tramite": numero_tramite,
        "anio": anio,
        "identificador": identificador,
        "url": url,
    }


def page_record(permit: dict, fields: dict, origin: dict) -> dict:
    """A page's one record: the permit, `error`, where it came from, the page keys.

    permit: `permit_fields(...)`; fields: `error` and page keys (`PageAnswer.fields`);
    origin: the provenance of the answer (PROVENANCE_FIELDS, all None if none came).
    """
    return {**permit, "error": fields["error"], **origin, **fields}
