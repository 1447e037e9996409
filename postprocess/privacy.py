"""Personal data in the merged table, and a table without it for sharing.

The WFS layer and the permit pages carry the names of applicants and architects and the
architects' registry numbers: public records of the Gobierno Autónomo Municipal de La Paz,
but personal data all the same.
"""

import pandas as pd

from lapaz.records.schema import SECTION_PREFIXES
from postprocess.dictionary_data import PERSONAL_FIELDS, PERSONAL_WORDS


def is_personal(column: str) -> bool:
    """Whether `column` holds personal data: a known column, or a page row about a person."""
    if column in PERSONAL_FIELDS:
        return True
    prefix = next((prefix for prefix in SECTION_PREFIXES if column.startswith(prefix)), None)
    if prefix is None:
        return False
    key = column.removeprefix(prefix)
    return any(word in key for word in PERSONAL_WORDS)


def without_personal_data(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """`frame` without its personal columns, and the columns left out."""
    dropped = [name for name in frame.columns if is_personal(name)]
    return frame.drop(columns=dropped), dropped
