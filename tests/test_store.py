import orjson
import pytest

from lapaz.records.pick import page_is_done
from lapaz.storage.store import DataStore


def write_lines(path, records, tail=b""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records) + tail)


def page(identifier, error=None, **fields):
    return {"id_pc_tramite": 1, "identificador": identifier, "error": error, **fields}


@pytest.mark.parametrize(
    ("record", "done"),
    [
        (page("A"), True),
        (page("A", "rechazada"), True),
        (page("A", "http_503"), False),
        (page("A", "sin_secciones"), False),
        (page(None, "sin_fecha_registro"), False),
    ],
)
def test_page_is_done(record, done):
    assert page_is_done(record) is done


def commit(store):
    store.commit(set(), [], None)
    store.release()


def test_opening_rewrites_nothing_and_a_commit_keeps_one_record_a_page(tmp_path, caplog):
    detalles = tmp_path / "detalles.jsonl"
    lines = [page("A", gral__x="1"), page("B", "http_503"), page("C", "rechazada"), page("A")]
    write_lines(detalles, lines, tail=b'{"id_pc_tramite": 9, "identif')
    before = detalles.read_bytes()
    store = DataStore(tmp_path)
    previous = store.open(full_refresh=False)
    assert previous.done_identifiers == {"A", "C"}
    assert set(previous.failures) == {"B"}
    assert "line 5 is incomplete (interrupted crawl?), ignored" in caplog.text
    store.keep_incomplete()
    store.release()
    assert detalles.read_bytes() == before, "a run that does not commit rewrites nothing"
    store = DataStore(tmp_path)
    store.open(full_refresh=False)
    commit(store)
    kept = [orjson.loads(line) for line in detalles.read_bytes().splitlines()]
    assert [(r["identificador"], r["error"]) for r in kept] == [
        ("B", "http_503"),
        ("C", "rechazada"),
        ("A", None),
    ], "the last finished record of a page, else its last; the torn line is gone"


def test_a_lone_torn_line_does_not_stop_a_resumed_crawl(tmp_path):
    (tmp_path / "detalles.jsonl").write_bytes(b'{"id_pc_tramite": 9, "identif')
    store = DataStore(tmp_path)
    store.open(full_refresh=False)
    commit(store)
    assert (tmp_path / "detalles.jsonl").read_bytes() == b""


def test_full_refresh_starts_afresh(tmp_path):
    write_lines(tmp_path / "detalles.jsonl", [page("A")])
    store = DataStore(tmp_path)
    assert store.open(full_refresh=True).done_identifiers == set()
    store.write("detalles", page("B"))
    commit(store)
    assert (tmp_path / "detalles.jsonl").read_bytes() == orjson.dumps(page("B")) + b"\n"


def test_writes_are_complete_lines_flushed_at_once(tmp_path):
    store = DataStore(tmp_path)
    store.open(full_refresh=False)
    record = {"id_pc_tramite": 7, "solicitante": "ÑANDÚ"}
    store.write("tramites", record)
    # flushed at once: another reader sees the line before the store is closed
    assert (tmp_path / "tramites.jsonl.partial").read_bytes() == orjson.dumps(record) + b"\n"
    commit(store)


def test_two_crawls_cannot_write_the_same_directory(tmp_path):
    first = DataStore(tmp_path)
    first.open(full_refresh=False)
    second = DataStore(tmp_path)
    with pytest.raises(OSError, match="a crawl is writing"):
        second.open(full_refresh=False)
    commit(first)
    second.open(full_refresh=False)
    commit(second)


def test_an_unwritable_directory_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OSError, match="is not writable"):
        DataStore(blocker / "data").open(full_refresh=False)


def test_an_incomplete_harvest_keeps_the_last_complete_one(tmp_path, caplog):
    write_lines(tmp_path / "tramites.jsonl", [{"id_pc_tramite": 1}, {"id_pc_tramite": 2}])
    store = DataStore(tmp_path)
    store.open(full_refresh=False)
    store.write("tramites", {"id_pc_tramite": 1})
    store.keep_incomplete()
    store.release()
    assert (tmp_path / "tramites.jsonl").read_bytes().count(b"\n") == 2
    assert (tmp_path / "tramites.jsonl.partial").read_bytes().count(b"\n") == 1
    assert "keeps the last complete one" in caplog.text

    store = DataStore(tmp_path)
    store.open(full_refresh=False)
    store.write("tramites", {"id_pc_tramite": 3})
    commit(store)
    assert (tmp_path / "tramites.jsonl").read_bytes() == b'{"id_pc_tramite":3}\n'
    assert not (tmp_path / "tramites.jsonl.partial").exists()
