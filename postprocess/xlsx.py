"""The merged table as a spreadsheet workbook (openpyxl) whose cells keep their types.

The `.xlsx` is the file for spreadsheets. Opened in a spreadsheet of any locale, codes stay
text with their zeros (`045581765039000`, never 45581765039000), numbers are numbers
(712.82, not the text "712.82" a Spanish-locale spreadsheet makes of a CSV), dates are
dates. Spreadsheets know no time zones: dates are written in UTC, as the WFS gives them,
and their cells show it ("2025-03-07 20:58:21 UTC"); the headers are the column names of
every other format. The sheet `tramites` has an autofilter, a frozen header and columns as
wide as their content; the sheet `diccionario` explains each column. A table merged from the
demo's data folder opens on a sheet `demostracion` that says so.
"""

import math
from datetime import datetime
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from postprocess.blds import BLDS_MAPPING
from postprocess.demo_mark import DEMO_MARK, DEMO_NOTE, is_demo_table
from postprocess.diccionario import column_term, plain_text

SHEET = "tramites"
DICTIONARY_SHEET = "diccionario"
DEMO_SHEET = "demostracion"
DICTIONARY_HEADER = ["columna", "significado", "unidad", "tipo", "término en inglés", "ejemplo"]
DATE_FORMAT = 'yyyy-mm-dd hh:mm:ss "UTC"'
DATE_WIDTH = len("2025-03-07 20:58:21 UTC")
TEXT_FORMAT = "@"
# Room for the autofilter's button beside a header; no column wider than a screen's third.
FILTER_BUTTON_WIDTH = 3
MAX_WIDTH = 60


def cell_value(value: object) -> object:
    """A value openpyxl writes as the right cell type; None for an empty cell."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None) - (value.utcoffset() or pd.Timedelta(0))
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def is_date_column(column: pd.Series) -> bool:
    return isinstance(column.dtype, pd.DatetimeTZDtype)


def content_width(column: pd.Series) -> int:
    """How many characters the longest cell of `column` shows (its header included)."""
    header = len(str(column.name)) + FILTER_BUTTON_WIDTH
    if is_date_column(column):
        return max(header, DATE_WIDTH)
    values = column.dropna()
    longest = int(values.astype(str).str.len().max()) if len(values) else 0
    return min(max(header, longest), MAX_WIDTH)


def text_cell(sheet, value: object, bold: bool = False) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # a text starting with "=" is no formula
    if bold:
        cell.font = Font(bold=True)
    return cell


def start_sheet(workbook: Workbook, title: str, widths: list[int]):
    """A write-only sheet with its column widths and its first row frozen."""
    sheet = workbook.create_sheet(title)
    sheet.freeze_panes = "A2"
    for position, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(position)].width = width + 1
    return sheet


def write_data_sheet(workbook: Workbook, frame: pd.DataFrame) -> None:
    """The table: a header row with an autofilter, one row per table row."""
    sheet = start_sheet(workbook, SHEET, [content_width(frame[name]) for name in frame])
    last = f"{get_column_letter(max(len(frame.columns), 1))}{len(frame) + 1}"
    sheet.auto_filter.ref = f"A1:{last}"
    sheet.append([text_cell(sheet, name, bold=True) for name in frame.columns])
    texts = {name for name in frame if pd.api.types.is_string_dtype(frame[name].dtype)}
    formats = [
        DATE_FORMAT if is_date_column(frame[name]) else TEXT_FORMAT if name in texts else None
        for name in frame.columns
    ]
    for row in frame.itertuples(index=False, name=None):
        cells = []
        for value, number_format in zip(row, formats, strict=True):
            cell = text_cell(sheet, cell_value(value))
            if number_format:
                cell.number_format = number_format
            cells.append(cell)
        sheet.append(cells)


def dictionary_rows(columns) -> list[list[str]]:
    """For each column: name, meaning, unit, type, English term, example (from
    postprocess.diccionario, or the BLDS mapping; a column neither explains says so)."""
    rows = []
    for name in columns:
        found = column_term(name)
        if found is None and name in BLDS_MAPPING:
            rows.append([name, plain_text(f"Campo BLDS: {BLDS_MAPPING[name]}"), "", "", name, ""])
            continue
        if found is None:
            rows.append([name, "Sin descripción en el diccionario.", "", "", "", ""])
            continue
        term, kind = found
        meaning = plain_text(term.meaning)
        rows.append([name, meaning, term.unit, kind, term.english, term.example])
    return rows


def write_dictionary_sheet(workbook: Workbook, columns) -> None:
    rows = dictionary_rows(columns)
    widths = [
        min(max(len(str(row[position])) for row in [DICTIONARY_HEADER, *rows]), MAX_WIDTH * 2)
        for position in range(len(DICTIONARY_HEADER))
    ]
    sheet = start_sheet(workbook, DICTIONARY_SHEET, widths)
    sheet.append([text_cell(sheet, name, bold=True) for name in DICTIONARY_HEADER])
    for row in rows:
        sheet.append([text_cell(sheet, value or None) for value in row])


def write_demo_sheet(workbook: Workbook) -> None:
    """The first sheet of a workbook merged from the demo: what it is, in red."""
    sheet = workbook.create_sheet(DEMO_SHEET)
    sheet.column_dimensions["A"].width = len(DEMO_NOTE) + 1
    for text, size in ((DEMO_MARK, 20), (DEMO_NOTE, 12)):
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = Font(bold=True, color="C00000", size=size)
        sheet.append([cell])


def write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    """The table's sheet, then the sheet explaining its columns (after a first sheet that
    says so, for a table merged from the demo)."""
    workbook = Workbook(write_only=True)
    if is_demo_table(frame.columns):
        write_demo_sheet(workbook)
    write_data_sheet(workbook, frame)
    write_dictionary_sheet(workbook, frame.columns)
    workbook.save(path)
