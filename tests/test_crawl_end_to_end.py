"""The real `scrapy crawl tramites` against the replica, checked on its output files."""

import base64
import socket
from collections import Counter
from types import SimpleNamespace

import pytest

from lapaz.records.schema import DETALLE_FIELDS, TRAMITE_FIELDS
from lapaz.records.values import normalize_codigo_catastral, registration_year
from tests.crawl import run_crawl
from tools.replica import ReplicaConfig, ReplicaServer

pytestmark = pytest.mark.e2e

FEATURES = 1200


def expected_pages(replica) -> dict[int, dict]:
    return {f["properties"]["idPCTramite"]: f for f in replica.approved_features()}


def check_complete_harvest(replica, result):
    assert result.returncode == 0, result.log[-3000:]
    assert "Traceback" not in result.log
    served = {f["properties"]["idPCTramite"]: f for f in replica.features}
    tramites = result.tramites
    ids = Counter(record["id_pc_tramite"] for record in tramites)
    assert set(ids) == set(served), "every feature is there"
    assert max(ids.values()) == 1, "and only once"
    for record in tramites:
        assert list(record)[: len(TRAMITE_FIELDS)] == TRAMITE_FIELDS
        properties = served[record["id_pc_tramite"]]["properties"]
        code = record["codigo_catastral"]
        assert code == normalize_codigo_catastral(properties["codigoCatastral"])
        assert code is None or (isinstance(code, str) and len(code) == 15)
        assert record["numero_tramite"] == int(properties["NumeroTramite"])
        assert record["solicitante"] == (properties.get("Solicitante") or None)
    with_zeros = [r for r in tramites if (r["codigo_catastral"] or "").startswith("0")]
    assert with_zeros, "the dataset has codes with leading zeros, and they survive"

    approved = expected_pages(replica)
    detalles = result.detalles
    per_permit = Counter(record["id_pc_tramite"] for record in detalles)
    assert set(per_permit) == set(approved), "every approved permit has a detalles record"
    assert max(per_permit.values()) == 1, "exactly one"
    for record in detalles:
        assert list(record)[: len(DETALLE_FIELDS)] == DETALLE_FIELDS
        properties = approved[record["id_pc_tramite"]]["properties"]
        if record["identificador"] is None:
            assert record["error"] in ("sin_codigo_catastral", "sin_fecha_registro")
            continue
        codigo, numero, anio = base64.b64decode(record["identificador"]).decode().split("|")
        assert codigo == normalize_codigo_catastral(properties["codigoCatastral"])
        assert int(numero) == int(properties["NumeroTramite"])
        assert int(anio) == registration_year(properties["fechaRegistro"])
        assert record["url"] == replica.detalle_url + "?" + record["identificador"]
        if record["error"] is None:
            assert record["gral__codigo_catastral"]
            assert any(key.startswith("par__") for key in record)
        else:
            assert record["error"] == "rechazada"
    errors = Counter(record["error"] for record in detalles)
    assert errors[None] > 0
    assert errors["rechazada"] > 0
    return tramites, detalles


@pytest.mark.parametrize("hits_format", ["json", "xml", "ignored"])
def test_crawl_harvests_every_feature_and_every_approved_page(tmp_path, hits_format):
    with ReplicaServer(ReplicaConfig(features=FEATURES, hits_format=hits_format)) as replica:
        result = run_crawl(replica, tmp_path / "data", LAPAZ_WFS_PAGE_SIZE=500)
        check_complete_harvest(replica, result)
        # the count, the three pages at once, and one look beyond the count (empty)
        assert replica.stats.snapshot()["requests"]["wfs"] == 5
    assert "features harvested: 1200 of 1200" in result.log


def test_crawl_without_asking_for_the_count_first(tmp_path):
    with ReplicaServer(ReplicaConfig(features=FEATURES)) as replica:
        result = run_crawl(
            replica, tmp_path / "data", LAPAZ_WFS_PAGE_SIZE=500, LAPAZ_WFS_HITS=False
        )
        check_complete_harvest(replica, result)
        # the first page gives the count; the other two at once; one look beyond (empty)
        assert replica.stats.snapshot()["requests"]["wfs"] == 4


def test_crawl_with_a_server_page_cap_and_no_number_matched(tmp_path):
    config = ReplicaConfig(features=FEATURES, page_cap=250, omit_number_matched=True)
    with ReplicaServer(config) as replica:
        result = run_crawl(replica, tmp_path / "data", LAPAZ_WFS_PAGE_SIZE=1000)
        check_complete_harvest(replica, result)
    assert "of unknown matched" in result.log


def test_crawl_of_a_server_speaking_text_in_lat_lon_order(tmp_path):
    config = ReplicaConfig(
        features=400,
        page_cap=150,
        lat_lon_order=True,
        all_strings=True,
        empty_string_nulls=True,
        omit_null_properties=True,
    )
    with ReplicaServer(config) as replica:
        result = run_crawl(replica, tmp_path / "data")
        tramites, _ = check_complete_harvest(replica, result)
    located = [r for r in tramites if r["latitude"] is not None]
    assert located
    assert all(-16.7 < r["latitude"] < -16.3 for r in located)
    assert all(-68.3 < r["longitude"] < -67.9 for r in located)
    assert all(isinstance(r["numero_tramite"], int) for r in tramites)
    assert "lat,lon order" in result.log


def test_a_server_rejecting_sort_by_is_paged_without_it(tmp_path):
    config = ReplicaConfig(features=600, reject_sort_by=True)
    with ReplicaServer(config) as replica:
        result = run_crawl(replica, tmp_path / "data", LAPAZ_WFS_PAGE_SIZE=200)
        check_complete_harvest(replica, result)
    assert "rejected sortBy" in result.log


def test_limit_and_every_result(tmp_path):
    with ReplicaServer(ReplicaConfig(features=FEATURES)) as replica:
        result = run_crawl(
            replica,
            tmp_path / "data",
            arguments={"limite": 300, "resultado": "todos"},
            LAPAZ_WFS_PAGE_SIZE=200,
        )
    assert result.returncode == 0, result.log[-3000:]
    assert len(result.tramites) == 300
    assert {r["id_pc_tramite"] for r in result.detalles} == {
        r["id_pc_tramite"] for r in result.tramites
    }


def test_an_unreachable_wfs_server_ends_the_run_with_a_non_zero_exit(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    nobody = SimpleNamespace(
        wfs_url=f"http://127.0.0.1:{closed_port}/geoserver/sit/ows",
        detalle_url=f"http://127.0.0.1:{closed_port}/situtiles/pc/",
    )
    result = run_crawl(nobody, tmp_path / "data", RETRY_TIMES=1)
    assert result.returncode != 0
    assert "The WFS harvest is incomplete" in result.log
    assert "finish reason: wfs_incomplete" in result.log
