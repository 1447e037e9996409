"""Key normalisation: server property names and page labels to the keys users expect."""

import re
import unicodedata
from functools import lru_cache

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WHITESPACE = re.compile(r"\s+")
_NOT_KEY_CHAR = re.compile(r"[^a-z0-9_]")


def strip_accents(text: str) -> str:
    """ "Código Ñandú" -> "Codigo Nandu"."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(char for char in decomposed if unicodedata.category(char) != "Mn")


def single_spaces(text: str) -> str:
    """Runs of white space as one space, none at the ends."""
    return _WHITESPACE.sub(" ", text).strip()


# Pure functions of the few labels and headings the site writes on every page: worked out
# once each (a crawl of 700 pages reads 13,000 rows).
@lru_cache(maxsize=4096)
def plain_text(text: str) -> str:
    """Lower case, no accents, single spaces: for comparing what people write."""
    return single_spaces(strip_accents(text.lower()))


def snake_case(name: str) -> str:
    """`idPCTramite` -> `id_pc_tramite`, `SuperficieConstruida` -> `superficie_construida`."""
    return _CAMEL_BOUNDARY.sub("_", name.strip()).replace("__", "_").lower()


@lru_cache(maxsize=4096)
def label_key(label: str) -> str:
    """A page label as a key: lower case, ñ -> ni, no accents, white space -> `_`.

    Anything outside `[a-z0-9_]` is dropped, so "Código Catastral" gives
    `codigo_catastral` and "Parámetros (m2)" gives `parametros_m2`.
    """
    text = strip_accents(label.strip().lower().replace("ñ", "ni"))
    text = _WHITESPACE.sub("_", text)
    return _NOT_KEY_CHAR.sub("", text)


def row_key(labels: list[str]) -> str:
    """The key of a table row from its label cells, joined with `_sub_` when nested."""
    return label_key("_sub_".join(labels))
