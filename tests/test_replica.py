"""The replica behaves like the La Paz site as docs/SITE.md describes it, faults included."""

import http.client
import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import unicodedata
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlencode

import lxml.html
import pytest

from lapaz.records.schema import TRAMITE_PROPERTIES
from lapaz.records.values import normalize_codigo_catastral
from tools.replica import (
    Fault,
    ReplicaConfig,
    ReplicaServer,
    generate_features,
    page_identifier,
    page_rows,
)
from tools.replica.pages import REFUSAL_TEXT, render_permit_page
from tools.replica.season import Season, Week

REPO_ROOT = Path(__file__).resolve().parent.parent
GETFEATURE = {
    "service": "WFS",
    "version": "2.0.0",
    "request": "GetFeature",
    "typeNames": "sit:tramitesterritoriales",
    "outputFormat": "application/json",
    "srsName": "EPSG:4326",
}


def fetch(url: str, *, timeout: float = 5.0, user_agent: str | None = None):
    """Status, headers and body, whatever the status."""
    headers = {"User-Agent": user_agent} if user_agent else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout
        ) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def get_features(site: ReplicaServer, **params) -> tuple[int, dict | bytes]:
    """A GetFeature request; the decoded collection, or the raw body when it is not 200."""
    status, _, body = fetch(f"{site.wfs_url}?{urlencode({**GETFEATURE, **params})}")
    return status, (json.loads(body) if status == 200 else body)


def fetch_page(site: ReplicaServer, identifier: str, **kwargs):
    return fetch(site.detalle_url + "?" + identifier, **kwargs)


def plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.lower())
    return " ".join("".join(c for c in decomposed if unicodedata.category(c) != "Mn").split())


def read_sections(html: bytes) -> dict[str, list[list[str]]]:
    """An independent reader: heading (plain) -> rows of >= 2 non-empty `td` texts."""
    document = lxml.html.fromstring(html)
    sections = {}
    for heading in document.iter("h5"):
        table = heading.xpath("following::table[1]")[0]
        rows = []
        for row in table.iter("tr"):
            cells = [" ".join(" ".join(td.itertext()).split()) for td in row if td.tag == "td"]
            if len(cells) >= 2 and any(cells):
                rows.append(cells)
        sections[plain(heading.text_content())] = rows
    return sections


def approved_with_page(site: ReplicaServer) -> list[tuple[str, dict]]:
    """(identifier, feature) of approved permits whose page the site serves."""
    pairs = [(page_identifier(f), f) for f in site.approved_features()]
    return [(i, f) for i, f in pairs if i and site.served_page_feature(i) is not None]


@pytest.fixture(scope="module")
def site():
    with ReplicaServer(ReplicaConfig(features=600)) as replica:
        yield replica


@pytest.fixture
def serve():
    """Start a replica with the given config fields; all are stopped after the test."""
    started = []

    def start(**fields) -> ReplicaServer:
        replica = ReplicaServer(ReplicaConfig(**{"features": 300, **fields})).start()
        started.append(replica)
        return replica

    yield start
    for replica in started:
        replica.stop()


# -- dataset ------------------------------------------------------------------------------


def test_dataset_is_deterministic_fast_and_realistic():
    started = time.perf_counter()
    features = generate_features(15_000)
    assert time.perf_counter() - started < 3
    assert generate_features(200) == generate_features(200)
    assert generate_features(50, seed=1) != generate_features(50)

    properties = [f["properties"] for f in features]
    assert all(list(p) == list(TRAMITE_PROPERTIES) for p in properties)
    assert all(
        f["id"] == f"tramitesterritoriales.{p['idPCTramite']}"
        for f, p in zip(features, properties, strict=True)
    )
    ids = [p["idPCTramite"] for p in properties]
    assert len(set(ids)) == len(ids)
    assert max(ids) - min(ids) + 1 > len(ids)  # gaps
    assert all(isinstance(p["NumeroTramite"], int) for p in properties)

    codes = Counter(p["codigoCatastral"] for p in properties if p["codigoCatastral"])
    assert all(re.fullmatch(r"\d{15}", code) for code in codes)
    assert sum(code.startswith("0") for code in codes) > len(codes) / 2
    shared = sum(n for n in codes.values() if n > 1)
    assert 0.05 < shared / len(properties) < 0.25

    approved = [p for p in properties if p["resultado"] == "APROBADO"]
    assert 0.20 < len(approved) / len(properties) < 0.26
    assert any(p["codigoCatastral"] is None for p in approved)
    assert any(p["fechaRegistro"] is None for p in approved)
    assert 0.002 < sum(p["fechaRegistro"] is None for p in properties) / len(properties) < 0.01
    dates = [p["fechaRegistro"] for p in properties if p["fechaRegistro"]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", d) for d in dates)
    assert min(dates)[:4] == "2017"
    assert max(dates)[:4] == "2025"

    geometries = [f["geometry"] for f in features]
    assert 0.001 < sum(g is None for g in geometries) / len(features) < 0.006
    for geometry in filter(None, geometries):
        lon, lat = geometry["coordinates"]
        assert -16.60 <= lat <= -16.44
        assert -68.18 <= lon <= -68.03
    assert {p["distritoMunicipal"] for p in properties} == set(range(1, 22))
    assert "V - SUR" in {p["macroDistrito"] for p in properties}
    assert [p["cantidadPisos"] for p in properties].count(1476) == 1
    names = "".join(p["Solicitante"] for p in properties)
    assert "Ñ" in names
    assert "É" in names


def test_some_pages_write_the_cadastral_code_in_another_form():
    approved = [f for f in generate_features(3000) if f["properties"]["resultado"] == "APROBADO"]
    approved = [f for f in approved if f["properties"]["codigoCatastral"]]
    shown = [
        (page_rows(f)["Datos Generales"][0], f["properties"]["codigoCatastral"]) for f in approved
    ]
    assert all(row[0] == "Código Catastral" for row, _ in shown)
    different = [row[1] for row, code in shown if row[1] != code]
    assert 0.05 < len(different) / len(shown) < 0.16
    assert any("-" in code for code in different)
    assert any("-" not in code for code in different)
    assert all(normalize_codigo_catastral(row[1]) == code for row, code in shown)


def test_rendered_pages_read_back_as_page_rows_whatever_the_markup():
    features = [f for f in generate_features(1500) if f["properties"]["resultado"] == "APROBADO"]
    html = b""
    for feature in features:
        page = render_permit_page(feature)
        html += page
        expected = {plain(name): rows for name, rows in page_rows(feature).items()}
        assert read_sections(page) == expected
        assert b'<meta charset="utf-8">' in page or b"charset=utf-8" in page
    # Every variation occurs somewhere.
    variations = [
        "<span", "</span><small>", "</span> <small>", "<th>", "<tr></tr>", 'colspan="3"',
        "<tbody>", "table-responsive", "PARAMETROS DE CONSTRUCCION",
        "Parámetros de construcción", "Lateral 2", "Mezzanine",
    ]  # fmt: skip
    for markup in variations:
        assert markup.encode() in html, markup
    sections = [page_rows(f) for f in features]
    assert any("Otros datos" not in s for s in sections)
    labels = [Counter(tuple(row[:-1]) for row in s["Parámetros de Construcción"]) for s in sections]
    assert any(max(counts.values()) > 1 for counts in labels)  # a label repeated


# -- WFS -----------------------------------------------------------------------------------


def test_paging_with_sort_by_returns_every_feature_once(site):
    ids, returned, start = [], 0, 0
    while True:
        status, page = get_features(site, count=250, startIndex=start, sortBy="idPCTramite")
        assert status == 200
        assert page["numberMatched"] == page["totalFeatures"] == 600
        assert page["numberReturned"] == len(page["features"])
        assert page["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::4326"
        if not page["features"]:
            break
        ids += [f["properties"]["idPCTramite"] for f in page["features"]]
        returned += page["numberReturned"]
        start += page["numberReturned"]
    assert returned == 600
    assert ids == sorted(f["properties"]["idPCTramite"] for f in site.features)


def test_sort_by_directions_and_spellings(site):
    expected = sorted(f["properties"]["idPCTramite"] for f in site.features)
    for query, ordered in [
        ("idPCTramite", expected),
        ("idPCTramite+A", expected),
        ("idPCTramite%20ASC", expected),
        ("idPCTramite+DESC", expected[::-1]),
        ("idPCTramite+D", expected[::-1]),
    ]:
        url = f"{site.wfs_url}?{urlencode({**GETFEATURE, 'count': 20})}&sortBy={query}"
        status, _, body = fetch(url)
        assert status == 200, query
        assert [f["properties"]["idPCTramite"] for f in json.loads(body)["features"]] == ordered[
            :20
        ]


def test_parameter_names_are_case_insensitive(site):
    query = "SERVICE=WFS&REQUEST=GetFeature&TYPENAME=tramitesterritoriales&COUNT=7&STARTINDEX=3"
    status, _, body = fetch(f"{site.wfs_url}?{query}&OUTPUTFORMAT=application/json")
    collection = json.loads(body)
    assert status == 200
    assert collection["features"] == site.features[3:10]


def test_page_cap_shortens_every_page(serve):
    replica = serve(page_cap=40)
    status, page = get_features(replica, count=100, startIndex=0)
    assert status == 200
    assert page["numberReturned"] == 40
    assert page["numberMatched"] == 300
    status, page = get_features(replica, startIndex=280)
    assert page["numberReturned"] == 20


def test_unstable_order_without_sort_by_but_stable_with_it(serve):
    replica = serve(unstable_order=True)

    def first_ids(**params):
        return [
            f["properties"]["idPCTramite"]
            for f in get_features(replica, count=50, **params)[1]["features"]
        ]

    assert first_ids() != first_ids()
    assert first_ids(sortBy="idPCTramite") == first_ids(sortBy="idPCTramite")


def test_exception_reports(serve):
    replica = serve(reject_sort_by=True)
    status, body = get_features(replica, count=5, sortBy="idPCTramite")
    assert status == 400
    assert b"ows:ExceptionReport" in body
    assert b'exceptionCode="InvalidParameterValue"' in body
    assert b"<ows:ExceptionText>" in body
    assert get_features(replica, count=5)[0] == 200
    invalid = [
        {"typeNames": "sit:otra_capa"},
        {"sortBy": "noExiste"},
        {"count": "-1"},
        {"outputFormat": "text/xml; subtype=gml/3.2"},
        {"request": "DescribeFeatureType"},
    ]
    for params in invalid:
        status, body = get_features(replica, **params)
        assert status == 400, params
        assert b"ows:ExceptionReport" in body, params


def test_omit_number_matched(serve):
    page = get_features(serve(omit_number_matched=True), count=10)[1]
    assert len(page["features"]) == 10
    assert not {"numberMatched", "totalFeatures", "numberReturned"} & set(page)


def test_lat_lon_order(serve):
    replica = serve(lat_lon_order=True)
    page = get_features(replica, count=300)[1]
    for served, original in zip(page["features"], replica.features, strict=True):
        if original["geometry"]:
            assert served["geometry"]["coordinates"] == original["geometry"]["coordinates"][::-1]
        else:
            assert served["geometry"] is None


def test_all_strings_empty_string_nulls_and_omitted_nulls(serve):
    replica = serve(all_strings=True)
    strings = get_features(replica, count=300)[1]["features"]
    values = [v for f in strings for v in f["properties"].values()]
    assert all(v is None or isinstance(v, str) for v in values)
    assert None in values
    first_id = replica.features[0]["properties"]["idPCTramite"]
    assert strings[0]["properties"]["idPCTramite"] == str(first_id)

    emptied = get_features(serve(empty_string_nulls=True), count=300)[1]["features"]
    assert any(f["properties"]["nombreEdificio"] == "" for f in emptied)
    assert any(f["properties"]["idInsDocumento"] is None for f in emptied)  # numbers stay null

    omitted = get_features(serve(omit_null_properties=True), count=300)[1]["features"]
    assert all(None not in f["properties"].values() for f in omitted)
    assert any(len(f["properties"]) < 26 for f in omitted)


def test_cql_filter(serve):
    replica = serve()
    cql = "fechaRegistro >= '2021-01-01' AND resultado = 'APROBADO' AND distritoMunicipal < 15"
    expected = [
        f for f in replica.features
        if (p := f["properties"])["fechaRegistro"] and p["fechaRegistro"] >= "2021-01-01"
        and p["resultado"] == "APROBADO" and p["distritoMunicipal"] < 15
    ]  # fmt: skip
    page = get_features(replica, CQL_FILTER=cql, count=1000)[1]
    assert 0 < page["numberMatched"] == page["totalFeatures"] == len(expected) < 300
    assert page["features"] == expected
    status, body = get_features(replica, CQL_FILTER="resultado ~ 'APROBADO'")
    assert status == 400
    assert b"ExceptionReport" in body

    ignoring = serve(cql_filter=False)
    assert get_features(ignoring, CQL_FILTER=cql, count=1)[1]["numberMatched"] == 300


def test_add_features_makes_new_permits_appear(serve):
    replica = serve()
    old_max = max(f["properties"]["idPCTramite"] for f in replica.features)
    assert get_features(replica, count=1, sortBy="idPCTramite")[1]["numberMatched"] == 300
    added = replica.add_features(40)
    assert len(added) == 40
    assert min(f["properties"]["idPCTramite"] for f in added) > old_max
    assert get_features(replica, count=1, sortBy="idPCTramite")[1]["numberMatched"] == 340
    new_pages = [page_identifier(f) for f in added if f["properties"]["resultado"] == "APROBADO"]
    served = [i for i in new_pages if i and replica.served_page_feature(i)]
    assert served
    assert b"<h5" in fetch_page(replica, served[0])[2]


# -- pages ---------------------------------------------------------------------------------


def test_approved_permit_page_has_three_sections(site):
    identifier, feature = next(
        (i, f) for i, f in approved_with_page(site) if "Otros datos" in page_rows(f)
    )
    status, headers, body = fetch_page(site, identifier)
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    sections = read_sections(body)
    assert list(sections) == ["datos generales", "parametros de construccion", "otros datos"]
    assert sections["otros datos"][0] == [
        "Arquitecto Reponsable",
        feature["properties"]["arquitectoNombre"],
    ]
    # Base64's "+", "/" and "=" may arrive percent-encoded.
    assert fetch_page(site, quote(identifier, safe=""))[2] == body


def test_refusal_page_for_everything_else(site):
    identifiers = [page_identifier(f) for f in site.approved_features()]
    refused = [i for i in identifiers if i and site.is_refused(i)]
    assert refused
    not_approved = next(
        page_identifier(f) for f in site.features if f["properties"]["resultado"] == "OBSERVADO"
    )
    for identifier in [*refused, not_approved, "", "no-es-base64", "MDQ0fHh8eQ=="]:
        status, _, body = fetch_page(site, identifier)
        assert status == 200
        assert REFUSAL_TEXT in body.decode("utf-8")
        assert b"<h5" not in body
    approved = [f for f in generate_features(5000) if f["properties"]["resultado"] == "APROBADO"]
    identifiers = list(filter(None, map(page_identifier, approved)))
    share = sum(site.is_refused(i) for i in identifiers) / len(identifiers)
    assert 0.01 < share < 0.06


# -- faults --------------------------------------------------------------------------------


def test_fault_fails_exactly_times_then_heals(serve):
    replica = serve(features=600)
    (first, _), (second, _), (third, _) = approved_with_page(replica)[:3]
    replica.config.faults = [
        Fault(target="page", kind="status", status=500, keys=(first,), times=2),
        Fault(target="page", kind="status", keys=(second,), times=None),
    ]
    assert [fetch_page(replica, first)[0] for _ in range(4)] == [500, 500, 200, 200]
    assert [fetch_page(replica, second)[0] for _ in range(3)] == [503, 503, 503]
    assert fetch_page(replica, third)[0] == 200
    assert replica.stats.faults["status"] == 5


def test_fault_fraction_selects_a_stable_share(serve):
    replica = serve(features=600)
    fault = Fault(target="page", kind="status", fraction=0.3, times=1)
    replica.config.faults = [fault]
    pages = [i for i, _ in approved_with_page(replica)]
    selected = [i for i in pages if fault.selects(i, replica.config.seed)]
    assert 0.15 < len(selected) / len(pages) < 0.45
    statuses = {i: fetch_page(replica, i)[0] for i in pages[:30]}
    assert statuses == {i: 503 if i in selected else 200 for i in pages[:30]}


def test_wfs_faults_by_start_index(serve):
    replica = serve()
    replica.config.faults = [
        Fault(target="wfs", kind="retry_after", keys=(0,), retry_after=7),
        Fault(target="wfs", kind="truncated_json", keys=(100,)),
        Fault(target="wfs", kind="exception_report", keys=(200,)),
    ]
    status, headers, _ = fetch(f"{replica.wfs_url}?{urlencode({**GETFEATURE, 'count': 100})}")
    assert status == 429
    assert headers["Retry-After"] == "7"
    assert get_features(replica, count=100)[0] == 200

    url = f"{replica.wfs_url}?{urlencode({**GETFEATURE, 'count': 100, 'startIndex': 100})}"
    status, _, body = fetch(url)
    assert status == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    assert json.loads(fetch(url)[2])["numberReturned"] == 100

    url = f"{replica.wfs_url}?{urlencode({**GETFEATURE, 'count': 100, 'startIndex': 200})}"
    status, headers, body = fetch(url)
    assert status == 200
    assert headers["Content-Type"].startswith("text/xml")
    assert b"ows:ExceptionReport" in body
    assert replica.stats.wfs_requests == Counter({0: 2, 100: 2, 200: 1})


def test_slow_fault_outlasts_the_client_timeout(serve):
    replica = serve(features=600)
    identifier = approved_with_page(replica)[0][0]
    replica.config.faults = [Fault(target="page", kind="slow", delay=3.0, keys=(identifier,))]
    with pytest.raises(TimeoutError):
        fetch_page(replica, identifier, timeout=0.3)
    assert fetch_page(replica, identifier, timeout=2)[0] == 200


def test_drop_fault_cuts_the_body_short(serve):
    replica = serve(features=600)
    identifier = approved_with_page(replica)[0][0]
    replica.config.faults = [
        Fault(target="page", kind="drop", keys=(identifier,)),
        Fault(target="wfs", kind="drop", keys=(0,)),
    ]
    with pytest.raises(http.client.IncompleteRead):
        fetch_page(replica, identifier)
    with pytest.raises(http.client.IncompleteRead):
        get_features(replica, count=50)
    assert fetch_page(replica, identifier)[0] == 200


def test_page_content_faults(serve):
    replica = serve(features=600)
    (broken, _), (garbled, _) = approved_with_page(replica)[:2]
    replica.config.faults = [
        Fault(target="page", kind="no_sections", keys=(broken,)),
        Fault(target="page", kind="bad_utf8", keys=(garbled,)),
    ]
    status, _, body = fetch_page(replica, broken)
    assert status == 200
    assert b"<h5" not in body
    assert REFUSAL_TEXT.encode() not in body
    status, _, body = fetch_page(replica, garbled)
    assert status == 200
    assert b"<h5" in body
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    assert "Zona Referencial" in body.decode("utf-8", errors="replace")
    fetch_page(replica, garbled)[2].decode("utf-8")  # healed


def test_burst_fails_the_first_requests_whatever_the_target(serve):
    replica = serve(features=600)
    pages = [i for i, _ in approved_with_page(replica)[:5]]
    replica.config.faults = [Fault(target="page", kind="burst", times=3)]
    assert [fetch_page(replica, i)[0] for i in pages] == [503, 503, 503, 200, 200]

    # Every request within the window of the first one fails, whatever its startIndex; the
    # window is long enough for two local round trips on a loaded machine.
    window = 3.0
    replica.config.faults = [Fault(target="wfs", kind="burst", times=None, window=window)]
    began = time.monotonic()
    assert get_features(replica, count=1)[0] == 503
    assert get_features(replica, count=1, startIndex=9)[0] == 503
    # Then it heals: poll until a request succeeds.
    deadline = began + window + 30
    while (status := get_features(replica, count=1)[0]) != 200:
        assert status == 503
        assert time.monotonic() < deadline, "the burst never healed"
        time.sleep(0.05)
    assert time.monotonic() - began >= window  # not before the window ended


def test_fault_rules_are_validated():
    with pytest.raises(ValueError, match="applies to 'wfs' only"):
        Fault(target="page", kind="truncated_json")
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault(target="wfs", kind="fire")
    with pytest.raises(ValueError, match="unknown fault target"):
        Fault(target="db", kind="status")


# -- server --------------------------------------------------------------------------------


def test_fifty_concurrent_requests_and_stats(serve):
    # Each answer takes a second, so requests released together are certain to overlap.
    replica = serve(features=600, latency=1.0)
    pages = [i for i, _ in approved_with_page(replica)[:50]]
    start = threading.Barrier(len(pages), timeout=30)
    statuses = []

    def request(number: int, identifier: str) -> None:
        start.wait()
        user_agent = f"agent-{number % 5}"
        statuses.append(fetch_page(replica, identifier, user_agent=user_agent, timeout=30)[0])

    threads = [threading.Thread(target=request, args=item) for item in enumerate(pages)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    assert not [thread for thread in threads if thread.is_alive()]
    assert statuses == [200] * 50
    stats = replica.stats
    assert stats.max_in_flight >= 10  # served concurrently, not one after another
    assert stats.user_agents == Counter({f"agent-{n}": 10 for n in range(5)})
    assert stats.page_requests == Counter(pages)
    assert stats.requests == Counter(page=50)

    fetch(replica.url + "/otra/cosa", user_agent="curioso")
    snapshot = json.loads(fetch(replica.url + "/_replica/stats")[2])
    assert snapshot["requests"] == {"page": 50, "other": 1}
    assert snapshot["user_agents"]["curioso"] == 1
    assert snapshot["max_in_flight"] == stats.max_in_flight
    assert snapshot["bytes_sent"] == stats.bytes_sent > 50 * 2000


def test_keep_alive_and_content_length(site):
    connection = http.client.HTTPConnection("127.0.0.1", site.port, timeout=5)
    try:
        for start in (0, 10):
            connection.request(
                "GET",
                f"/geoserver/sit/ows?{urlencode({**GETFEATURE, 'count': 10, 'startIndex': start})}",
            )
            response = connection.getresponse()
            body = response.read()
            assert response.version == 11
            assert not response.will_close
            assert int(response.headers["Content-Length"]) == len(body)
            assert response.headers["Content-Type"] == "application/json;charset=UTF-8"
    finally:
        connection.close()


def test_stop_is_prompt_with_open_connections():
    threads_before = set(threading.enumerate())
    replica = ReplicaServer(ReplicaConfig(features=50)).start()
    port = replica.port
    idle = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    idle.request("GET", "/situtiles/pc/?x")
    idle.getresponse().read()
    began = time.perf_counter()
    replica.stop()
    assert time.perf_counter() - began < 2
    assert set(threading.enumerate()) <= threads_before
    assert replica.port == port  # a stopped replica is a site that is down
    with pytest.raises(ConnectionRefusedError):
        http.client.HTTPConnection("127.0.0.1", port, timeout=2).connect()
    idle.close()


def test_a_site_down_for_a_week_comes_back_on_its_port_with_its_layer():
    replica = ReplicaServer(ReplicaConfig(features=50)).start()
    port = replica.port
    replica.add_features(3)
    replica.stop()
    replica.start()
    try:
        assert replica.port == port
        status, collection = get_features(replica, count=1)
        assert status == 200
        assert collection["numberMatched"] == 53
    finally:
        replica.stop()


def test_a_season_changes_the_site_and_says_what_the_change_log_should_get():
    replica = ReplicaServer(ReplicaConfig(features=300))
    season = Season(replica, failing_pages=2)
    before = {f["properties"]["idPCTramite"]: f["properties"] for f in replica.features}
    lines = season.next_week(Week(added=4, approved=2, resurfaced=1, removed=1))
    after = {f["properties"]["idPCTramite"]: f["properties"] for f in replica.features}

    assert len(season.failing_pages) == 2
    assert all(replica.served_page_feature(i) for i in season.failing_pages)
    kinds = Counter((tipo, campo) for _, tipo, campo in lines)
    assert kinds == {
        ("nuevo", None): 4,
        ("retirado", None): 1,
        ("modificado", "resultado"): 2,
        ("modificado", "fecha_aprobacion"): 2,
        ("modificado", "superficie_construida"): 1,
    }
    for key, tipo, campo in lines:
        if tipo == "nuevo":
            assert key in after
            assert key not in before
        elif tipo == "retirado":
            assert key in before
            assert key not in after
        elif campo == "resultado":
            assert (before[key]["resultado"], after[key]["resultado"]) == ("OBSERVADO", "APROBADO")
        elif campo == "superficie_construida":
            assert after[key]["SuperficieConstruida"] > before[key]["SuperficieConstruida"]
    # Pages that fail all season are never among the permits changed.
    failing = {page_identifier({"properties": before[key]}) for key, *_ in lines if key in before}
    assert not failing & set(season.failing_pages)


def test_cli_prints_ready_and_stops_on_sigterm():
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tools.replica",
            "--port",
            "0",
            "--features",
            "200",
            "--failure-rate",
            "1",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=30)
        assert re.fullmatch(r"READY http://127\.0\.0\.1:\d+\n", line), line
        url = line.split()[1]
        assert fetch(url + "/situtiles/pc/?MDQ0fDF8MjAyMA==")[0] == 503  # --failure-rate 1
        assert json.loads(fetch(url + "/_replica/stats")[2])["requests"] == {"page": 1}
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        process.stdout.close()
        process.stderr.close()
