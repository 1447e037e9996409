"""Two real harvests of a replica that changed in between: the change log, the pages asked
again, postprocess.cambios and the report's "since the last harvest"."""

import csv
import math
from collections import Counter

import orjson
import pandas as pd
import pytest

from lapaz.records.pick import page_is_done
from lapaz.storage.history import harvest_label, snapshot_time
from postprocess import cambios, merge, report
from postprocess.history_report import harvest_sizes, write_history_section
from tests.crawl import run_crawl
from tools.replica import ReplicaConfig, ReplicaServer, page_identifier

FEATURES = 400
APPROVAL_DAY = "2026-12-01T14:00:00.000Z"
CAMBIOS_COLUMNS = ["cosecha", "id_pc_tramite", "tipo", "campo", "antes", "despues"]


def bolivian(value: float) -> str:
    """354.04 as the permit page writes it: "354,04"; 1234.5 as "1.234,50"."""
    return f"{value:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".")


def props(feature: dict) -> dict:
    return feature["properties"]


def with_served_page(replica, features):
    """Features whose page the replica serves with data (not refused, addressable)."""
    return [
        f for f in features if page_identifier(f) and not replica.is_refused(page_identifier(f))
    ]


@pytest.mark.e2e
def test_two_harvests_log_what_changed_and_refresh_only_changed_pages(tmp_path):
    data = tmp_path / "data"
    with ReplicaServer(ReplicaConfig(features=FEATURES)) as replica:
        first = run_crawl(replica, data)
        assert first.returncode == 0, first.log[-3000:]
        assert len(first.snapshots) == 1
        assert not (data / "cambios.jsonl").exists(), "a first harvest has nothing to compare"
        first_pages = {r["id_pc_tramite"]: r for r in first.detalles}

        observados = [f for f in replica.features if props(f)["resultado"] == "OBSERVADO"]
        approved = [
            f
            for f in with_served_page(replica, replica.approved_features())
            if props(f)["SuperficieConstruida"] and props(f)["cantidadPisos"]
        ]
        newly_approved = with_served_page(replica, observados)[:2]
        resurfaced, noisy, float_floors, removed_approved = approved[:4]
        removed_other = observados[-1]
        old_surface = props(resurfaced)["SuperficieConstruida"]
        new_surface = round(old_surface + 50.25, 2)

        replica.approve_features({props(f)["idPCTramite"] for f in newly_approved}, APPROVAL_DAY)
        replica.change_features(
            {
                props(resurfaced)["idPCTramite"]: {"SuperficieConstruida": new_surface},
                # Written differently, equal: the last digit of a float, 3 as 3.0.
                props(noisy)["idPCTramite"]: {
                    "SuperficieConstruida": math.nextafter(
                        props(noisy)["SuperficieConstruida"], math.inf
                    )
                },
                props(float_floors)["idPCTramite"]: {
                    "cantidadPisos": float(props(float_floors)["cantidadPisos"])
                },
            }
        )
        removed_ids = {props(removed_approved)["idPCTramite"], props(removed_other)["idPCTramite"]}
        replica.remove_features(removed_ids)
        added = replica.add_features(6)

        before = Counter(replica.stats.snapshot()["page_requests"])
        second = run_crawl(replica, data)
        requested = set(Counter(replica.stats.snapshot()["page_requests"]) - before)
    assert second.returncode == 0, second.log[-3000:]
    assert "Traceback" not in second.log

    # The change log, line by line.
    lines = second.cambios
    # Every line is of the second harvest, the one the newest snapshot is named by.
    assert {line["cosecha"] for line in lines} == {
        harvest_label(snapshot_time(second.snapshots[-1]))
    }
    expected = []
    for key in sorted(
        {props(f)["idPCTramite"] for f in [*added, *newly_approved, resurfaced]} | removed_ids
    ):
        if key in {props(f)["idPCTramite"] for f in added}:
            expected.append((key, "nuevo", None, None, None))
        elif key in removed_ids:
            expected.append((key, "retirado", None, None, None))
        elif key == props(resurfaced)["idPCTramite"]:
            expected.append((key, "modificado", "superficie_construida", old_surface, new_surface))
        else:
            expected.append((key, "modificado", "resultado", "OBSERVADO", "APROBADO"))
            expected.append((key, "modificado", "fecha_aprobacion", None, APPROVAL_DAY))
    fields = ["id_pc_tramite", "tipo", "campo", "antes", "despues"]
    got = [tuple(line[name] for name in fields) for line in lines]
    assert got == expected
    unchanged = {props(f)["idPCTramite"] for f in (noisy, float_floors)}
    assert not unchanged & {line["id_pc_tramite"] for line in lines}

    # Pages asked for by the second run: new approved permits, the newly approved ones,
    # the approved permit whose record changed; and nothing else.
    failed_before = {
        r["identificador"]
        for r in first_pages.values()
        if r["identificador"] and not page_is_done(r)
    }
    new_pages = {
        page_identifier(f)
        for f in added
        if props(f)["resultado"] == "APROBADO" and page_identifier(f)
    }
    changed_pages = {page_identifier(f) for f in [*newly_approved, resurfaced]}
    assert new_pages, "the replica's new permits include approved ones"
    assert len(changed_pages) == 3
    assert requested == new_pages | changed_pages | failed_before

    # One page record per permit; the changed one replaced; the removed one kept.
    detalles = second.detalles
    assert max(Counter(r["id_pc_tramite"] for r in detalles).values()) == 1
    pages = {r["id_pc_tramite"]: r for r in detalles}
    key = props(resurfaced)["idPCTramite"]
    assert bolivian(old_surface) in first_pages[key]["par__superficie_construida"]
    assert bolivian(new_surface) in pages[key]["par__superficie_construida"]
    assert (
        pages[props(removed_approved)["idPCTramite"]]
        == first_pages[props(removed_approved)["idPCTramite"]]
    )
    for feature in newly_approved:
        assert pages[props(feature)["idPCTramite"]]["error"] is None
    assert len(second.snapshots) == 2

    # The merge shows the permit that left the layer with its page only.
    assert merge.main(["--data-dir", str(data)]) == 0
    merged = pd.read_csv(data / "tramites_merge.csv", dtype=str)
    row = merged[merged["id_pc_tramite"] == str(props(removed_approved)["idPCTramite"])]
    assert list(row["fuente"]) == ["HTML"]

    # The report's section.
    out = tmp_path / "report"
    assert report.main(["--input", str(data / "tramites_merge.csv"), "--output-dir", str(out)]) == 0
    summary = (out / "summary.md").read_text(encoding="utf-8")
    section = summary[summary.index("## Since the last harvest") :]
    new_approved = [f for f in added if props(f)["resultado"] == "APROBADO"]
    assert "- New permits (`nuevo`): 6" in section
    assert "- Permits that left the layer (`retirado`): 2" in section
    assert "- Permits with changed fields (`modificado`): 3 (5 fields)" in section
    assert f"- Newly approved: {2 + len(new_approved)}" in section
    for feature in newly_approved:
        assert f"| {props(feature)['idPCTramite']} | OBSERVADO → APROBADO |" in section
    for feature in new_approved:
        assert f"| {props(feature)['idPCTramite']} | nuevo |" in section
    assert (out / "harvests.png").read_bytes().startswith(b"\x89PNG")
    sizes = harvest_sizes(data)
    assert sizes["permits"].tolist() == [FEATURES, FEATURES - 2 + 6]
    approved_first = sizes["approved"].iloc[0]
    assert sizes["approved"].tolist() == [approved_first, approved_first + 1 + len(new_approved)]

    # postprocess.cambios: the same lines as a table.
    assert cambios.main(["--data-dir", str(data)]) == 0
    with (data / "cambios.csv").open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert list(rows[0]) == CAMBIOS_COLUMNS
    assert [(r["id_pc_tramite"], r["campo"], r["antes"], r["despues"]) for r in rows] == [
        (str(k), c or "", "" if a is None else str(a), "" if d is None else str(d))
        for k, _, c, a, d in expected
    ]


def write_log(data_dir, lines):
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "cambios.jsonl").write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))


LOG = [
    {
        "cosecha": "2026-12-01T23:59:59Z",
        "id_pc_tramite": 4,
        "tipo": "modificado",
        "campo": "cantidad_pisos",
        "antes": 3.0,
        "despues": 4,
    },
    {
        "cosecha": "2026-12-08T00:00:00Z",
        "id_pc_tramite": 9,
        "tipo": "nuevo",
        "campo": None,
        "antes": None,
        "despues": None,
    },
]


def test_cambios_keeps_harvests_from_a_day_on_as_parquet(tmp_path):
    write_log(tmp_path, LOG)
    output = tmp_path / "out" / "cambios.parquet"
    assert cambios.main(["--data-dir", str(tmp_path), "--output", str(output)]) == 0
    table = pd.read_parquet(output)
    assert list(table.columns) == CAMBIOS_COLUMNS
    assert table["antes"][0] == "3"
    assert table["antes"].isna().tolist() == [False, True]
    assert table["id_pc_tramite"].tolist() == [4, 9]

    assert cambios.main(["--data-dir", str(tmp_path), "--desde", "2026-12-02"]) == 0
    kept = pd.read_csv(tmp_path / "cambios.csv", dtype=str)
    assert kept["id_pc_tramite"].tolist() == ["9"]


def test_cambios_errors_are_one_line(tmp_path, capsys):
    assert cambios.main(["--data-dir", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ")
    assert "cambios.jsonl: file not found" in error
    assert error.count("\n") == 1

    (tmp_path / "cambios.jsonl").write_bytes(b"not json\n")
    assert cambios.main(["--data-dir", str(tmp_path)]) == 1
    assert "line 1 is not valid JSON" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        cambios.main(["--data-dir", str(tmp_path), "--desde", "8/12/2026"])
    assert "expected a day as YYYY-MM-DD" in capsys.readouterr().err


def test_a_data_folder_without_history_adds_no_section(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("# Summary\n", encoding="utf-8")
    assert write_history_section(tmp_path, tmp_path, summary) == []
    assert summary.read_text(encoding="utf-8") == "# Summary\n"
