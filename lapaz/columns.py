"""The order of a table's columns; free of Scrapy, so the postprocess commands can use it."""

from collections.abc import Iterable

from lapaz.schema import SECTION_PREFIXES


def order_keys(keys: Iterable[str], leading: Iterable[str]) -> list[str]:
    """`keys` in reading order, each once.

    First the `leading` keys that are present, in that order; then the page keys section
    by section (`gral__`, `par__`, `otro__`), each section in first-seen order so a page's
    layout is kept; then everything else in first-seen order.
    """
    remaining = list(dict.fromkeys(keys))
    present = set(remaining)
    ordered = [key for key in dict.fromkeys(leading) if key in present]
    for prefix in SECTION_PREFIXES:
        ordered += [key for key in remaining if key.startswith(prefix) and key not in ordered]
    placed = set(ordered)
    return ordered + [key for key in remaining if key not in placed]
