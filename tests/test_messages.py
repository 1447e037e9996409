"""The common mistakes get a clear message and a non-zero exit status."""

import csv
import json
from xml.etree import ElementTree

import pytest

from lapaz.records.schema import TRAMITE_FIELDS
from lapaz.spiders.tramites import TramitesSpider
from tests.crawl import run_crawl
from tools.replica import ReplicaConfig, ReplicaServer


@pytest.fixture(scope="module")
def replica():
    with ReplicaServer(ReplicaConfig(features=300)) as server:
        yield server


def last_line(log: str) -> str:
    return log.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"macrodistrito": "norte"}, "-a macrodistrito='norte' is not a macro-district"),
        ({"desde": "01/02/2020"}, "-a desde='01/02/2020': expected a date as YYYY-MM-DD"),
        ({"limite": "diez"}, "-a limite='diez': expected a whole number"),
        ({"resultado": ","}, "-a resultado: give one or more values"),
        ({"refresco": "todo"}, "-a refresco='todo': the only value is 'completo'"),
        ({"desde": "2021-01-01", "hasta": "2020-01-01"}, "-a desde=2021-01-01 is after"),
    ],
)
def test_a_wrong_argument_value_is_named(arguments, message):
    with pytest.raises(ValueError, match=r"^-a ") as error:
        TramitesSpider(**arguments)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


@pytest.mark.e2e
def test_a_wrong_argument_value_exits_1_on_one_line_before_any_request(replica, tmp_path):
    before = replica.stats.snapshot()["requests"]
    result = run_crawl(replica, tmp_path / "data", arguments={"limite": "diez"})
    assert result.returncode == 1
    assert last_line(result.log).startswith("error: -a limite='diez': expected a whole number")
    assert "Traceback" not in result.log
    assert replica.stats.snapshot()["requests"] == before
    assert not (tmp_path / "data").exists()


@pytest.mark.e2e
def test_a_wfs_url_answering_html_is_named_with_its_first_bytes(replica, tmp_path):
    result = run_crawl(replica, tmp_path / "data", RETRY_TIMES=1, LAPAZ_WFS_URL=replica.detalle_url)
    assert result.returncode == 1
    assert "the server answered XML or HTML, not GeoJSON: <!DOCTYPE html>" in result.log
    assert "The WFS harvest is incomplete" in result.log


@pytest.mark.e2e
def test_a_csv_feed_has_every_key_of_every_item(replica, tmp_path):
    feed = tmp_path / "tramites.csv"
    result = run_crawl(replica, tmp_path / "data", extra=("-O", str(feed)))
    assert result.returncode == 0, result.log[-3000:]
    with feed.open(encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    items = result.tramites + result.detalles
    assert len(rows) == len(items)
    every_key = {key for item in items for key in item}
    assert set(rows[0]) == every_key | {"tipo"}
    assert list(rows[0])[1 : 1 + len(TRAMITE_FIELDS)] == TRAMITE_FIELDS
    by_kind = {"tramite": result.tramites, "detalle": result.detalles}
    for kind, records in by_kind.items():
        exported = [row for row in rows if row["tipo"] == kind]
        assert len(exported) == len(records)
    codes = {row["codigo_catastral"] for row in rows if row["tipo"] == "tramite"}
    assert codes == {r["codigo_catastral"] or "" for r in result.tramites}
    assert any(code.startswith("0") for code in codes)


def read_feed(path):
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [
        {field.tag: field.text for field in item}
        for item in ElementTree.parse(path).getroot().iter("item")
    ]


@pytest.mark.e2e
@pytest.mark.parametrize("extension", ["json", "jsonl", "xml"])
def test_other_feed_formats(replica, tmp_path, extension):
    feed = tmp_path / f"tramites.{extension}"
    arguments = {"limite": 50}
    result = run_crawl(replica, tmp_path / "data", arguments=arguments, extra=("-O", str(feed)))
    assert result.returncode == 0, result.log[-3000:]
    exported = read_feed(feed)
    assert len(exported) == len(result.tramites) + len(result.detalles)
    names = {item["solicitante"] for item in exported if "solicitante" in item}
    assert names == {r["solicitante"] for r in result.tramites}
