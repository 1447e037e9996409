import csv
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from postprocess.merge import write_table
from postprocess.report import (
    MAP_CHART,
    NEEDED_COLUMNS,
    SUMMARY_FILE,
    SURFACE_CHART,
    YEAR_CHART,
    Permits,
    main,
    permits_per_year_chart,
    surface_by_district_chart,
)
from tools.crawl import CRAWL_TIMEOUT, PROJECT_ROOT

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLUMNS = ["id_pc_tramite", "codigo_catastral", *NEEDED_COLUMNS]


def row(
    fuente: str,
    fecha: str = "",
    resultado: str = "",
    macro: str = "",
    district: str = "",
    surface: str = "",
    error: str = "",
    latitude: str = "-16.5",
    longitude: str = "-68.1",
) -> dict[str, str]:
    return {
        "id_pc_tramite": "1",
        "codigo_catastral": "044104900070000",
        "fecha_registro": fecha,
        "resultado": resultado,
        "macro_distrito": macro,
        "distrito_municipal": district,
        "superficie_construida": surface,
        "latitude": latitude,
        "longitude": longitude,
        "error_pagina": error,
        "fuente": fuente,
    }


# Five permits (three approved, pages of two failed), one page without a permit.
ROWS = [
    row("Ambos", "2023-05-02T10:00:00.000Z", "APROBADO", "V - SUR", "18", "100.5"),
    row("Ambos", "2024-01-15T10:00:00.000Z", "APROBADO", "V - SUR", "18", "49.5", "rechazada"),
    row(
        "Ambos",
        "2024-12-31T23:00:00.000Z",
        "APROBADO",
        "I - COTAHUMA",
        "3",
        "200",
        "TimeoutError: took too long",
    ),
    row("API", "2022-07-01T08:00:00.000Z", "OBSERVADO", "I - COTAHUMA", "3", "", latitude=""),
    row("API", resultado="OBSERVADO", district="3", surface="30"),
    row("HTML", latitude="", longitude=""),
]


def write_merged(path: Path, rows: list[dict], columns: list[str] = COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as output:
        writer = csv.DictWriter(output, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def run_report(tmp_path: Path, rows: list[dict] = ROWS) -> Path:
    merged = write_merged(tmp_path / "tramites_merge.csv", rows)
    output_dir = tmp_path / "report"
    assert main(["--input", str(merged), "--output-dir", str(output_dir)]) == 0
    return output_dir


def assert_valid_png(path: Path) -> None:
    content = path.read_bytes()
    assert content.startswith(PNG_SIGNATURE), path
    assert len(content) > 10_000, path


def test_report_writes_three_charts_and_a_summary(tmp_path, capsys):
    output_dir = run_report(tmp_path)

    for name in (YEAR_CHART, MAP_CHART, SURFACE_CHART):
        assert_valid_png(output_dir / name)
    summary = (output_dir / SUMMARY_FILE).read_text(encoding="utf-8")
    for name in (YEAR_CHART, MAP_CHART, SURFACE_CHART):
        assert f"]({name})" in summary
    assert f"to {output_dir}" in capsys.readouterr().out


def test_summary_counts(tmp_path):
    summary = (run_report(tmp_path) / SUMMARY_FILE).read_text(encoding="utf-8")

    assert "6 rows (API 2, HTML 1, Ambos 3 by `fuente`)" in summary
    assert "- Permits (rows with API data): 5\n" in summary
    assert "- Approved (`resultado` APROBADO): 3 (60%)\n" in summary
    assert "- Permit pages: 4; ok: 2; with errors: 2\n" in summary
    assert "  - rechazada: 1\n  - TimeoutError: 1\n" in summary
    assert "- Registered from 2022-07-01 to 2024-12-31; without a date: 1\n" in summary
    top_rows = "| V - SUR | 2 | 40% |\n| I - COTAHUMA | 2 | 40% |\n| (unknown) | 1 | 20% |\n"
    assert f"|---|---:|---:|\n{top_rows}\n## Charts" in summary


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "es_BO.UTF-8",
            [
                "# Trámites de permisos de construcción de La Paz: resumen",
                "- Trámites (filas con datos de la API): 5\n",
                "- Aprobados (`resultado` APROBADO): 3 (60%)\n",
                "- Páginas de permisos: 4; bien: 2; con errores: 2\n",
                "- Registrados del 2022-07-01 al 2024-12-31; sin fecha: 1\n",
                "| Macrodistrito | Trámites | Proporción |",
                "## Gráficos",
            ],
        ),
        ("en_US.UTF-8", ["# Building permits of La Paz: summary", "## Charts"]),
    ],
)
def test_the_summary_speaks_the_users_language(tmp_path, capsys, user_locale, locale, expected):
    user_locale(locale)
    output_dir = run_report(tmp_path)

    summary = (output_dir / SUMMARY_FILE).read_text(encoding="utf-8")
    for line in expected:
        assert line in summary
    wrote = "Se escribieron" if locale.startswith("es") else "Wrote"
    assert capsys.readouterr().out.startswith(f"{wrote} {YEAR_CHART}, ")


def test_chart_titles_and_axes_are_spanish_under_a_bolivian_locale(user_locale):
    user_locale("es_BO.UTF-8")
    frame = pd.DataFrame(ROWS, columns=COLUMNS, dtype="str").replace("", pd.NA)
    permits = Permits.from_merged(frame, Path("merged.csv")).permits

    axes = permits_per_year_chart(permits, today=date(2030, 1, 1)).axes[0]
    assert axes.get_title() == "Trámites por año y macrodistrito (4 trámites con fecha)"
    assert axes.get_xlabel() == "Año de registro (fecha_registro)"
    assert axes.get_ylabel() == "Trámites"
    assert axes.get_legend().get_title().get_text() == "Macrodistrito"
    surface = surface_by_district_chart(permits).axes[0]
    assert surface.get_title().startswith("Superficie construida de los permisos aprobados")
    assert surface.get_xlabel() == "Superficie construida (miles de m²)"


def test_a_spanish_error_line_under_a_bolivian_locale(tmp_path, capsys, user_locale):
    user_locale("es_BO.UTF-8")
    absent = tmp_path / "absent.csv"

    assert error_of(["--input", str(absent)], capsys) == (
        f"error: {absent}: no existe el archivo (ejecute primero python -m postprocess.merge)\n"
    )


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_parquet_and_jsonl_inputs_give_the_same_summary(tmp_path, suffix):
    csv_summary = (run_report(tmp_path) / SUMMARY_FILE).read_text(encoding="utf-8")
    frame = pd.read_csv(tmp_path / "tramites_merge.csv", dtype=str)
    for name in ("superficie_construida", "latitude", "longitude", "distrito_municipal"):
        frame[name] = pd.to_numeric(frame[name])
    merged = tmp_path / f"merged{suffix}"
    write_table(frame, merged)

    output_dir = tmp_path / "other_format"
    assert main(["--input", str(merged), "--output-dir", str(output_dir)]) == 0
    summary = (output_dir / SUMMARY_FILE).read_text(encoding="utf-8")
    # The same but for the line naming the input file.
    assert summary.replace(str(merged), "") == csv_summary.replace(
        str(tmp_path / "tramites_merge.csv"), ""
    )


def test_charts_hold_the_counts_and_sums():
    frame = pd.DataFrame(ROWS, columns=COLUMNS, dtype="str").replace("", pd.NA)
    permits = Permits.from_merged(frame, Path("merged.csv")).permits

    years = permits_per_year_chart(permits).axes[0]
    heights = {
        container.get_label(): [bar.get_height() for bar in container]
        for container in years.containers
    }
    # Years 2022, 2023, 2024; the undated permit is left out.
    assert heights == {"V - SUR": [0, 1, 1], "I - COTAHUMA": [1, 0, 1]}


def surface_rows() -> list[dict]:
    """Approved permits on three parcels, one with two approvals; others not approved."""

    def permit(parcel, resultado, district, macro, surface, approved="", page=""):
        values = row("Ambos", "2023-05-02T10:00:00.000Z", resultado, macro, district, surface)
        return values | {
            "codigo_catastral": parcel,
            "fecha_aprobacion": approved,
            "par__superficie_construida": page,
        }

    return [
        permit("001", "APROBADO", "3", "I - COTAHUMA", "100", "2023-06-01T10:00:00Z"),
        # The same parcel approved again later: this one counts, the first does not.
        permit("001", "APROBADO", "3", "I - COTAHUMA", "150", "2024-06-01T10:00:00Z"),
        # No surface from the WFS: the page's, in m², is taken.
        permit("002", "APROBADO", "18", "V - SUR", "", "2023-07-01T10:00:00Z", "1.234,5 m2"),
        permit("003", "APROBADO", "18", "V - SUR", "66", "2023-08-01T10:00:00Z"),
        permit("004", "RECHAZADO", "18", "V - SUR", "5000"),
        permit("005", "ANULADO", "3", "I - COTAHUMA", "7000"),
    ]


def test_surface_chart_counts_approved_permits_a_parcel_once():
    columns = [*COLUMNS, "fecha_aprobacion", "par__superficie_construida"]
    frame = pd.DataFrame(surface_rows(), columns=columns, dtype="str").replace("", pd.NA)
    permits = Permits.from_merged(frame, Path("merged.csv")).permits

    axes = surface_by_district_chart(permits).axes[0]

    (bars,) = axes.containers
    labels = [tick.get_text() for tick in axes.get_yticklabels()]
    assert labels == ["D3 · COTAHUMA", "D18 · SUR"]
    assert [bar.get_width() for bar in bars] == pytest.approx([0.15, 1.3005])  # thousand m²
    title = axes.get_title()
    assert "approved permits (resultado APROBADO)" in title
    assert "3 parcels, each counted once by its latest approved permit\n" in title
    assert "(1 earlier permits of the same parcels left out)" in title
    assert "3 parcels" in title
    assert "else from the permit page (1)" in title


def test_the_current_year_is_marked_partial():
    frame = pd.DataFrame(ROWS, columns=COLUMNS, dtype="str").replace("", pd.NA)
    permits = Permits.from_merged(frame, Path("merged.csv")).permits

    axes = permits_per_year_chart(permits, today=date(2024, 3, 1)).axes[0]

    labels = [tick.get_text() for tick in axes.get_xticklabels()]
    assert labels == ["2022", "2023", "2024\n(partial)"]
    hatches = [bar.get_hatch() for bar in axes.containers[0]]
    assert hatches == [None, None, "//"]
    assert "2024 is partial (hatched): registrations up to 2024-12-31" in axes.get_title()

    later = permits_per_year_chart(permits, today=date(2025, 1, 2)).axes[0]
    assert "partial" not in " ".join(t.get_text() for t in later.get_xticklabels())


def test_the_report_goes_next_to_its_input(tmp_path, monkeypatch):
    demo = tmp_path / "demo-data"
    demo.mkdir()
    merged = write_merged(demo / "tramites_merge.csv", ROWS)
    monkeypatch.chdir(tmp_path)

    assert main(["--input", str(merged.relative_to(tmp_path))]) == 0

    assert (demo / "report" / SUMMARY_FILE).is_file()
    assert not (tmp_path / "data").exists()


def test_a_table_without_permits_still_gives_the_report(tmp_path):
    output_dir = run_report(tmp_path, rows=[])

    for name in (YEAR_CHART, MAP_CHART, SURFACE_CHART):
        assert (output_dir / name).read_bytes().startswith(PNG_SIGNATURE)
    summary = (output_dir / SUMMARY_FILE).read_text(encoding="utf-8")
    assert "- Permits (rows with API data): 0\n" in summary
    assert "- Registered: no dates" in summary


# -- Errors ----------------------------------------------------------------------------


def error_of(arguments: list[str], capsys) -> str:
    assert main(arguments) == 1
    message = capsys.readouterr().err
    assert message.count("\n") == 1
    return message


def test_missing_input_is_an_error(tmp_path, capsys):
    message = error_of(["--input", str(tmp_path / "absent.csv")], capsys)
    assert message.startswith(f"error: {tmp_path / 'absent.csv'}: file not found")


def test_input_without_the_needed_columns_is_an_error(tmp_path, capsys):
    columns = [name for name in COLUMNS if name not in ("fuente", "latitude")]
    merged = write_merged(tmp_path / "merged.csv", ROWS, columns)
    message = error_of(["--input", str(merged), "--output-dir", str(tmp_path / "out")], capsys)
    assert "missing columns latitude, fuente" in message
    assert not (tmp_path / "out").exists()


def test_unreadable_input_is_an_error(tmp_path, capsys):
    merged = tmp_path / "merged.parquet"
    merged.write_text("not parquet\nat all")
    assert f"error: {merged}: cannot read (" in error_of(["--input", str(merged)], capsys)


def test_unknown_input_format_is_an_error(tmp_path, capsys):
    merged = tmp_path / "merged.xlsx"
    merged.write_bytes(b"")
    assert "unknown format '.xlsx'" in error_of(["--input", str(merged)], capsys)


def test_output_folder_not_writable_is_an_error(tmp_path, capsys):
    merged = write_merged(tmp_path / "merged.csv", ROWS)
    # A file where the folder should be: refused even to root, unlike a read-only folder.
    blocker = tmp_path / "report"
    blocker.write_text("not a folder")
    message = error_of(["--input", str(merged), "--output-dir", str(blocker)], capsys)
    assert message.startswith(f"error: {blocker}: output folder not writable")


@pytest.mark.e2e
def test_the_demo_draws_its_report_next_to_its_data(tmp_path):
    data_dir = tmp_path / "demo-data"
    command = [sys.executable, "-m", "tools.demo", "--features", "200", "--latency", "0"]
    finished = subprocess.run(
        [*command, "--data-dir", str(data_dir), "--report"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=CRAWL_TIMEOUT,
        check=False,
    )

    assert finished.returncode == 0, finished.stderr[-3000:]
    for name in (YEAR_CHART, MAP_CHART, SURFACE_CHART):
        assert_valid_png(data_dir / "report" / name)
    assert f"to {data_dir / 'report'}" in finished.stdout
