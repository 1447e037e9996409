"""Everything made from the demo's data folder says it is demo data; nothing made from
another folder does (postprocess.demo_mark).

Each test builds the same data folder twice, once with the marker `python -m tools.demo`
writes, and opens every output as its reader would: the merge's console, the table in each
format, the report's summary and PNGs, Datasette's metadata.
"""

import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from PIL import Image

from lapaz.storage.runs import Run, append_run, run_times
from postprocess import merge, report
from postprocess.datasette import prepare
from postprocess.demo_mark import DEMO_COLUMN, DEMO_MARK, DEMO_NOTE, write_demo_marker
from tests.test_merge import DETALLES, TRAMITES, jsonl

TABLES = ("tramites_merge.csv", "t.jsonl", "t.parquet", "t.gpkg", "t.geojson", "t.xlsx")
MONDAY = datetime(2026, 11, 30, 3, tzinfo=UTC)


@pytest.fixture(params=[True, False], ids=["demo", "not-demo"])
def folder(request, tmp_path: Path) -> tuple[Path, bool]:
    """A data folder with features, pages and two runs; the demo's when the param says so."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "tramites.jsonl").write_bytes(jsonl(TRAMITES))
    (data_dir / "detalles.jsonl").write_bytes(jsonl(DETALLES))
    for week in range(2):  # two runs: the report draws the runs chart
        start = MONDAY + timedelta(weeks=week)
        append_run(
            data_dir,
            Run(**run_times(start, start + timedelta(minutes=9)), estado="ok", version="1"),
        )
    if request.param:
        write_demo_marker(data_dir)
    return data_dir, request.param


def merged(data_dir: Path, name: str, capsys, *options: str) -> tuple[Path, str]:
    output = data_dir / name
    assert merge.main(["--data-dir", str(data_dir), "--output", str(output), *options]) == 0
    return output, capsys.readouterr().out


def test_the_merge_says_so_first_and_every_table_format_carries_the_mark(folder, capsys):
    data_dir, demo = folder
    for name in TABLES:
        output, console = merged(data_dir, name, capsys)
        assert console.startswith(DEMO_MARK) == demo, name
        assert (DEMO_MARK in console) == demo, name
        if output.suffix in (".csv", ".jsonl", ".parquet"):
            table = merge_table(output)
            assert (DEMO_COLUMN in table) == demo, name
            if demo:
                assert table[DEMO_COLUMN].astype(str).eq("True").all(), name

    # The GeoPackage: its layer's title and description, what QGIS shows of it.
    with sqlite3.connect(data_dir / "t.gpkg") as geopackage:
        layer, identifier, description = geopackage.execute(
            "select table_name, identifier, description from gpkg_contents"
        ).fetchone()
    assert layer == "tramites"
    assert (DEMO_MARK in (identifier or "")) == demo
    assert (description == DEMO_NOTE) == demo

    geojson = json.loads((data_dir / "t.geojson").read_text(encoding="utf-8"))
    assert (geojson.get("description") == DEMO_NOTE) == demo

    # The workbook opens on a sheet that says so.
    workbook = load_workbook(data_dir / "t.xlsx", read_only=True)
    try:
        first = workbook.worksheets[0]
        assert (first.title == "demostracion") == demo
        if demo:
            assert [row[0] for row in first.iter_rows(values_only=True)] == [DEMO_MARK, DEMO_NOTE]
        data = workbook["tramites"]
        header = next(data.iter_rows(max_row=1, values_only=True))
        assert (DEMO_COLUMN in header) == demo
    finally:
        workbook.close()


def merge_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    return pd.read_parquet(path)


def test_the_blds_export_carries_the_mark(folder, capsys):
    data_dir, demo = folder
    output, console = merged(data_dir, "permisos_blds.csv", capsys, "--blds")
    assert (DEMO_MARK in console) == demo
    assert (DEMO_COLUMN in pd.read_csv(output, dtype=str)) == demo


def test_the_merge_says_so_in_spanish(folder, capsys, user_locale):
    data_dir, demo = folder
    user_locale("es_BO.UTF-8")
    _, console = merged(data_dir, "tramites_merge.csv", capsys)
    first = console.splitlines()[0]
    if demo:
        assert first.startswith(f"{DEMO_MARK}: {data_dir} la escribió python -m tools.demo")
        assert "sus permisos son inventados, no los de La Paz" in first
    else:
        assert first.startswith("Se leyeron")


def test_the_reports_summary_and_every_chart_say_so(folder, capsys):
    data_dir, demo = folder
    merged(data_dir, "tramites_merge.csv", capsys)
    assert report.main(["--data-dir", str(data_dir)]) == 0
    folder_out = data_dir / "report"
    summary = (folder_out / "summary.md").read_text(encoding="utf-8")
    assert (DEMO_MARK in summary) == demo

    # Every chart drawn: its heading and caption in the summary, its PNG's metadata.
    captions = dict(re.findall(r"!\[(.*?)\]\((.*?\.png)\)", summary))
    captions = {png: caption for caption, png in captions.items()}
    pngs = sorted(folder_out.glob("*.png"))
    assert "runs.png" in {png.name for png in pngs}
    assert {png.name for png in pngs} == set(captions)
    for png in pngs:
        assert captions[png.name].startswith(DEMO_MARK) == demo, png.name
        with Image.open(png) as image:
            metadata = image.text
        assert (metadata.get("Title") == DEMO_MARK) == demo, png.name
        assert (metadata.get("Description") == DEMO_NOTE) == demo, png.name
    headings = re.findall(r"^### (.*)$", summary, flags=re.MULTILINE)
    assert headings
    assert all(heading.startswith(DEMO_MARK) == demo for heading in headings)


def test_datasettes_titles_and_description_say_so(folder, capsys):
    data_dir, demo = folder
    geopackage, _ = merged(data_dir, "t.gpkg", capsys)
    metadata = json.loads(prepare(geopackage).metadata.read_text(encoding="utf-8"))
    table = metadata["databases"]["t"]["tables"]["tramites"]
    for described in (metadata, table):
        assert described["title"].startswith(DEMO_MARK) == demo
        assert (DEMO_NOTE in described["description_html"]) == demo
    assert (DEMO_COLUMN in table["columns"]) == demo  # explained from the dictionary
