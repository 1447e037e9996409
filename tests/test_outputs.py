"""Each output format of the merge, read back with a reader of its own.

GeoPackage and GeoJSON with GDAL's `ogrinfo` (Debian's gdal-bin, independent of the GDAL
inside pyogrio), GeoParquet with pyarrow and geopandas, the workbook with openpyxl, the
GeoPackage once more through Datasette's JSON API.
"""

import json
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

import geopandas
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest

from tests.programs import needs_program
from tests.test_merge import DETALLES, PARCEL, TRAMITES, jsonl, run_merge, tramite

# A permit without coordinates (a null geometry on the server) and one whose code starts
# with zeros that a number would lose.
NOWHERE = tramite(9, 76, "000120000010000", latitude=None, longitude=None)
ZEROS = "000120000010000"
FETCHED = "2026-12-04T01:17:02Z"
PAGE_FETCHED = "2026-12-04T01:18:40Z"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    tramites = [{**record, "fecha_consulta": FETCHED} for record in [*TRAMITES, NOWHERE]]
    (folder / "tramites.jsonl").write_bytes(jsonl(tramites))
    detalles = [{**record, "fecha_consulta": PAGE_FETCHED} for record in DETALLES]
    (folder / "detalles.jsonl").write_bytes(jsonl(detalles))
    return folder


def merge_to(data_dir: Path, name: str, *options: str) -> Path:
    output = data_dir / "out" / name
    finished = run_merge(data_dir, "--output", str(output), *options)
    assert finished.returncode == 0, finished.stderr
    return output


def ogrinfo(path: Path, *arguments: str) -> str:
    """What GDAL's ogrinfo lists of `path`; it must read it without a warning."""
    finished = subprocess.run(
        ["ogrinfo", "-ro", "-al", *arguments, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert finished.stderr == ""
    return finished.stdout


def features(listing: str) -> list[dict[str, str]]:
    """ogrinfo's feature listing as {field: value} dicts, the geometry as `_geometry`."""
    found = []
    for block in listing.split("OGRFeature(")[1:]:
        fields = dict(re.findall(r"^  (\w+) \(\w+\) = (.*)$", block, re.MULTILINE))
        geometry = re.search(r"^  (POINT.*)$", block, re.MULTILINE)
        fields["_geometry"] = geometry.group(1) if geometry else None
        found.append(fields)
    return found


def field_types(listing: str) -> dict[str, str]:
    return dict(re.findall(r"^(\w+): (\w+) \(", listing, re.MULTILINE))


# -- GeoPackage ------------------------------------------------------------------------


@needs_program("ogrinfo", "gdal-bin")
def test_geopackage_read_by_gdal(data_dir):
    path = merge_to(data_dir, "tramites.gpkg", "--numeric")

    summary = ogrinfo(path, "-so")
    assert "Layer name: tramites" in summary
    assert "Geometry: Point" in summary
    assert "Feature Count: 10" in summary
    assert 'ID["EPSG",4326]' in summary
    types = field_types(summary)
    assert types["id_pc_tramite"] == "Integer64"
    assert types["fecha_registro"] == "DateTime"
    assert types["fecha_consulta"] == "DateTime"
    assert types["fecha_consulta_pagina"] == "DateTime"
    assert types["codigo_catastral"] == "String"
    assert types["superficie_construida"] == "Real"
    assert types["par__numero_de_plantas_num"] == "Integer64"
    assert types["par__superficie_construida_num"] == "Real"

    rows = {row["id_pc_tramite"]: row for row in features(ogrinfo(path))}
    assert rows["1"]["codigo_catastral"] == PARCEL
    assert rows["1"]["_geometry"] == "POINT (-68.083611 -16.500009)"
    assert rows["1"]["fecha_registro"] == "2025/03/07 20:58:21.667+00"
    assert rows["1"]["fecha_consulta"] == "2026/12/04 01:17:02+00"
    assert rows["1"]["par__superficie_construida_num"] == "1234.56"
    assert rows["9"]["codigo_catastral"] == ZEROS
    assert rows["9"]["_geometry"] is None  # kept, without a point
    assert rows["99"]["fuente"] == "HTML"


def test_geopackage_served_by_datasette(data_dir):
    path = merge_to(data_dir, "tramites.gpkg")
    query = (
        "select codigo_catastral, count(*) as n from tramites"
        " where fuente = 'Ambos' and codigo_catastral is not null"
        " group by codigo_catastral order by n desc, 1 limit 2"
    )
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "datasette",
            str(path),
            "--get",
            "/tramites.json?" + urlencode({"sql": query, "_shape": "array"}),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr
    assert json.loads(finished.stdout) == [
        {"codigo_catastral": PARCEL, "n": 2},
        {"codigo_catastral": "001002003004005", "n": 1},
    ]


# -- GeoJSON ---------------------------------------------------------------------------


@needs_program("ogrinfo", "gdal-bin")
def test_geojson_is_rfc_7946_and_read_by_gdal(data_dir):
    path = merge_to(data_dir, "tramites.geojson")

    collection = json.loads(path.read_text(encoding="utf-8"))
    assert collection["type"] == "FeatureCollection"
    assert "crs" not in collection  # RFC 7946: WGS 84 longitude, latitude, no crs member
    by_id = {feature["properties"]["id_pc_tramite"]: feature for feature in collection["features"]}
    assert by_id[1]["geometry"] == {"type": "Point", "coordinates": [-68.083611, -16.500009]}
    assert by_id[9]["geometry"] is None
    assert by_id[9]["properties"]["codigo_catastral"] == ZEROS

    listing = ogrinfo(path)
    assert "Feature Count: 10" in listing
    rows = {row["id_pc_tramite"]: row for row in features(listing)}
    assert rows["9"]["codigo_catastral"] == ZEROS
    assert rows["1"]["_geometry"] == "POINT (-68.083611 -16.500009)"


# -- GeoParquet ------------------------------------------------------------------------


def test_geoparquet_metadata_and_types(data_dir):
    path = merge_to(data_dir, "tramites.parquet", "--numeric")

    table = pq.read_table(path)
    geo = json.loads(table.schema.metadata[b"geo"])
    assert geo["primary_column"] == "geometry"
    assert geo["columns"]["geometry"]["encoding"] == "WKB"
    assert geo["columns"]["geometry"]["crs"]["id"] == {"authority": "EPSG", "code": 4326}
    schema = table.schema
    assert str(schema.field("fecha_registro").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("fecha_consulta").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("fecha_consulta_pagina").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("id_pc_tramite").type) == "int64"
    assert str(schema.field("codigo_catastral").type) in ("string", "large_string")
    assert str(schema.field("par__superficie_construida_num").type) == "double"

    plain = pd.read_parquet(path)  # pandas alone: geometry as WKB bytes
    assert len(plain) == 10
    assert plain.loc[plain["id_pc_tramite"] == 9, "codigo_catastral"].item() == ZEROS

    frame = geopandas.read_parquet(path)
    assert frame.crs.to_epsg() == 4326
    first = frame[frame["id_pc_tramite"] == 1].geometry.item()
    assert (first.x, first.y) == (-68.083611, -16.500009)
    assert frame[frame["id_pc_tramite"] == 9].geometry.isna().item()
    assert frame["fecha_registro"].iloc[0] == pd.Timestamp("2025-03-07T20:58:21.667Z")


# -- Workbook and CSV ------------------------------------------------------------------


def test_workbook_cells_have_their_types(data_dir):
    path = merge_to(data_dir, "tramites.xlsx", "--numeric")

    sheet = openpyxl.load_workbook(path)["tramites"]
    header = [cell.value for cell in sheet[1]]
    assert header == list(pd.read_parquet(merge_to(data_dir, "same.parquet", "--numeric")))[:-1]
    first = dict(zip(header, sheet[2], strict=True))
    assert first["codigo_catastral"].data_type == "s"
    assert first["codigo_catastral"].value == PARCEL
    assert first["arquitecto_registro_nacional_cab"].value == "018122"
    assert first["superficie_construida"].data_type == "n"
    assert first["superficie_construida"].value == 354.04
    assert first["id_pc_tramite"].value == 1
    assert first["par__superficie_construida_num"].value == 1234.56
    assert first["fecha_registro"].is_date
    assert first["fecha_registro"].value == datetime(2025, 3, 7, 20, 58, 21, 667000)
    assert first["fecha_registro"].number_format == 'yyyy-mm-dd hh:mm:ss "UTC"'
    assert first["fecha_consulta"].value == datetime(2026, 12, 4, 1, 17, 2)
    assert first["fecha_consulta_pagina"].value == datetime(2026, 12, 4, 1, 18, 40)
    rows = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    assert rows[9][header.index("codigo_catastral")].value == ZEROS


def test_workbook_filters_fits_and_explains_its_columns(data_dir):
    path = merge_to(data_dir, "tramites.xlsx", "--numeric")

    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["tramites", "diccionario"]
    sheet = workbook["tramites"]
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}11"
    assert sheet.freeze_panes == "A2"
    header = [cell.value for cell in sheet[1]]

    def width(name: str) -> float:
        return sheet.column_dimensions[sheet.cell(1, header.index(name) + 1).column_letter].width

    # As wide as the longest value, not the header: names are not cut.
    assert width("solicitante") >= len("MARÍA VIRGINIA PEÑA")
    assert width("anio") < width("solicitante")
    assert width("fecha_registro") >= len("2025-03-07 20:58:21 UTC")

    dictionary = workbook["diccionario"]
    assert dictionary.freeze_panes == "A2"
    rows = {row[0]: row for row in dictionary.iter_rows(min_row=2, values_only=True)}
    assert [cell.value for cell in dictionary[1]][:3] == ["columna", "significado", "unidad"]
    assert list(rows) == header
    assert rows["superficie_construida"][1:3] == ("Superficie construida aprobada.", "m²")
    assert rows["par__superficie_construida_num"][2] == "m²"
    assert "UTC" in rows["fecha_consulta"][1]


def test_csv_keeps_iso_text(data_dir):
    path = merge_to(data_dir, "tramites.csv")

    frame = pd.read_csv(path, dtype=str)
    assert frame["fecha_registro"].iloc[0] == "2025-03-07T20:58:21.667Z"
    assert frame.loc[frame["id_pc_tramite"] == "9", "codigo_catastral"].item() == ZEROS
    assert "geometry" not in frame
