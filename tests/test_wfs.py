from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from lapaz.layer.paging import PageRequest
from lapaz.layer.wfs import (
    WfsError,
    WfsQuery,
    WfsRejected,
    parse_feature_page,
    parse_hits,
    point_lat_lon,
)


def collection(count: int, **totals) -> bytes:
    features = [{"type": "Feature", "properties": {"idPCTramite": i}} for i in range(count)]
    return orjson.dumps({"type": "FeatureCollection", "features": features, **totals})


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def test_page_url_asks_for_sorted_geojson_pages():
    url = WfsQuery("https://example.org/ows", "sit:t", sort_by="idPCTramite").page_url(
        PageRequest(5000, 5000)
    )
    query = query_of(url)
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


def test_page_url_keeps_an_existing_query():
    url = WfsQuery("https://example.org/ows?map=x", "t").page_url(PageRequest(0, 10))
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


def test_hits_url_asks_for_the_count_only_in_the_default_xml():
    url = WfsQuery("https://example.org/ows", "sit:t", "idPCTramite", "a = 'b'").hits_url()
    query = query_of(url)
    assert query["resultType"] == "hits"
    assert query["CQL_FILTER"] == "a = 'b'"
    # MapServer fails on hits asked as GeoJSON; every WFS 2.0 server answers the XML.
    assert "outputFormat" not in query
    assert "startIndex" not in query


def test_a_rejected_query_falls_back_vendor_parameter_first():
    query = WfsQuery("https://example.org/ows", "sit:t", "idPCTramite", "a = 'b'")
    without_filter = query.fallback()
    assert (without_filter.sort_by, without_filter.cql_filter) == ("idPCTramite", None)
    without_sort = without_filter.fallback()
    assert (without_sort.sort_by, without_sort.cql_filter) == (None, None)
    assert without_sort.fallback() is None
    assert "sortBy" not in without_sort.page_url(PageRequest(0, 10))


def test_hits_of_a_server_that_cannot_count_is_no_count():
    body = b'<wfs:FeatureCollection numberMatched="unknown" numberReturned="0"/>'
    assert parse_hits(body) is None


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
    assert isinstance(error.value, WfsRejected) is rejected


def test_a_byte_order_mark_is_no_error():
    page = parse_feature_page(b"\xef\xbb\xbf" + collection(2, numberMatched=2))
    assert page.number_returned == 2
