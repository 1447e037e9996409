"""lapaz.storage.history: comparing harvests, snapshots and the change log; pages asked again."""

import gzip
from datetime import UTC, datetime

import orjson
import pytest
import pytest_twisted

from lapaz.records.diff import changes, needs_new_page, normalised, record_fingerprint
from lapaz.records.pick import keep_replaced_pages
from lapaz.storage.history import (
    CHANGES_FILE,
    keep_snapshot,
    read_snapshot,
    record_harvest,
    snapshots,
)
from lapaz.storage.jsonl import read_jsonl
from lapaz.storage.previous import LayerRecord
from lapaz.storage.store import DataStore

MONDAY = datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
TUESDAY = datetime(2026, 12, 8, 9, 30, 5, tzinfo=UTC)


def tramite(id_pc_tramite, **fields):
    return {"id_pc_tramite": id_pc_tramite, "resultado": "OBSERVADO", **fields}


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"cantidad_pisos": 3}, {"cantidad_pisos": 3.0}),
        ({"a": 1, "b": "x"}, {"b": "x", "a": 1}),
        ({"superficie_legal": 354.04}, {"superficie_legal": 354.04000000000002}),
        ({"superficie_legal": 0.1 + 0.2}, {"superficie_legal": 0.3}),
        ({"nombre_edificio": ""}, {"nombre_edificio": None}),
        ({"nombre_edificio": "  "}, {}),
        ({"solicitante": "ANA "}, {"solicitante": "ANA"}),
    ],
)
def test_values_written_differently_are_the_same(before, after):
    assert normalised(before) == normalised(after)
    assert record_fingerprint(before) == record_fingerprint(after)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ({"superficie_legal": 354.04}, {"superficie_legal": 354.05}),
        # Coordinates to 7 decimals are a real move, not formatting.
        ({"latitude": -16.5151234}, {"latitude": -16.5151235}),
        ({"codigo_catastral": "044104900070000"}, {"codigo_catastral": "44104900070000"}),
        ({"nro_inmueble": "3"}, {"nro_inmueble": 3}),
        ({"resultado": "OBSERVADO"}, {"resultado": "APROBADO"}),
        ({"cantidad_pisos": 3}, {"cantidad_pisos": None}),
    ],
)
def test_real_changes_differ(before, after):
    assert record_fingerprint(before) != record_fingerprint(after)


def test_changes_new_removed_and_modified_in_order():
    previous = [
        tramite(5, superficie_legal=100.0, fecha_aprobacion=None),
        tramite(2, cantidad_pisos=3),
        tramite(9),
        {"id_pc_tramite": None, "resultado": "X"},  # no key: cannot be matched
    ]
    current = [
        tramite(2, cantidad_pisos=3.0),
        tramite(7),
        {
            "fecha_aprobacion": "2026-12-01T10:00:00.000Z",
            "resultado": "APROBADO",
            "id_pc_tramite": 5,
            "superficie_legal": 100.000000000001,
        },
    ]
    assert changes(previous, current, "2026-12-08T09:30:05Z") == [
        {
            "cosecha": "2026-12-08T09:30:05Z",
            "id_pc_tramite": 5,
            "tipo": "modificado",
            "campo": "resultado",
            "antes": "OBSERVADO",
            "despues": "APROBADO",
        },
        {
            "cosecha": "2026-12-08T09:30:05Z",
            "id_pc_tramite": 5,
            "tipo": "modificado",
            "campo": "fecha_aprobacion",
            "antes": None,
            "despues": "2026-12-01T10:00:00.000Z",
        },
        {
            "cosecha": "2026-12-08T09:30:05Z",
            "id_pc_tramite": 7,
            "tipo": "nuevo",
            "campo": None,
            "antes": None,
            "despues": None,
        },
        {
            "cosecha": "2026-12-08T09:30:05Z",
            "id_pc_tramite": 9,
            "tipo": "retirado",
            "campo": None,
            "antes": None,
            "despues": None,
        },
    ]


def test_a_page_is_stale_only_when_a_known_record_changed():
    before = tramite(1, superficie_construida=250.5)
    fingerprint = record_fingerprint(before)
    assert not needs_new_page(fingerprint, {**before, "superficie_construida": 250.50000000001})
    assert needs_new_page(fingerprint, {**before, "superficie_construida": 260.0})
    assert needs_new_page(fingerprint, {**before, "resultado": "APROBADO"})
    assert not needs_new_page(None, before)  # new to the layer: no page to be stale


def write_tramites(data_dir, records):
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "tramites.jsonl").write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))


def test_snapshot_is_a_gzip_copy_named_by_utc_time(tmp_path):
    write_tramites(tmp_path, [tramite(1), tramite(2)])
    path = keep_snapshot(tmp_path, tmp_path / "tramites.jsonl", MONDAY)
    assert path == tmp_path / "historial" / "tramites-20261207T160000Z.jsonl.gz"
    assert gzip.decompress(path.read_bytes()) == (tmp_path / "tramites.jsonl").read_bytes()
    assert [p.name for p in (tmp_path / "historial").iterdir()] == [path.name]  # no temp left


def test_first_harvest_is_kept_and_the_next_logs_its_changes(tmp_path):
    write_tramites(tmp_path, [tramite(1), tramite(2)])
    record_harvest(tmp_path, MONDAY)
    assert not (tmp_path / CHANGES_FILE).exists()

    write_tramites(tmp_path, [tramite(1, resultado="APROBADO"), tramite(3)])
    record_harvest(tmp_path, TUESDAY)
    lines = read_jsonl(tmp_path / CHANGES_FILE).records
    assert [(line["id_pc_tramite"], line["tipo"], line["campo"]) for line in lines] == [
        (1, "modificado", "resultado"),
        (2, "retirado", None),
        (3, "nuevo", None),
    ]
    assert {line["cosecha"] for line in lines} == {"2026-12-08T09:30:05Z"}
    assert [time for time, _ in snapshots(tmp_path)] == [MONDAY, TUESDAY]

    # A third harvest compares with the second, not the first, and appends.
    record_harvest(tmp_path, datetime(2026, 12, 9, tzinfo=UTC))
    assert len(read_jsonl(tmp_path / CHANGES_FILE).records) == 3


def test_two_harvests_within_a_second_keep_both_snapshots(tmp_path):
    write_tramites(tmp_path, [tramite(1)])
    first = record_harvest(tmp_path, MONDAY)
    write_tramites(tmp_path, [tramite(1), tramite(2)])
    second = record_harvest(tmp_path, MONDAY.replace(microsecond=500_000))
    assert second.name == "tramites-20261207T160001Z.jsonl.gz"
    assert [r["id_pc_tramite"] for r in read_snapshot(first)] == [1]
    assert read_jsonl(tmp_path / CHANGES_FILE).records[0]["id_pc_tramite"] == 2


def test_an_unreadable_snapshot_is_a_one_line_error(tmp_path):
    bad = tmp_path / "tramites-20261207T160000Z.jsonl.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(OSError, match="cannot read the snapshot") as caught:
        read_snapshot(bad)
    assert "\n" not in str(caught.value)


def page(permit, identifier, error=None, **fields):
    return {"id_pc_tramite": permit, "identificador": identifier, "error": error, **fields}


def test_a_replaced_page_keeps_one_record_per_permit():
    records = [
        page(1, "A", par__x="old"),
        page(2, "B", par__x="untouched"),
        page(3, "C", par__x="old"),
        page(4, "D", par__x="old"),
        page(1, "A", par__x="new"),
        page(3, "C", "http_503"),  # a failed refetch leaves the page fetched before
        page(4, "D2", par__x="new"),  # the identifier changed with the record
    ]
    kept = keep_replaced_pages(records, {1, 3, 4})
    assert [(r["id_pc_tramite"], r["identificador"], r["par__x"]) for r in kept] == [
        (2, "B", "untouched"),
        (3, "C", "old"),
        (1, "A", "new"),
        (4, "D2", "new"),
    ]


def harvest_with_store(data_dir, records, complete=True, keeps_history=True):
    store = DataStore(data_dir)
    previous = store.open(full_refresh=False)
    for record in records:
        store.write("tramites", record)
    if complete:
        layer = LayerRecord(len(records), {}) if keeps_history else None
        store.commit(set(), [], layer)
    else:
        store.keep_incomplete()
    store.release()
    return previous


def test_the_store_keeps_complete_harvests_of_the_whole_layer_only(tmp_path):
    harvest_with_store(tmp_path, [tramite(1), tramite(2)])
    assert len(snapshots(tmp_path)) == 1
    harvest_with_store(tmp_path, [tramite(1)], complete=False)
    harvest_with_store(tmp_path, [tramite(1)], keeps_history=False)
    assert len(snapshots(tmp_path)) == 1, "incomplete or partial harvests are not kept"
    assert not (tmp_path / CHANGES_FILE).exists()

    previous = harvest_with_store(tmp_path, [tramite(1, resultado="APROBADO"), tramite(2)])
    # The store opened on the last complete harvest: the one with permit 1 alone.
    assert set(previous.fingerprints) == {1}
    assert [line["campo"] for line in read_jsonl(tmp_path / CHANGES_FILE).records] == ["resultado"]


@pytest.mark.parametrize(
    ("arguments", "whole"),
    [({}, True), ({"limite": "10"}, False), ({"desde": "2024-01-01"}, False)],
)
@pytest_twisted.ensureDeferred
async def test_a_harvest_that_leaves_features_out_is_no_snapshot(project_spider, arguments, whole):
    spider = project_spider(arguments)
    await anext(spider.start())
    assert spider.state.whole_layer is whole
