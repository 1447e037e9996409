"""A real MapServer 8 as the WFS server: how it answers, and the crawl against it.

The permit pages come from the replica, built on the same features. The crawl's records
are compared with those of the same crawl against the replica alone (GeoServer's way).
"""

import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

import orjson
import pytest

from lapaz.records.schema import PROVENANCE_FIELDS
from tests.crawl import CrawlResult, run_crawl
from tools.crawl import Site
from tools.mapserver import TYPENAME, MapServer, MapServerConfig, mapserver_available
from tools.replica import ReplicaServer

pytestmark = pytest.mark.skipif(
    not mapserver_available() and not os.environ.get("CI"),
    reason="MapServer not installed (apt-get install cgi-mapserver gdal-bin); CI runs these",
)

FEATURES = 600
PAGE_SIZE = 200
TIMEOUT = 30
# The fields of a record that hold a timestamp: MapServer writes them to the second.
TIMESTAMP_FIELDS = ("fecha_registro", "fecha_registro_arch", "fecha_aprobacion")
# With its count, the WFS phase is one round of pages; MapServer answers a page in ~0.2 s.
WFS_PHASE_BOUND_SECONDS = 5.0


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes


def get(server: MapServer, **params) -> Answer:
    query = {
        "service": "WFS",
        "version": "2.0.0",
        "request": "GetFeature",
        "typeNames": TYPENAME,
        **params,
    }
    try:
        with urllib.request.urlopen(f"{server.wfs_url}?{urlencode(query)}", timeout=TIMEOUT) as r:
            return Answer(r.status, r.headers["Content-Type"], r.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers["Content-Type"], error.read())


def json_page(server: MapServer, start: int, count: int) -> dict:
    answer = get(
        server,
        outputFormat="application/json",
        startIndex=start,
        count=count,
        sortBy="idPCTramite",
    )
    assert answer.status == 200, answer.body[:300]
    return orjson.loads(answer.body)


def all_pages(server: MapServer, count: int) -> list[dict]:
    pages, start = [], 0
    while True:
        page = json_page(server, start, count)
        if not page["features"]:
            return pages
        pages.append(page)
        start += len(page["features"])


# -- how MapServer answers -----------------------------------------------------------------


@pytest.fixture(scope="module")
def typed_server():
    with MapServer(MapServerConfig(features=300)) as server:
        yield server


def test_json_pages_serve_every_located_feature_once_with_geoserver_types(typed_server):
    pages = all_pages(typed_server, 100)
    served = {f["properties"]["idPCTramite"]: f for f in typed_server.served_features}
    features = [feature for page in pages for feature in page["features"]]
    assert [f["properties"]["idPCTramite"] for f in features] == sorted(served)
    assert len(typed_server.features) > len(served), "the dataset has features without geometry"
    for page in pages:
        assert page["numberMatched"] == len(served)
        assert "totalFeatures" not in page
        assert "numberReturned" not in page
    for feature in features:
        expected = served[feature["properties"]["idPCTramite"]]["properties"]
        properties = feature["properties"]
        assert "id" not in feature
        assert isinstance(properties["NumeroTramite"], int)
        assert properties["NumeroTramite"] == expected["NumeroTramite"]
        assert properties["codigoCatastral"] == (expected["codigoCatastral"] or "")
        if expected["fechaRegistro"]:
            # GeoServer writes milliseconds; MapServer drops them.
            assert properties["fechaRegistro"] == expected["fechaRegistro"][:19] + "Z"
    codes = [f["properties"]["codigoCatastral"] for f in features]
    assert any(code.startswith("0") for code in codes), "codes keep their leading zeros"


def test_hits_answer_xml_with_number_matched_and_fail_as_json(typed_server):
    hits = get(typed_server, resultType="hits")
    assert hits.status == 200
    assert hits.content_type.startswith("text/xml")
    matched = re.search(rb'numberMatched="(\d+)"', hits.body)
    assert matched
    assert int(matched.group(1)) == len(typed_server.served_features)
    # MapServer issue #6403: it writes nothing, and the gateway answers 500.
    as_json = get(typed_server, resultType="hits", outputFormat="application/json")
    assert as_json.status == 500
    assert typed_server.exchanges[-1].status == 500, "the log holds what was answered"


def test_without_gml_types_every_property_is_text_and_a_cap_shortens_pages():
    config = MapServerConfig(
        features=300, gml_types_auto=False, compute_number_matched=False, max_features=40
    )
    with MapServer(config) as server:
        pages = all_pages(server, 100)
        served = len(server.served_features)
    assert [len(page["features"]) for page in pages[:-1]] == [40] * (len(pages) - 1)
    assert sum(len(page["features"]) for page in pages) == served
    with_count = [page for page in pages if "numberMatched" in page]
    assert len(with_count) == 1, "without wfs_compute_number_matched, only the last page says"
    for page in pages:
        for feature in page["features"]:
            assert all(isinstance(value, str) for value in feature["properties"].values())
    nulls = [f["properties"]["idInsDocumento"] for page in pages for f in page["features"]]
    assert "" in nulls, "a null number is written as empty text"


# -- the crawl against it ------------------------------------------------------------------


VARIANTS = {
    # GeoServer-like: typed properties and a count on every page.
    "gml_types_auto": MapServerConfig(features=FEATURES),
    # Every property as text, no count before the last page, pages capped below count.
    "text_properties": MapServerConfig(
        features=FEATURES, gml_types_auto=False, compute_number_matched=False, max_features=150
    ),
}


@pytest.fixture(scope="module")
def pages_replica():
    with ReplicaServer(VARIANTS["gml_types_auto"].replica_config()) as replica:
        yield replica


@pytest.fixture(scope="module")
def reference(pages_replica, tmp_path_factory) -> CrawlResult:
    """The crawl against the replica alone: GeoServer's answers."""
    data_dir = tmp_path_factory.mktemp("reference") / "data"
    result = run_crawl(pages_replica, data_dir, LAPAZ_WFS_PAGE_SIZE=PAGE_SIZE)
    assert result.returncode == 0, result.log[-3000:]
    return result


@dataclass(frozen=True)
class MapServerCrawl:
    server: MapServer
    result: CrawlResult


@pytest.fixture(scope="module", params=list(VARIANTS))
def mapserver_crawl(request, pages_replica, tmp_path_factory) -> MapServerCrawl:
    with MapServer(VARIANTS[request.param]) as server:
        site = Site(wfs_url=server.wfs_url, detalle_url=pages_replica.detalle_url)
        data_dir = tmp_path_factory.mktemp(request.param) / "data"
        result = run_crawl(site, data_dir, LAPAZ_WFS_PAGE_SIZE=PAGE_SIZE)
    return MapServerCrawl(server, result)


def comparable(record: dict) -> dict:
    """A record with its timestamps cut to the second, as MapServer writes them, and
    without when it was fetched (two crawls, two times)."""
    cut = {name: record[name][:19] for name in TIMESTAMP_FIELDS if record.get(name)}
    fetched = set(PROVENANCE_FIELDS)
    return {name: value for name, value in {**record, **cut}.items() if name not in fetched}


@pytest.mark.e2e
def test_every_record_comes_out_as_against_geoserver(mapserver_crawl, reference):
    result = mapserver_crawl.result
    assert result.returncode == 0, result.log[-3000:]
    assert "Traceback" not in result.log
    served_ids = {f["properties"]["idPCTramite"] for f in mapserver_crawl.server.served_features}
    assert_same_records(result.tramites, reference.tramites, served_ids)
    assert_same_records(result.detalles, reference.detalles, served_ids)


def assert_same_records(records: list[dict], reference: list[dict], served_ids: set) -> None:
    """One record per permit MapServer served, each as the crawl against GeoServer's
    replica wrote it (times aside)."""
    expected = {
        record["id_pc_tramite"]: comparable(record)
        for record in reference
        if record["id_pc_tramite"] in served_ids
    }
    assert len(records) == len(expected)
    for record in records:
        assert comparable(record) == expected[record["id_pc_tramite"]]
    assert {record["id_pc_tramite"] for record in records} == set(expected)


def hits_requests(server: MapServer) -> list[dict[str, str]]:
    queries = ({k.lower(): v for k, v in parse_qsl(e.query)} for e in server.exchanges)
    return [query for query in queries if query.get("resulttype", "").lower() == "hits"]


@pytest.mark.e2e
def test_the_count_is_asked_once_as_xml_and_the_wfs_phase_stays_short(mapserver_crawl):
    server = mapserver_crawl.server
    hits = hits_requests(server)
    assert len(hits) <= 1, "the count is never retried"
    assert all("outputformat" not in query for query in hits), "asked as WFS XML"
    wfs = [exchange for exchange in server.exchanges if exchange.query]
    phase = max(e.answered for e in wfs) - min(e.arrival for e in wfs)
    assert phase < WFS_PHASE_BOUND_SECONDS
