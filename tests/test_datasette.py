"""`python -m postprocess.datasette`: the GeoPackage served as the data dictionary describes it.

The prepared database and metadata are read directly and through Datasette's own `--get`;
the e2e tests start the documented command once for the module and look at its pages in
Debian's Chromium, headless, as a person would (LAPAZ_UPDATE_SCREENSHOT=1 also writes the
screenshot the docs show, docs/img/datasette.png).
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from contextlib import closing
from pathlib import Path
from urllib.parse import urlencode

import pytest

from lapaz.records.tramite import tramite_record
from postprocess.datasette import main, prepare
from postprocess.dictionary_data import WFS_TERMS
from tests.programs import needs_program
from tests.test_merge import DETALLES, PARCEL, TRAMITES, jsonl, run_merge
from tools.crawl import PROJECT_ROOT
from tools.replica.dataset import generate_features
from tools.scrapyd_server import free_port

FETCHED = "2026-12-04T01:17:02Z"
SCREENSHOT = PROJECT_ROOT / "docs" / "img" / "datasette.png"
TITLE = "Trámites territoriales (permisos de construcción)"
START_TIMEOUT = 60
PAGE_TIMEOUT = 30


def merged_geopackage(folder: Path, tramites: list[dict], detalles: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tramites.jsonl").write_bytes(jsonl(tramites))
    (folder / "detalles.jsonl").write_bytes(jsonl(detalles))
    output = folder / "tramites.gpkg"
    finished = run_merge(folder, "--output", str(output), "--numeric")
    assert finished.returncode == 0, finished.stderr
    return output


@pytest.fixture(scope="module")
def geopackage(tmp_path_factory) -> Path:
    tramites = [{**record, "fecha_consulta": FETCHED} for record in TRAMITES]
    tramites[0]["nombre_edificio"] = "TORRE ILLIMANI"
    tramites[1]["fecha_registro"] = "2025-01-01T02:30:00Z"  # 2024 in La Paz (UTC−4)
    return merged_geopackage(tmp_path_factory.mktemp("data"), tramites, DETALLES)


def rows(database: Path, sql: str, *parameters) -> list[tuple]:
    with closing(sqlite3.connect(database)) as connection:
        return connection.execute(sql, parameters).fetchall()


def datasette_get(prepared, path: str) -> object:
    """What Datasette answers for `path` on the prepared database, without a server."""
    command = [sys.executable, "-m", "datasette", str(prepared.database)]
    command += ["--metadata", str(prepared.metadata), "--get", path]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


# -- The prepared database and its metadata --------------------------------------------


def test_prepared_table_is_keyed_ordered_and_has_no_internal_tables(geopackage):
    prepared = prepare(geopackage)

    assert prepared.database == geopackage.parent / "datasette" / "tramites.db"
    tables = [name for (name,) in rows(prepared.database, "select name from sqlite_master")]
    assert "tramites" in tables
    assert not [name for name in tables if name.startswith(("gpkg_", "rtree_"))]
    columns = rows(prepared.database, "pragma table_info(tramites)")
    names = [column[1] for column in columns]
    assert names[:4] == ["id_pc_tramite", "fecha_registro", "anio_registro", "descripcion"]
    assert [column[1] for column in columns if column[5]] == ["id_pc_tramite"]  # the key
    assert names[-4:] == [
        "solicitante",
        "arquitecto_nombre",
        "arquitecto_registro_nacional_cab",
        "otro__arquitecto_reponsable",
    ]
    assert "geom" not in names
    assert "fid" not in names
    blobs = " + ".join(f"(typeof(\"{name}\") = 'blob')" for name in names)
    assert rows(prepared.database, f"select sum({blobs}) from tramites") == [(0,)]
    years = dict(rows(prepared.database, "select id_pc_tramite, anio_registro from tramites"))
    assert (years[1], years[2]) == (2025, 2024)
    first = rows(prepared.database, "select codigo_catastral from tramites where id_pc_tramite = 1")
    assert first == [(PARCEL,)]


def test_metadata_comes_from_the_data_dictionary(geopackage):
    prepared = prepare(geopackage)

    metadata = json.loads(prepared.metadata.read_text(encoding="utf-8"))
    assert metadata["title"] == "Permisos de construcción de La Paz"
    assert metadata["source"].startswith("Gobierno Autónomo Municipal de La Paz")
    assert metadata["license"]
    assert "consultado el 2026-12-04" in metadata["description_html"]
    table = metadata["databases"]["tramites"]["tables"]["tramites"]
    assert table["title"] == TITLE
    names = [name for (_, name, *_) in rows(prepared.database, "pragma table_info(tramites)")]
    assert set(table["columns"]) == set(names)  # every column described
    assert table["columns"]["codigo_catastral"] == WFS_TERMS["codigo_catastral"].meaning
    assert table["columns"]["superficie_construida"].endswith("Unidad: m².")
    assert table["units"]["superficie_construida"] == "m^2"
    assert table["facets"] == ["anio_registro", "macro_distrito", "resultado", "descripcion"]
    assert table["fts_table"] == "tramites_fts"
    assert "--sin-nombres" in table["description_html"]


def test_served_table_searches_without_accents_and_opens_rows_by_key(geopackage):
    prepared = prepare(geopackage)

    found = datasette_get(
        prepared, "/tramites/tramites.json?" + urlencode({"_search": "illimaní", "_shape": "array"})
    )
    assert [row["id_pc_tramite"] for row in found] == [1]
    by_name = datasette_get(
        prepared, "/tramites/tramites.json?" + urlencode({"_search": "ñuflo", "_shape": "array"})
    )
    assert [row["id_pc_tramite"] for row in by_name] == [2]
    row = datasette_get(prepared, "/tramites/tramites/1.json?_shape=array")
    assert row[0]["codigo_catastral"] == PARCEL
    assert row[0]["fecha_consulta"] == "2026-12-04T01:17:02.000Z"  # as GDAL writes it


def test_without_names_nothing_personal_is_served_or_searchable(geopackage):
    prepared = prepare(geopackage, without_names=True)

    assert prepared.database.parent.name == "datasette-sin-nombres"
    names = [name for (_, name, *_) in rows(prepared.database, "pragma table_info(tramites)")]
    assert "solicitante" not in names
    assert "otro__arquitecto_reponsable" not in names
    assert "arquitecto_registro_nacional_cab" not in names
    everything = rows(prepared.database, "select * from tramites")
    assert not [row for row in everything if "PEÑA" in repr(row) or "ÑUFLO" in repr(row)]
    found = datasette_get(
        prepared, "/tramites/tramites.json?" + urlencode({"_search": "ñuflo", "_shape": "array"})
    )
    assert found == []
    metadata = json.loads(prepared.metadata.read_text(encoding="utf-8"))
    assert "Sin datos personales" in metadata["description_html"]


def test_rows_without_id_pc_tramite_are_kept_and_keyed_by_number(tmp_path):
    orphan = {**DETALLES[-1], "id_pc_tramite": None, "identificador": "no-es-base64"}
    tramites = [{**TRAMITES[0], "nombre_edificio": "TORRE ILLIMANI"}]
    prepared = prepare(merged_geopackage(tmp_path, tramites, [orphan]))

    assert not prepared.keyed
    assert rows(prepared.database, "select count(*), count(id_pc_tramite) from tramites") == [
        (2, 1)
    ]
    found = datasette_get(
        prepared, "/tramites/tramites.json?" + urlencode({"_search": "illimani", "_shape": "array"})
    )
    assert [row["id_pc_tramite"] for row in found] == [1]


def test_a_missing_geopackage_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "nada.gpkg")])

    assert exit_info.value.code == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'nada.gpkg'}: file not found\n"


def test_both_guides_give_the_one_command_and_why_names_stay_out_in_public():
    command = "python -m postprocess.datasette data/tramites.gpkg"
    for guide, other in (
        ("open-the-data.md", "abrir-los-datos.md"),
        ("abrir-los-datos.md", "open-the-data.md"),
    ):
        text = (PROJECT_ROOT / "docs" / guide).read_text(encoding="utf-8")
        assert command in text
        assert f"{command} --sin-nombres" in text
        assert f"({other})" in text
        assert "(img/datasette.png)" in text
        assert "tramites.xlsx" in text
    assert SCREENSHOT.read_bytes().startswith(b"\x89PNG")


# -- In a real browser -----------------------------------------------------------------


def replica_tramites(count: int) -> list[dict]:
    """The replica's permits as the crawl records them (no crawl: no pages)."""
    records = []
    for feature in generate_features(count):
        place = (feature.get("geometry") or {}).get("coordinates") or (None, None)
        raw = {**feature["properties"], "longitude": place[0], "latitude": place[1]}
        records.append({**tramite_record(raw), "fecha_consulta": FETCHED})
    return records


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The documented command serving a GeoPackage of 300 permits; its base URL."""
    tramites = replica_tramites(300)
    geopackage = merged_geopackage(tmp_path_factory.mktemp("served"), tramites, [])
    port = free_port()
    log = geopackage.parent / "datasette.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "postprocess.datasette", str(geopackage), "--port", str(port)],
            cwd=PROJECT_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not answers(f"{base}/-/versions.json"):
            assert process.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "Datasette did not answer"
            time.sleep(0.1)
        yield base, tramites
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",  # containers have a small /dev/shm
        "--window-size=1280,2100",
        # Tests never reach the internet: map tiles from the web are not fetched.
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(
        service=Service(executable_path=shutil.which("chromedriver") or "chromedriver"),
        options=options,
    )
    yield driver
    driver.quit()


def visible_text(browser) -> str:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.TAG_NAME, "body").text


@pytest.mark.e2e
@needs_program("chromium", "chromium")
@needs_program("chromedriver", "chromium-driver")
def test_home_page_shows_the_title_and_no_internal_tables(served, browser):
    from selenium.webdriver.common.by import By

    base, _ = served
    browser.get(base + "/")

    assert browser.find_element(By.TAG_NAME, "h1").text == "Permisos de construcción de La Paz"
    text = visible_text(browser)
    assert "Cómo citar" in text
    assert "gpkg_" not in text
    assert "rtree_" not in text
    links = [link.text for link in browser.find_elements(By.CSS_SELECTOR, "h2 a, h3 a, li a")]
    assert "tramites" in links


@pytest.mark.e2e
@needs_program("chromium", "chromium")
@needs_program("chromedriver", "chromium-driver")
def test_table_page_is_described_faceted_searchable_and_mapped(served, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    base, tramites = served
    browser.get(base + "/tramites/tramites")

    assert browser.find_element(By.TAG_NAME, "h1").text == TITLE
    described = browser.find_element(By.CSS_SELECTOR, "dl.column-descriptions")
    assert described.is_displayed()
    assert WFS_TERMS["codigo_catastral"].meaning in described.text
    facet = browser.find_element(By.CSS_SELECTOR, '.facet-info[data-column="macro_distrito"]')
    assert facet.is_displayed()
    district = next(record["macro_distrito"] for record in tramites if record["macro_distrito"])
    assert district in facet.text
    assert browser.find_element(By.CSS_SELECTOR, "input[name=_search]").is_displayed()
    header = [cell.text for cell in browser.find_elements(By.CSS_SELECTOR, "table th")]
    assert "solicitante" not in header[:10]  # names are not what the table leads with
    # The map: Leaflet's container, with the permits' markers (clustered) on it.
    map_element = WebDriverWait(browser, PAGE_TIMEOUT).until(
        lambda driver: driver.find_element(By.CSS_SELECTOR, ".leaflet-container")
    )
    WebDriverWait(browser, PAGE_TIMEOUT).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, ".leaflet-marker-icon")
    )
    assert map_element.is_displayed()
    assert map_element.size["height"] > 300
    text = visible_text(browser)
    assert "Binary" not in text
    assert "m²" in text  # surfaces carry their unit

    shot = tmp_path / "datasette.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG")
    if os.environ.get("LAPAZ_UPDATE_SCREENSHOT"):
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, SCREENSHOT)


@pytest.mark.e2e
@needs_program("chromium", "chromium")
@needs_program("chromedriver", "chromium-driver")
def test_row_page_is_keyed_by_id_pc_tramite(served, browser):
    from selenium.webdriver.common.by import By

    base, tramites = served
    record = next(record for record in tramites if record["codigo_catastral"])
    browser.get(f"{base}/tramites/tramites/{record['id_pc_tramite']}")

    text = visible_text(browser)
    assert str(record["id_pc_tramite"]) in browser.find_element(By.TAG_NAME, "h1").text
    assert record["codigo_catastral"] in text
    assert "Binary" not in text
