import csv
import json
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest

from lapaz.storage.history import CHANGES_FILE, keep_snapshot
from postprocess.demo_mark import DEMO_MARK, write_demo_marker
from postprocess.history_report import HISTORY_CHART
from postprocess.merge import write_table
from postprocess.report import (
    APPROVALS_CHART,
    MAP_CHART,
    NEEDED_COLUMNS,
    SUMMARY_FILE,
    SURFACE_CHART,
    TRAMITES_CHART,
    Permits,
    approved_per_year_chart,
    main,
    report_charts,
    surface_by_district_chart,
    tramites_map_chart,
    tramites_per_year_chart,
)
from tools.crawl import CRAWL_TIMEOUT, PROJECT_ROOT

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLUMNS = ["id_pc_tramite", "codigo_catastral", "fecha_aprobacion", *NEEDED_COLUMNS]
CHARTS = (TRAMITES_CHART, APPROVALS_CHART, MAP_CHART, SURFACE_CHART)


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
    approved: str = "",
) -> dict[str, str]:
    return {
        "id_pc_tramite": "1",
        "codigo_catastral": "044104900070000",
        "fecha_aprobacion": approved,
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


# Five trámites (three approved, pages of two failed), one page without a trámite.
ROWS = [
    row(
        "Ambos",
        "2023-05-02T10:00:00.000Z",
        "APROBADO",
        "V - SUR",
        "18",
        "100.5",
        approved="2023-09-01T10:00:00Z",
    ),
    row(
        "Ambos",
        "2024-01-15T10:00:00.000Z",
        "APROBADO",
        "V - SUR",
        "18",
        "49.5",
        "rechazada",
        approved="2024-03-01T10:00:00Z",
    ),
    row(
        "Ambos",
        "2024-12-31T23:00:00.000Z",
        "APROBADO",
        "I - COTAHUMA",
        "3",
        "200",
        "TimeoutError: took too long",
        approved="2025-01-10T10:00:00Z",
    ),
    row("API", "2022-07-01T08:00:00.000Z", "OBSERVADO", "I - COTAHUMA", "3", "", latitude=""),
    row("API", resultado="OBSERVADO", district="3", surface="30"),
    row("HTML", latitude="", longitude=""),
]
# Each on its own parcel.
ROWS = [
    values | {"id_pc_tramite": str(number), "codigo_catastral": f"{number:015d}"}
    for number, values in enumerate(ROWS, start=1)
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


def test_report_writes_four_charts_and_a_summary(tmp_path, capsys):
    output_dir = run_report(tmp_path)

    for name in CHARTS:
        assert_valid_png(output_dir / name)
    summary = (output_dir / SUMMARY_FILE).read_text(encoding="utf-8")
    for name in CHARTS:
        assert f"]({name})" in summary
    assert f"to {output_dir}" in capsys.readouterr().out
    assert DEMO_MARK not in summary


def test_summary_counts(tmp_path):
    summary = (run_report(tmp_path) / SUMMARY_FILE).read_text(encoding="utf-8")

    assert "6 rows (API 2, HTML 1, Ambos 3 by `fuente`)" in summary
    assert "- Trámites (applications; rows with API data): 5\n" in summary
    assert "- Approved (`resultado` APROBADO): 3 (60%)\n" in summary
    assert "- Permit pages: 4; ok: 2; with errors: 2\n" in summary
    assert "  - rechazada: 1\n  - TimeoutError: 1\n" in summary
    assert "- Registered from 2022-07-01 to 2024-12-31; without a date: 1\n" in summary
    top_rows = "| V - SUR | 2 | 40% |\n| I - COTAHUMA | 2 | 40% |\n| (unknown) | 1 | 20% |\n"
    assert f"|---|---:|---:|\n{top_rows}\n## Charts" in summary
    assert "From `tramites_merge.csv`: 6 rows" in summary
    # No local path: the summary is shared as it is.
    assert str(tmp_path) not in summary


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "es_BO.UTF-8",
            [
                "# Trámites de permisos de construcción de La Paz: resumen",
                "- Trámites (solicitudes; filas con datos de la API): 5\n",
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
    assert capsys.readouterr().out.startswith(f"{wrote} {TRAMITES_CHART}, ")


def test_chart_titles_and_axes_are_spanish_under_a_bolivian_locale(user_locale):
    user_locale("es_BO.UTF-8")
    frame = pd.DataFrame(ROWS, columns=COLUMNS, dtype="str").replace("", pd.NA)
    permits = Permits.from_merged(frame, Path("merged.csv")).permits

    chart = tramites_per_year_chart(permits, today=date(2030, 1, 1))
    axes = chart.figure.axes[0]
    assert axes.get_title() == "Trámites (solicitudes) por año de registro"
    assert axes.get_xlabel() == "Año de registro (fecha_registro)"
    assert axes.get_ylabel() == "Trámites (solicitudes)"
    assert axes.get_legend().get_title().get_text() == "Macrodistrito"
    assert chart.notes[0].startswith("Cada trámite (solicitud) de la capa")
    approvals = approved_per_year_chart(permits, today=date(2030, 1, 1))
    assert approvals.heading == "Permisos aprobados por año"
    surface = surface_by_district_chart(permits)
    assert surface.heading == "Superficie construida de los permisos aprobados"


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
    assert summary.replace(merged.name, "") == csv_summary.replace("tramites_merge.csv", "")


def test_charts_hold_the_counts_and_sums():
    frame = pd.DataFrame(ROWS, columns=COLUMNS, dtype="str").replace("", pd.NA)
    permits = Permits.from_merged(frame, Path("merged.csv")).permits

    years = tramites_per_year_chart(permits).figure.axes[0]
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
    columns = [*COLUMNS, "par__superficie_construida"]
    frame = pd.DataFrame(surface_rows(), columns=columns, dtype="str").replace("", pd.NA)
    permits = Permits.from_merged(frame, Path("merged.csv")).permits

    chart = surface_by_district_chart(permits)
    axes = chart.figure.axes[0]

    (bars,) = axes.containers
    labels = [tick.get_text() for tick in axes.get_yticklabels()]
    assert labels == ["D3 · COTAHUMA", "D18 · SUR"]
    assert [bar.get_width() for bar in bars] == pytest.approx([0.15, 1.3005])  # thousand m²
    assert "approved permits" in axes.get_title()
    notes = " ".join(chart.notes)
    assert "Approved permits only (`resultado` APROBADO)" in notes
    assert "3 parcels, each counted once by its latest approved permit" in notes
    assert "(1 earlier permits of the same parcels left out)" in notes
    assert "else from the permit page (1)" in notes


def test_the_current_year_is_marked_partial():
    frame = pd.DataFrame(ROWS, columns=COLUMNS, dtype="str").replace("", pd.NA)
    permits = Permits.from_merged(frame, Path("merged.csv")).permits

    chart = tramites_per_year_chart(permits, today=date(2024, 3, 1))
    axes = chart.figure.axes[0]

    labels = [tick.get_text() for tick in axes.get_xticklabels()]
    assert labels == ["2022", "2023", "2024\n(partial)"]
    hatches = [bar.get_hatch() for bar in axes.containers[0]]
    assert hatches == [None, None, "//"]
    # The note goes to the summary; the title stays short.
    assert "2024 is still running (its bar is hatched): registrations up to 2024-12-31." in (
        chart.notes
    )
    assert "2024" not in axes.get_title()

    later = tramites_per_year_chart(permits, today=date(2025, 1, 2)).figure.axes[0]
    assert "partial" not in " ".join(t.get_text() for t in later.get_xticklabels())


def test_the_report_goes_next_to_its_input(tmp_path, monkeypatch):
    demo = tmp_path / "demo-data"
    demo.mkdir()
    merged = write_merged(demo / "tramites_merge.csv", ROWS)
    monkeypatch.chdir(tmp_path)

    assert main(["--input", str(merged.relative_to(tmp_path))]) == 0

    assert (demo / "report" / SUMMARY_FILE).is_file()
    assert not (tmp_path / "data").exists()


def test_a_table_without_trámites_gives_a_summary_and_no_empty_charts(tmp_path):
    output_dir = run_report(tmp_path, rows=[])

    for name in CHARTS:
        assert not (output_dir / name).exists()
    summary = (output_dir / SUMMARY_FILE).read_text(encoding="utf-8")
    assert "- Trámites (applications; rows with API data): 0\n" in summary
    assert "- Registered: no dates" in summary
    assert summary.count("Not drawn: 0 ") == 4


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
    for name in CHARTS:
        assert_valid_png(data_dir / "report" / name)
    assert f"to {data_dir / 'report'}" in finished.stdout
    summary = (data_dir / "report" / SUMMARY_FILE).read_text(encoding="utf-8")
    # Said first, then in every chart's heading (tests/test_demo_outputs.py has the rest).
    assert summary.splitlines()[2].startswith(f"**{DEMO_MARK}**")
    headings = [line for line in summary.splitlines() if line.startswith("### ")]
    assert headings
    assert all(heading.startswith(f"### {DEMO_MARK}: ") for heading in headings)
    assert str(data_dir) not in summary
    # One harvest: no chart of one point, and the summary says why.
    assert not (data_dir / "report" / HISTORY_CHART).exists()
    assert "One harvest kept so far" in summary


# -- Charts that say what they count ---------------------------------------------------


def permits_of(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=COLUMNS, dtype="str").replace("", pd.NA)
    return Permits.from_merged(frame, Path("merged.csv")).permits


def charts_of(rows: list[dict], today: date = date(2026, 6, 1)) -> dict:
    frame = pd.DataFrame(rows, columns=COLUMNS, dtype="str").replace("", pd.NA)
    charts = report_charts(Permits.from_merged(frame, Path("merged.csv")), today)
    return {chart.name: chart for chart in charts}


def title_of(chart) -> str:
    (title,) = [axes.get_title() for axes in chart.figure.axes if axes.get_title()]
    return title


def bar_heights(axes) -> dict[str, list[float]]:
    return {
        container.get_label(): [bar.get_height() for bar in container]
        for container in axes.containers
    }


def test_titles_are_short_and_say_what_they_count():
    charts = charts_of(ROWS)

    for chart in charts.values():
        title = title_of(chart)
        assert "\n" not in title
        assert len(title) <= 60, title
    assert title_of(charts[TRAMITES_CHART]).startswith("Trámites (")
    assert "fecha_registro" in charts[TRAMITES_CHART].figure.axes[0].get_xlabel()
    assert "permisos aprobados" in title_of(charts[APPROVALS_CHART]).lower()
    assert "fecha_aprobacion" in charts[APPROVALS_CHART].figure.axes[0].get_xlabel()
    assert title_of(charts[MAP_CHART]).startswith("Trámites (")
    assert "permit" not in title_of(charts[MAP_CHART]).lower()


def test_trámites_count_every_result_and_approvals_only_the_approved_by_approval_year():
    permits = permits_of(ROWS)

    tramites = tramites_per_year_chart(permits, today=date(2026, 6, 1))
    assert sum(sum(bars) for bars in bar_heights(tramites.figure.axes[0]).values()) == 4
    assert "whatever its `resultado`" in tramites.notes[0]

    approved = approved_per_year_chart(permits, today=date(2026, 6, 1))
    axes = approved.figure.axes[0]
    # Registered in 2023, 2024 and 2024; approved in 2023, 2024 and 2025.
    assert [tick.get_text() for tick in axes.get_xticklabels()] == ["2023", "2024", "2025"]
    assert bar_heights(axes) == {"V - SUR": [1, 1, 0], "I - COTAHUMA": [0, 0, 1]}
    assert (
        "`resultado` APROBADO, by the year of `fecha_aprobacion`: 3 of the 5" in (approved.notes[0])
    )


def test_approved_without_an_approval_date_are_left_out_and_said():
    rows = [*ROWS, row("API", "2024-02-02T10:00:00Z", "APROBADO", "V - SUR", "18")]
    chart = approved_per_year_chart(permits_of(rows), today=date(2026, 6, 1))
    assert "1 left out: approved without an approval date." in chart.notes


def test_the_map_says_what_it_shows_and_labels_the_districts():
    chart = tramites_map_chart(permits_of(ROWS))

    axes = chart.figure.axes[0]
    assert sorted(text.get_text() for text in axes.texts) == ["D18", "D3"]
    note = chart.notes[0]
    assert "One dot per trámite" in note
    assert "4 of 5" in note  # one trámite has no latitude
    assert "No streets and no district outlines" in note


def test_a_chart_of_one_point_is_not_drawn_and_the_summary_says_so(tmp_path):
    # All registered and approved in one year, in one district, at one place.
    rows = [ROWS[0], {**ROWS[0], "id_pc_tramite": "2", "codigo_catastral": "2"}]
    output_dir = run_report(tmp_path, rows)

    summary = (output_dir / SUMMARY_FILE).read_text(encoding="utf-8")
    for name in (TRAMITES_CHART, APPROVALS_CHART, SURFACE_CHART):
        assert not (output_dir / name).exists(), name
        assert f"]({name})" not in summary
    assert "Not drawn: 1 year(s) with registrations, and a chart needs at least 2." in summary
    assert "Not drawn: 1 year(s) with approvals" in summary
    assert "Not drawn: 1 district(s) with a surface" in summary
    assert (output_dir / MAP_CHART).exists()  # two dots, even on one spot


def test_demo_data_is_marked_on_every_chart_and_in_the_summary(tmp_path):
    write_demo_marker(tmp_path)
    output_dir = run_report(tmp_path)

    summary = (output_dir / SUMMARY_FILE).read_text(encoding="utf-8")
    assert summary.splitlines()[2].startswith(f"**{DEMO_MARK}**: made by `python -m tools.demo`")
    frame = pd.DataFrame(ROWS, columns=COLUMNS, dtype="str").replace("", pd.NA)
    data = Permits.from_merged(frame, Path("merged.csv"))
    for chart in report_charts(data, demo=True):
        assert DEMO_MARK in [text.get_text() for text in chart.figure.texts], chart.name
    for chart in report_charts(data):
        assert DEMO_MARK not in [text.get_text() for text in chart.figure.texts], chart.name


# -- Since the last harvest ------------------------------------------------------------


def harvest(data_dir: Path, records: list[dict], when: str) -> None:
    source = data_dir / "tramites.jsonl"
    source.write_text("".join(json.dumps(record) + "\n" for record in records))
    keep_snapshot(data_dir, source, datetime.fromisoformat(when))


def history_section(tmp_path: Path) -> tuple[str, Path]:
    output_dir = run_report(tmp_path)
    summary = (output_dir / SUMMARY_FILE).read_text(encoding="utf-8")
    return summary[summary.index("## Since the last harvest") :], output_dir


def test_one_harvest_draws_no_chart_of_one_point_and_says_so(tmp_path):
    harvest(tmp_path, [{"id_pc_tramite": 1, "resultado": "APROBADO"}], "2026-12-01T10:00:00+00:00")

    section, output_dir = history_section(tmp_path)

    assert "One harvest kept so far (2026-12-01T10:00:00Z)" in section
    assert HISTORY_CHART not in section.replace(f"`{HISTORY_CHART}` is drawn", "")
    assert not (output_dir / HISTORY_CHART).exists()


def test_a_second_harvest_without_changes_says_no_changes(tmp_path):
    records = [{"id_pc_tramite": 1, "resultado": "APROBADO"}]
    harvest(tmp_path, records, "2026-12-01T10:00:00+00:00")
    harvest(tmp_path, records, "2026-12-08T10:00:00+00:00")
    assert not (tmp_path / CHANGES_FILE).exists()  # the log has a line per change only

    section, output_dir = history_section(tmp_path)

    assert "Harvest of 2026-12-08T10:00:00Z against the one before: no changes." in section
    assert "No changes logged yet" not in section
    assert f"]({HISTORY_CHART})" in section
    assert_valid_png(output_dir / HISTORY_CHART)
