"""Numbers in the permit page's parameter values: "1.234,56 m2" -> 1234.56 and "m2".

The page writes Spanish style: a decimal comma and a dot between thousands ("1.234,56 m2",
"354,04 m2", "3,00 ml", "3 plantas"). English style ("1,234.56", "354.04 m2") is read too
where it cannot be mistaken: a lone dot followed by exactly three digits ("1.234") follows
the page's convention and means thousands. Anything else ("3 x 4", "S/D", "-") has no number.

For each `par__<key>` column with at least one number, `add_numeric_columns` puts two
columns right after it:
- `par__<key>_num`: the number; whole numbers written without decimals ("3 plantas") give an
  integer column, otherwise decimals ("3,00 ml" -> 3.0). Empty where the value has none.
- `par__<key>_unidad`: the unit written after the number, in lower case with "²" as "2"
  ("m2", "ml", "plantas"). Empty where the value has no number or no unit.
"""

import re
from dataclasses import dataclass

import pandas as pd

NUMBER_SUFFIX = "_num"
UNIT_SUFFIX = "_unidad"
PAGE_SURFACE = "par__superficie_construida"

_MEASURE = re.compile(r"(?P<number>[+-]?\d+(?:[.,]\d+)*)\s*(?P<unit>.*)", re.DOTALL)
# A unit is words; a 2 or 3 may close a word ("m2", "m³"), other digits mean a second number.
_UNIT = re.compile(r"[^\W\d_]+[23²³]?\.?(?:[\s/][^\W\d_]+[23²³]?\.?)*|%")
_SUPERSCRIPTS = str.maketrans({"²": "2", "³": "3"})


@dataclass(frozen=True)
class Measure:
    number: int | float
    unit: str | None


def parse_number(text: str) -> int | float | None:
    """The number written in `text` ("1.234,56", "354.04", "3"), or None if ambiguous.

    An integer when no decimal separator is written, a float otherwise.
    """
    sign = -1 if text.startswith("-") else 1
    digits = text.lstrip("+-")
    commas, dots = digits.count(","), digits.count(".")
    if commas and dots:
        decimal_mark = "," if digits.rfind(",") > digits.rfind(".") else "."
        thousands_mark = "." if decimal_mark == "," else ","
        whole, _, fraction = digits.rpartition(decimal_mark)
        if decimal_mark in whole or not _is_grouped(whole, thousands_mark):
            return None
        return sign * float(f"{whole.replace(thousands_mark, '')}.{fraction}")
    if commas == 1:
        return sign * float(digits.replace(",", "."))
    if dots == 1 and not _is_grouped(digits, "."):
        return sign * float(digits)
    mark = "," if commas else "."
    if not _is_grouped(digits, mark):
        return None
    return sign * int(digits.replace(mark, ""))


def _is_grouped(whole: str, mark: str) -> bool:
    """Whether `whole` is digits in thousands groups separated by `mark` ("1.234.567")."""
    first, *rest = whole.split(mark)
    first_ok = 1 <= len(first) <= 3 and not first.startswith("0")
    return (not rest or first_ok) and all(len(group) == 3 for group in rest)


def parse_measure(value: object) -> Measure | None:
    """The number and unit of a page value ("354,04 m2"), or None if it has no clear number."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return None if value != value else Measure(value, None)
    match = _MEASURE.fullmatch(str(value).replace("\xa0", " ").strip())
    if not match:
        return None
    unit = match["unit"].strip()
    if unit and not _UNIT.fullmatch(unit):
        return None
    number = parse_number(match["number"])
    if number is None:
        return None
    return Measure(number, " ".join(unit.lower().translate(_SUPERSCRIPTS).split()) or None)


def numeric_columns(values: pd.Series) -> tuple[pd.Series, pd.Series] | None:
    """The number and unit columns of a text column, or None when it holds no number."""
    measures = [parse_measure(None if pd.isna(value) else value) for value in values]
    numbers = [measure.number if measure else None for measure in measures]
    found = [number for number in numbers if number is not None]
    if not found:
        return None
    dtype = "Int64" if all(isinstance(number, int) for number in found) else "Float64"
    units = [measure.unit if measure else None for measure in measures]
    return (
        pd.Series(numbers, index=values.index, dtype=dtype),
        pd.Series(units, index=values.index, dtype="str"),
    )


def add_numeric_columns(frame: pd.DataFrame, prefix: str = "par__") -> pd.DataFrame:
    """`frame` with `<key>_num` and `<key>_unidad` after each `prefix` column with numbers."""
    columns: dict[str, pd.Series] = {}
    for name in frame.columns:
        columns[name] = frame[name]
        derived = numeric_columns(frame[name]) if name.startswith(prefix) else None
        if derived is None:
            continue
        for suffix, column in zip((NUMBER_SUFFIX, UNIT_SUFFIX), derived, strict=True):
            if f"{name}{suffix}" in frame.columns:
                raise ValueError(f"column {name}{suffix} exists already: cannot add numbers")
            columns[f"{name}{suffix}"] = column
    return pd.DataFrame(columns, index=frame.index)


def built_surface(frame: pd.DataFrame) -> pd.Series:
    """Each row's built surface in m²: the WFS's `superficie_construida`, else the page's.

    The WFS leaves the surface empty for some approved permits whose page states it
    (`par__superficie_construida`, "354,04 m2"); only a value in m² is taken from the page.
    """
    api = pd.to_numeric(frame.get("superficie_construida"), errors="coerce")
    api = pd.Series(api, index=frame.index, dtype="Float64")
    if PAGE_SURFACE not in frame:
        return api
    measures = [parse_measure(None if pd.isna(value) else value) for value in frame[PAGE_SURFACE]]
    page = pd.Series(
        [m.number if m and m.unit in (None, "m2") else None for m in measures],
        index=frame.index,
        dtype="Float64",
    )
    return api.fillna(page)
