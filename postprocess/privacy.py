"""Personal names in the merged table, and a table without them for sharing.

The WFS layer and the permit pages carry the names of applicants and architects: public
records of the Gobierno Autónomo Municipal de La Paz, but personal data all the same.
"""

import pandas as pd

from lapaz.records.schema import SECTION_PREFIXES
from postprocess.dictionary_data import PERSONAL_NAME_FIELDS, PERSONAL_NAME_WORDS


def is_personal_name(column: str) -> bool:
    """Whether `column` holds a person's name: a known one, or a page row saying so."""
    if column in PERSONAL_NAME_FIELDS:
        return True
    prefix = next((prefix for prefix in SECTION_PREFIXES if column.startswith(prefix)), None)
    if prefix is None:
        return False
    key = column.removeprefix(prefix)
    # A registry number identifies the architect's licence, not by name.
    return "registro" not in key and any(word in key for word in PERSONAL_NAME_WORDS)


def without_names(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """`frame` without its personal-name columns, and the columns left out."""
    dropped = [name for name in frame.columns if is_personal_name(name)]
    return frame.drop(columns=dropped), dropped
