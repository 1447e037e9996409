"""Parsing a permit page: its three sections as rows of cell texts.

lxml rather than BeautifulSoup: the same tree at a fraction of the CPU time per page.
"""

import re
import unicodedata
from dataclasses import dataclass, field

import lxml.html

from lapaz.keys import row_key
from lapaz.schema import SECTIONS

REFUSAL_TEXT = "No fue posible procesar la solicitud"
_WHITESPACE = re.compile(r"\s+")


@dataclass
class PermitPage:
    refused: bool = False
    # section key prefix (`gral__`, ...) -> rows; a row is its label cells then its value
    sections: dict[str, list[list[str]]] = field(default_factory=dict)


def _plain(text: str) -> str:
    """Lower case, no accents, single spaces: for comparing headings."""
    decomposed = unicodedata.normalize("NFD", text.lower())
    stripped = "".join(char for char in decomposed if unicodedata.category(char) != "Mn")
    return _WHITESPACE.sub(" ", stripped).strip()


def section_prefix(heading: str) -> str | None:
    plain = _plain(heading)
    for name, prefix in SECTIONS.items():
        if name in plain:
            return prefix
    return None


def cell_text(cell) -> str:
    """The text of a cell, its nested tags' texts joined by single spaces."""
    return _WHITESPACE.sub(" ", " ".join(cell.itertext())).strip()


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


def parse_permit_page(html: str | bytes) -> PermitPage:
    """The sections of a permit page, or `refused` for the site's refusal page."""
    if not html or not html.strip():
        return PermitPage()
    document = lxml.html.fromstring(html)
    page = PermitPage()
    for heading in document.iter("h1", "h2", "h3", "h4", "h5", "h6"):
        prefix = section_prefix(cell_text(heading))
        if prefix is None or prefix in page.sections:
            continue
        table = next(heading.itersiblings("table"), None)
        if table is None:
            following = heading.xpath("following::table[1]")
            table = following[0] if following else None
        if table is not None:
            page.sections[prefix] = table_rows(table)
    if not page.sections:
        body_text = " ".join(document.itertext())
        page.refused = REFUSAL_TEXT.lower() in _WHITESPACE.sub(" ", body_text).lower()
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
