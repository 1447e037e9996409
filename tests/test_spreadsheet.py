"""The `.xlsx` as LibreOffice Calc reads it in a Spanish (Bolivia) locale, cell by cell.

One headless `soffice` call, under es_BO.UTF-8 and with a profile of its own, converts the
workbook to flat OpenDocument (.fods): what Calc read, each cell's type, value and the text
it shows. Every cell is compared with the GeoParquet of the same merge: codes stay text
with their zeros, numbers are numbers shown with a decimal comma (0.125 is "0,125", never
125), dates are dates shown in UTC, accents are kept.
"""

import math
import os
import subprocess
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from tests.programs import needs_program
from tests.test_merge import DETALLES, PARCEL, TRAMITES, jsonl, run_merge, tramite

LOCALE = "es_BO.UTF-8"
CONVERT_TIMEOUT = 180
NS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
}
FETCHED = "2026-12-04T01:17:02Z"
# A surface with three decimals (read as thousands by a Spanish-locale CSV import), a code
# with leading zeros, names with accents and Ñ.
SMALL = tramite(
    20,
    80,
    "000120000010000",
    superficie_legal=0.125,
    solicitante="ÑUSTA QUISPE MAMANÍ",
    arquitecto_registro_nacional_cab="000417",
    nro_inmueble="0001234",
)

pytestmark = [pytest.mark.e2e, needs_program("soffice", "libreoffice-calc")]


def attribute(element: ET.Element, namespace: str, name: str) -> str | None:
    return element.get(f"{{{NS[namespace]}}}{name}")


def sheet_cells(table: ET.Element) -> list[list[tuple[str | None, str | None, str]]]:
    """The rows of a Calc sheet: each cell as (type, value, text shown), repeats expanded."""
    grid = []
    for row in table.iterfind(".//table:table-row", NS):
        cells = []
        for cell in row.iterfind("table:table-cell", NS):
            kind = attribute(cell, "office", "value-type")
            value = attribute(cell, "office", "value") or attribute(cell, "office", "date-value")
            shown = "\n".join("".join(p.itertext()) for p in cell.iterfind("text:p", NS))
            repeat = int(attribute(cell, "table", "number-columns-repeated") or 1)
            cells += [(kind, value, shown)] * repeat
        repeat = int(attribute(row, "table", "number-rows-repeated") or 1)
        if any(kind for kind, _, _ in cells):  # Calc lists the empty rows below the data
            grid += [cells] * repeat
    return grid


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> tuple[Path, Path]:
    """The merge's workbook and GeoParquet from the same inputs."""
    folder = tmp_path_factory.mktemp("data")
    tramites = [{**record, "fecha_consulta": FETCHED} for record in [*TRAMITES, SMALL]]
    (folder / "tramites.jsonl").write_bytes(jsonl(tramites))
    (folder / "detalles.jsonl").write_bytes(jsonl(DETALLES))
    paths = []
    for name in ("tramites.xlsx", "tramites.parquet"):
        finished = run_merge(folder, "--output", str(folder / name), "--numeric")
        assert finished.returncode == 0, finished.stderr
        paths.append(folder / name)
    return paths[0], paths[1]


@pytest.fixture(scope="module")
def calc(outputs, tmp_path_factory) -> dict[str, list]:
    """Each sheet of the workbook as Calc read it under es_BO.UTF-8, by sheet name."""
    workbook, _ = outputs
    folder = tmp_path_factory.mktemp("calc")
    environment = {**os.environ, "LANG": LOCALE, "LC_ALL": LOCALE, "LANGUAGE": "es_BO:es"}
    finished = subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation={(folder / 'profile').as_uri()}",
            "--headless",
            "--convert-to",
            "fods",
            "--outdir",
            str(folder),
            str(workbook),
        ],
        capture_output=True,
        text=True,
        timeout=CONVERT_TIMEOUT,
        env=environment,
        check=False,
    )
    converted = folder / f"{workbook.stem}.fods"
    assert converted.is_file(), finished.stdout + finished.stderr
    document = ET.parse(converted)
    return {
        attribute(table, "table", "name"): sheet_cells(table)
        for table in document.iterfind(".//table:table", NS)
    }


def expected_cell(value: object) -> tuple[str | None, str]:
    """The type and shown text Calc should have for a GeoParquet value in es_BO."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None, ""
    if isinstance(value, float) and math.isnan(value):
        return None, ""
    if isinstance(value, pd.Timestamp):
        return "date", value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, str):
        return "string", value
    if isinstance(value, int):
        return "float", str(value)
    if isinstance(value, float) and value.is_integer():
        return "float", str(int(value))  # Calc's General format: 3.0 is "3"
    if isinstance(value, float):
        return "float", repr(value).replace(".", ",")  # the decimal comma, no thousands
    raise AssertionError(f"a value of an unexpected type: {value!r}")


def matches(value: object, cell: tuple[str | None, str | None, str]) -> bool:
    """Whether Calc's cell holds `value` (and shows it as expected)."""
    kind, stored, shown = cell
    expected_kind, expected_text = expected_cell(value)
    if (kind, shown) != (expected_kind, expected_text):
        return False
    if kind == "float":
        return float(stored) == float(value)
    if kind == "date":  # Calc writes dates to the hundredth of a second
        moment = value.tz_convert("UTC").tz_localize(None).to_pydatetime()
        return abs((datetime.fromisoformat(stored) - moment).total_seconds()) < 0.01
    return True


def test_calc_reads_every_cell_as_the_geoparquet_holds_it(outputs, calc):
    _, parquet = outputs
    table = pd.read_parquet(parquet).drop(columns="geometry")
    sheet = calc["tramites"]

    header = [shown for _, _, shown in sheet[0][: len(table.columns)]]
    assert header == list(table.columns)
    assert len(sheet) == len(table) + 1
    wrong = [
        (row_number, name, value, cells[position])
        for row_number, (cells, values) in enumerate(
            zip(sheet[1:], table.itertuples(index=False, name=None), strict=True), 2
        )
        for position, (name, value) in enumerate(zip(table.columns, values, strict=True))
        if not matches(value, cells[position])
    ]
    assert wrong == []


def test_calc_shows_codes_decimals_dates_and_accents_as_written(outputs, calc):
    sheet = calc["tramites"]
    header = [shown for _, _, shown in sheet[0]]
    rows = {cells[0][2]: dict(zip(header, cells, strict=False)) for cells in sheet[1:]}

    small = rows["20"]
    assert small["codigo_catastral"] == ("string", None, "000120000010000")
    assert small["arquitecto_registro_nacional_cab"][2] == "000417"
    assert small["superficie_legal"] == ("float", "0.125", "0,125")
    assert small["solicitante"][2] == "ÑUSTA QUISPE MAMANÍ"
    first = rows["1"]
    assert first["codigo_catastral"][2] == PARCEL
    assert first["superficie_construida"][1:] == ("354.04", "354,04")
    assert first["fecha_registro"][0] == "date"
    assert first["fecha_registro"][2] == "2025-03-07 20:58:21 UTC"
    assert first["fecha_consulta"][2] == "2026-12-04 01:17:02 UTC"


def test_calc_finds_the_dictionary_sheet(calc):
    dictionary = calc["diccionario"]
    assert [shown for _, _, shown in dictionary[0][:5]] == [
        "columna",
        "significado",
        "unidad",
        "tipo",
        "término en inglés",
    ]
    meanings = {cells[0][2]: cells[1][2] for cells in dictionary[1:]}
    assert meanings["codigo_catastral"].startswith("Código catastral del predio")
