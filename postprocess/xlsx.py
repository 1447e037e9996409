"""The merged table as a spreadsheet workbook (openpyxl) whose cells keep their types.

Opened in a spreadsheet of any locale, codes stay text with their zeros
(`045581765039000`, never 45581765039000), numbers are numbers (712.82, not the text
"712.82" a Spanish-locale spreadsheet makes of a CSV), dates are dates. Spreadsheets know
no time zones: dates are written in UTC, as the WFS gives them, and the header says so.
"""

import math
from datetime import datetime
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.utils import get_column_letter

SHEET = "tramites"
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
TEXT_FORMAT = "@"
UTC_SUFFIX = " (UTC)"


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


def header_name(frame: pd.DataFrame, name: str) -> str:
    return f"{name}{UTC_SUFFIX}" if isinstance(frame[name].dtype, pd.DatetimeTZDtype) else name


def write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    """One sheet, a header row, one row per table row; text columns formatted as text."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(SHEET)
    sheet.freeze_panes = "A2"
    dates = {name for name in frame if isinstance(frame[name].dtype, pd.DatetimeTZDtype)}
    texts = {name for name in frame if pd.api.types.is_string_dtype(frame[name].dtype)}
    for position, name in enumerate(frame.columns, 1):
        width = min(max(len(header_name(frame, name)), 10), 40)
        sheet.column_dimensions[get_column_letter(position)].width = width + 2
    sheet.append([header_name(frame, name) for name in frame.columns])
    formats = [
        DATE_FORMAT if name in dates else TEXT_FORMAT if name in texts else None
        for name in frame.columns
    ]
    for row in frame.itertuples(index=False, name=None):
        cells = []
        for value, number_format in zip(row, formats, strict=True):
            cell = WriteOnlyCell(sheet, value=cell_value(value))
            if isinstance(cell.value, str):
                cell.data_type = "s"  # a text starting with "=" is no formula
            if number_format:
                cell.number_format = number_format
            cells.append(cell)
        sheet.append(cells)
    workbook.save(path)
