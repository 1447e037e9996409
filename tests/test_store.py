import orjson
import pytest

from lapaz.records.pick import page_is_done
from lapaz.storage.files import atomic_file
from lapaz.storage.runs import read_runs
from lapaz.storage.store import DataStore, crawl_file
from tests.crawl import run_crawl
from tools.replica import ReplicaConfig, ReplicaServer


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


@pytest.mark.parametrize(
    ("name", "owned"),
    [
        ("tramites.jsonl", "tramites.jsonl"),
        ("detalles.jsonl.partial", "detalles.jsonl.partial"),
        ("cambios.jsonl", "cambios.jsonl"),
        ("paginas_fallidas.jsonl", "paginas_fallidas.jsonl"),
        ("capa.json", "capa.json"),
        (".lock", ".lock"),
        ("historial/corridas.jsonl", "historial/"),
        ("archivo/a/b.warc.gz", "archivo/"),
        ("muestras/p.html", "muestras/"),
        ("tramites_merge.csv", None),
        ("informes/tramites.jsonl", None),
        ("../tramites.jsonl", None),
    ],
)
def test_the_files_the_crawl_owns(tmp_path, name, owned):
    data_dir = tmp_path / "data"
    assert crawl_file(data_dir / name, data_dir) == owned


@pytest.mark.parametrize(
    ("features", "says"),
    [(0, "got no features: there is nothing to merge yet"), (1, "--parcial merges them")],
)
def test_a_first_harvest_left_incomplete_suggests_parcial_only_with_features(
    tmp_path, caplog, features, says
):
    store = DataStore(tmp_path)
    store.open(full_refresh=False)
    for key in range(features):
        store.write("tramites", {"id_pc_tramite": key})
    store.keep_incomplete()
    store.release()
    assert says in caplog.text
    assert ("--parcial" in caplog.text) == bool(features)


def test_an_incomplete_run_after_a_complete_one_says_how_many_features_it_got(tmp_path, caplog):
    write_lines(tmp_path / "tramites.jsonl", [{"id_pc_tramite": 1}])
    store = DataStore(tmp_path)
    store.open(full_refresh=False)
    store.keep_incomplete()
    store.release()
    assert "tramites.jsonl keeps the last complete one; this run got no features" in caplog.text
    assert "--parcial" not in caplog.text


def test_a_file_that_cannot_be_replaced_stays_as_it_was_with_nothing_beside_it(tmp_path):
    path = tmp_path / "detalles.jsonl"
    path.write_bytes(b'{"a":1}\n')

    def write_half_then_fail():
        with atomic_file(path) as stream:
            stream.write(b'{"a":2}\n')
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_half_then_fail()
    assert path.read_bytes() == b'{"a":1}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["detalles.jsonl"]


@pytest.mark.e2e
def test_a_harvest_the_folder_cannot_take_fails_on_one_line_and_leaves_every_file_whole(
    tmp_path,
):
    data = tmp_path / "data"
    with ReplicaServer(ReplicaConfig(features=120)) as replica:
        assert run_crawl(replica, data).returncode == 0
        before = {name: (data / name).read_bytes() for name in ("tramites.jsonl", "capa.json")}
        snapshots = sorted((data / "historial").glob("tramites-*"))
        replica.add_features(5)
        # The commit cannot write detalles.jsonl's successor: a folder took its name (as a
        # full disk would stop it).
        (data / "detalles.jsonl.partial").mkdir()
        failed = run_crawl(replica, data)
        after_failure = {name: (data / name).read_bytes() for name in before}
        snapshots_after_failure = sorted((data / "historial").glob("tramites-*"))
        partials = sorted(p.name for p in data.glob("*.partial") if p.is_file())
        (data / "detalles.jsonl.partial").rmdir()
        caught_up = run_crawl(replica, data)

    assert failed.returncode == 1
    (error,) = [line for line in failed.log.splitlines() if line.startswith("error: ")]
    assert failed.log.rstrip().splitlines()[-1] == error
    assert error.startswith("error: The harvest could not be written to the data folder: ")
    assert after_failure == before, "the last complete harvest stays the folder's"
    assert snapshots_after_failure == snapshots
    assert partials == ["tramites.jsonl.partial"], "nothing half-written beside its file"
    runs = read_runs(data).records
    assert [run["estado"] for run in runs] == ["correcta", "fallida", "correcta"]
    assert f"error: {runs[1]['motivo']}" == error
    assert caught_up.returncode == 0, caught_up.log[-2000:]
    assert len(caught_up.tramites) == 125
    assert sorted((data / "historial").glob("tramites-*"))[: len(snapshots)] == snapshots
    new = [line for line in caught_up.cambios if line["tipo"] == "nuevo"]
    assert len(new) == 5, "the features the failed commit did not keep are logged once"
    assert not list(data.glob("*.partial"))
