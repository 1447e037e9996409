from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from lapaz.wfs import (
    FeaturePage,
    PageRequest,
    WfsError,
    follow_up,
    getfeature_url,
    hits_url,
    pages_after_first,
    parse_feature_page,
    parse_hits,
    planned_pages,
    point_lat_lon,
)


def collection(count: int, **totals) -> bytes:
    features = [{"type": "Feature", "properties": {"idPCTramite": i}} for i in range(count)]
    return orjson.dumps({"type": "FeatureCollection", "features": features, **totals})


def test_getfeature_url_asks_for_sorted_geojson_pages():
    url = getfeature_url("https://example.org/ows", "sit:t", 5000, 5000, sort_by="idPCTramite")
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert query == {
        "service": "WFS",
        "version": "2.0.0",
        "request": "GetFeature",
        "typeNames": "sit:t",
        "count": "5000",
        "startIndex": "5000",
        "outputFormat": "application/json",
        "srsName": "EPSG:4326",
        "sortBy": "idPCTramite",
    }


def test_getfeature_url_keeps_an_existing_query():
    url = getfeature_url("https://example.org/ows?map=x", "t", 0, 10)
    assert url.startswith("https://example.org/ows?map=x&service=WFS")
    assert "sortBy" not in url


@pytest.mark.parametrize(
    ("totals", "matched"),
    [
        ({"numberMatched": 13907, "totalFeatures": 13907, "numberReturned": 3}, 13907),
        ({"numberMatched": "unknown", "totalFeatures": 120}, 120),
        ({"totalFeatures": "1500"}, 1500),
        ({}, None),
    ],
)
def test_parse_feature_page_reads_the_total_where_the_server_gives_one(totals, matched):
    page = parse_feature_page(collection(3, **totals))
    assert page.number_matched == matched
    assert page.number_returned == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'<?xml version="1.0"?><ows:ExceptionReport><ows:Exception exceptionCode="x">'
            b"<ows:ExceptionText>Illegal property name: sortBy</ows:ExceptionText>"
            b"</ows:Exception></ows:ExceptionReport>",
            "OGC exception",
        ),
        (b"<html><body>Service unavailable</body></html>", "not GeoJSON"),
        (b'{"type": "FeatureCollection", "features": [{"type": "Feat', "invalid JSON"),
        (b'{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
        (b'{"type": "FeatureCollection"}', "no list of features"),
    ],
)
def test_anything_but_a_feature_collection_is_an_error(body, message):
    with pytest.raises(WfsError, match=message):
        parse_feature_page(body)


@pytest.mark.parametrize(
    ("first", "returned", "matched", "expected"),
    [
        # the server honours count: the remaining pages at once
        (PageRequest(0, 5000), 5000, 13907, [(5000, 5000), (10000, 3907)]),
        # a server cap of 1000 below count: step by what came back
        (PageRequest(0, 5000), 1000, 3500, [(1000, 1000), (2000, 1000), (3000, 500)]),
        # everything on the first page
        (PageRequest(0, 5000), 120, 120, []),
        # an empty layer
        (PageRequest(0, 5000), 0, 0, []),
        # no total: only the next page
        (PageRequest(0, 5000), 5000, None, [(5000, 5000)]),
        (PageRequest(0, 5000), 1000, None, [(1000, 5000)]),
    ],
)
def test_pages_after_first(first, returned, matched, expected):
    page = FeaturePage([{}] * returned, matched, returned)
    assert [(p.start_index, p.count) for p in pages_after_first(first, page)] == expected


@pytest.mark.parametrize(
    ("request_", "returned", "planned", "expected"),
    [
        # a planned page that came back whole needs nothing more
        (PageRequest(1000, 1000), 1000, True, None),
        # a planned page that came back short: the gap up to its planned end
        (PageRequest(1000, 1000), 400, True, (1400, 600)),
        # a planned page that came back empty (the layer shrank): nothing to chase
        (PageRequest(1000, 1000), 0, True, None),
        # without a total, a short page is not the end
        (PageRequest(0, 5000), 1000, False, (1000, 5000)),
        # ... an empty page is
        (PageRequest(3000, 5000), 0, False, None),
    ],
)
def test_follow_up(request_, returned, planned, expected):
    page = FeaturePage([{}] * returned, None, returned)
    result = follow_up(request_, page, planned=planned)
    assert (result and (result.start_index, result.count)) == expected


@pytest.mark.parametrize(
    ("geometry", "expected"),
    [
        (
            {"type": "Point", "coordinates": [-68.108548, -16.520795]},
            (-16.520795, -68.108548, False),
        ),
        (
            {"type": "Point", "coordinates": [-16.520795, -68.108548]},
            (-16.520795, -68.108548, True),
        ),
        ({"type": "Point", "coordinates": ["-68.1", "-16.5"]}, (-16.5, -68.1, False)),
        ({"type": "MultiPoint", "coordinates": [[-68.1, -16.5]]}, (-16.5, -68.1, False)),
        (None, (None, None, False)),
        ({"type": "Point", "coordinates": []}, (None, None, False)),
        ({"type": "Point", "coordinates": [None, None]}, (None, None, False)),
    ],
)
def test_point_lat_lon(geometry, expected):
    assert point_lat_lon(geometry) == expected


@pytest.mark.parametrize(
    ("body", "count"),
    [
        (collection(0, numberMatched=13907, totalFeatures=13907, numberReturned=0), 13907),
        (collection(1, totalFeatures=120), 120),
        (collection(1), None),
        (
            b'<?xml version="1.0"?><wfs:FeatureCollection numberMatched="13907" '
            b'numberReturned="0" timeStamp="2026-01-01T00:00:00Z"/>',
            13907,
        ),
        (b'<wfs:FeatureCollection numberOfFeatures="42"/>', 42),
        (b"<ows:ExceptionReport><ows:Exception/></ows:ExceptionReport>", None),
        (b"not json", None),
    ],
)
def test_parse_hits(body, count):
    assert parse_hits(body) == count


def test_hits_url_asks_for_the_count_only():
    url = hits_url("https://example.org/ows", "sit:t", {"CQL_FILTER": "a = 'b'"})
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert query["resultType"] == "hits"
    assert query["CQL_FILTER"] == "a = 'b'"
    assert "startIndex" not in query


def test_planned_pages():
    pages = [(p.start_index, p.count) for p in planned_pages(12001, 5000)]
    assert pages == [(0, 5000), (5000, 5000), (10000, 2001)]
    assert planned_pages(0, 5000) == []


@pytest.mark.parametrize(
    ("code", "rejected"),
    [
        ("InvalidParameterValue", True),
        ("OperationParsingFailed", True),
        ("NoApplicableCode", False),
    ],
)
def test_only_a_wrong_request_counts_as_rejected(code, rejected):
    body = (
        f'<?xml version="1.0"?><ows:ExceptionReport xmlns:ows="http://www.opengis.net/ows/1.1">'
        f'<ows:Exception exceptionCode="{code}" locator="sortBy">'
        "<ows:ExceptionText>Illegal property name: idPCTramite</ows:ExceptionText>"
        "</ows:Exception></ows:ExceptionReport>"
    ).encode()
    with pytest.raises(WfsError, match=f"{code}: Illegal property name: idPCTramite") as error:
        parse_feature_page(body)
    assert error.value.rejected is rejected


def test_a_byte_order_mark_is_no_error():
    page = parse_feature_page(b"\xef\xbb\xbf" + collection(2, numberMatched=2))
    assert page.number_returned == 2
