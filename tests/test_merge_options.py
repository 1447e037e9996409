"""The merge's options for sharing and for unfinished runs: --sin-nombres, --parcial, --blds."""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from postprocess.blds import la_paz_day
from postprocess.merge import main
from postprocess.privacy import is_personal
from tests.test_merge import DETALLES, PARCEL, PROJECT_ROOT, TRAMITES, jsonl, run_merge


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "tramites.jsonl").write_bytes(jsonl(TRAMITES))
    (tmp_path / "detalles.jsonl").write_bytes(jsonl(DETALLES))
    return tmp_path


def read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_merge_imports_no_scrapy():
    check = "import postprocess.merge, sys; assert 'scrapy' not in sys.modules"
    subprocess.run([sys.executable, "-c", check], cwd=PROJECT_ROOT, check=True, timeout=120)


# -- --sin-nombres ---------------------------------------------------------------------


def test_sin_nombres_leaves_out_all_personal_data(data_dir, capsys):
    output = data_dir / "compartir.csv"
    assert main(["--data-dir", str(data_dir), "--output", str(output), "--sin-nombres"]) == 0

    frame = read_csv(output)
    personal = [
        "solicitante",
        "arquitecto_nombre",
        "arquitecto_registro_nacional_cab",
        "otro__arquitecto_reponsable",
    ]
    for name in personal:
        assert name not in frame
    text = output.read_text(encoding="utf-8")
    for value in ("PEÑA", "ÑUFLO", "018122"):
        assert value not in text
    assert len(frame) == 9
    assert f"Personal data left out: {', '.join(personal)}" in capsys.readouterr().out


def test_sin_nombres_leaves_out_every_column_the_readmes_call_personal(data_dir):
    """The READMEs name the personal columns; --sin-nombres leaves out each of them."""
    for readme in ("README.md", "README.es.md"):
        section = personal_data_section((PROJECT_ROOT / readme).read_text(encoding="utf-8"))
        named = set(re.findall(r"`([a-z_]+)`", section)) - {"--sin-nombres"}
        assert {"solicitante", "arquitecto_registro_nacional_cab"} <= named, readme
        assert all(is_personal(name) for name in named), (readme, named)


def personal_data_section(readme: str) -> str:
    """The README's section on personal data, up to the next heading."""
    start = re.search(r"^## (Personal data|Datos personales)$", readme, re.MULTILINE)
    assert start, "no personal data section"
    end = readme.find("\n## ", start.end())
    return readme[start.end() : end if end != -1 else None]


@pytest.mark.parametrize(
    ("column", "personal"),
    [
        ("solicitante", True),
        ("arquitecto_registro_nacional_cab", True),
        ("otro__arquitecto_reponsable", True),
        ("otro__arquitecto_responsable", True),
        ("otro__arquitecto_registro", True),
        ("gral__propietario", True),
        ("nombre_edificio", False),
        ("par__superficie_construida", False),
        ("gral__codigo_catastral", False),
    ],
)
def test_personal_columns(column, personal):
    assert is_personal(column) is personal


# -- --parcial -------------------------------------------------------------------------


def interrupted(data_dir: Path) -> Path:
    (data_dir / "tramites.jsonl").rename(data_dir / "tramites.jsonl.partial")
    return data_dir


def test_an_interrupted_run_is_named_with_what_to_do(data_dir):
    interrupted(data_dir)
    finished = run_merge(data_dir)

    assert finished.returncode == 1
    assert finished.stderr == (
        f"error: {data_dir / 'tramites.jsonl'}: file not found, but"
        f" {data_dir / 'tramites.jsonl.partial'} holds an interrupted harvest: run the crawl"
        " again to complete it, or merge what it has with --parcial\n"
    )
    assert not (data_dir / "tramites_merge.csv").exists()


def test_parcial_merges_the_interrupted_run_marked_as_such(data_dir, capsys):
    interrupted(data_dir)

    assert main(["--data-dir", str(data_dir), "--parcial"]) == 0

    frame = read_csv(data_dir / "tramites_merge.csv")
    assert len(frame) == 9
    assert set(frame["descarga_incompleta"]) == {"True"}
    out = capsys.readouterr().out
    assert "Read 8 permits (tramites.jsonl.partial)" in out
    assert "INCOMPLETE HARVEST: merged from tramites.jsonl.partial" in out


def test_parcial_without_an_interrupted_run_is_an_error(data_dir, capsys):
    assert main(["--data-dir", str(data_dir), "--parcial"]) == 1
    assert "tramites.jsonl.partial: file not found (no interrupted harvest" in (
        capsys.readouterr().err
    )


def test_a_newer_interrupted_run_is_mentioned(data_dir, capsys):
    partial = data_dir / "tramites.jsonl.partial"
    partial.write_bytes(jsonl(TRAMITES[:2]))
    complete = data_dir / "tramites.jsonl"
    stat = complete.stat()
    os.utime(partial, (stat.st_atime + 60, stat.st_mtime + 60))

    assert main(["--data-dir", str(data_dir)]) == 0

    captured = capsys.readouterr()
    assert "Read 8 permits (tramites.jsonl)" in captured.out
    assert f"warning: {partial} is newer" in captured.err
    assert "descarga_incompleta" not in read_csv(data_dir / "tramites_merge.csv")


# -- --blds ----------------------------------------------------------------------------


def test_blds_export_maps_the_core_permit_fields(data_dir, capsys):
    output = data_dir / "permisos_blds.csv"
    assert main(["--data-dir", str(data_dir), "--blds", "--output", str(output)]) == 0

    with output.open(encoding="utf-8", newline="") as source:
        records = {record["PermitNum"]: record for record in csv.DictReader(source)}
    assert set(records) == {"1", "2", "3", "4", "5", "6", "7", "8"}  # no page without permit
    first = records["1"]
    assert first["Description"] == "PERMISO DE CONSTRUCCION"
    # 2025-03-07T20:58:21Z is still the 7th in La Paz (UTC-4).
    assert first["AppliedDate"] == "2025-03-07"
    assert first["StatusCurrent"] == "APROBADO"
    assert first["StatusCurrentMapped"] == "Permit Issued"
    assert first["PermitTypeMapped"] == "Building"
    assert first["PIN"] == PARCEL
    assert (first["Latitude"], first["Longitude"]) == ("-16.500009", "-68.083611")
    assert float(first["TotalSqFt"]) == pytest.approx(354.04 * 10.7639, abs=0.05)
    assert first["ContractorLicNum"] == "018122"
    assert first["Jurisdiction"] == "Gobierno Autónomo Municipal de La Paz"
    assert "BLDS: 8 permits (1 pages without a permit left out)" in capsys.readouterr().out


def test_blds_day_is_the_la_paz_day(tmp_path):
    days = la_paz_day(pd.Series(["2025-01-01T02:30:00Z", "2025-01-01T04:00:00.000Z", None]))
    assert list(days.fillna("")) == ["2024-12-31", "2025-01-01", ""]


# -- An --output that would lose data ----------------------------------------------------


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` and its content."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize(
    ("output", "owned"),
    [
        ("tramites.jsonl", "tramites.jsonl"),
        ("detalles.jsonl", "detalles.jsonl"),
        ("cambios.jsonl", "cambios.jsonl"),
        ("historial/corridas.jsonl", "historial/"),
        ("historial/tabla.csv", "historial/"),
        ("archivo/tabla.parquet", "archivo/"),
        ("muestras/tabla.xlsx", "muestras/"),
    ],
)
def test_an_output_over_a_file_of_the_crawl_is_refused_before_anything_is_written(
    data_dir, output, owned, capsys
):
    (data_dir / "cambios.jsonl").write_bytes(b'{"tipo":"nuevo"}\n')
    (data_dir / "historial").mkdir()
    (data_dir / "historial" / "corridas.jsonl").write_bytes(b'{"estado":"correcta"}\n')
    before = folder_bytes(data_dir)

    assert main(["--data-dir", str(data_dir), "--output", str(data_dir / output)]) == 1

    captured = capsys.readouterr()
    assert captured.err == (
        f"error: --output {data_dir / output} would write over the crawl's {owned} in"
        f" {data_dir}: choose another name, e.g. {data_dir / 'tramites_merge.csv'}\n"
    )
    assert captured.out == ""
    assert folder_bytes(data_dir) == before


def test_the_merge_cannot_replace_its_input(data_dir):
    """The issue's case, as a user types it: the merged table over the crawl's features."""
    before = (data_dir / "tramites.jsonl").read_bytes()

    finished = run_merge(data_dir, "--output", str(data_dir / "tramites.jsonl"))

    assert finished.returncode == 1
    assert finished.stderr.count("\n") == 1
    assert "would write over the crawl's tramites.jsonl" in finished.stderr
    assert (data_dir / "tramites.jsonl").read_bytes() == before


def test_an_output_over_the_files_of_another_data_folder_is_refused(data_dir, tmp_path):
    """A folder a crawl has used (it holds the crawl's lock file) is a data folder too,
    whichever folder is merged; the path may also be written another way."""
    other = tmp_path / "otra"
    other.mkdir()
    (other / ".lock").touch()
    (other / "detalles.jsonl").write_bytes(b'{"error":null}\n')
    roundabout = other / ".." / "otra" / "detalles.jsonl"

    assert main(["--data-dir", str(data_dir), "--output", str(roundabout)]) == 1
    assert (other / "detalles.jsonl").read_bytes() == b'{"error":null}\n'


@pytest.mark.parametrize("output", ["tramites.gpkg", "tramites_merge.jsonl", "informes/x.csv"])
def test_other_outputs_in_the_data_folder_are_written(data_dir, output):
    (data_dir / "informes").mkdir()
    assert main(["--data-dir", str(data_dir), "--output", str(data_dir / output)]) == 0
    assert (data_dir / output).stat().st_size > 0


def test_parcial_of_a_harvest_without_features_says_so(data_dir):
    (data_dir / "tramites.jsonl").unlink()
    (data_dir / "tramites.jsonl.partial").write_bytes(b"")

    finished = run_merge(data_dir, "--parcial")

    assert finished.returncode == 1
    assert finished.stderr == (
        f"error: {data_dir / 'tramites.jsonl.partial'} holds no features: the interrupted"
        " harvest got none, there is nothing to merge\n"
    )
    assert not (data_dir / "tramites_merge.csv").exists()
