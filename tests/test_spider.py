"""The spider's callbacks: a saved response in, requests and records out (table-driven)."""

from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse
from twisted.python.failure import Failure

from lapaz.crawl.exceptions import PagesStopped
from lapaz.items import DetalleItem, TramiteItem
from lapaz.layer.paging import PageRequest
from lapaz.records.schema import PageOutcome
from tests.test_pages import saved

SETTINGS = {
    "LAPAZ_WFS_URL": "http://wfs.test/ows",
    "LAPAZ_DETALLE_URL": "http://pages.test/pc/",
}
PERMIT = {"id_pc_tramite": 1, "identificador": "X", "url": "http://pages.test/pc/?X"}


@pytest.fixture
def make_spider(project_spider):
    def make(**arguments):
        return project_spider(arguments, **SETTINGS)

    return make


def feature(number, resultado="APROBADO", **properties):
    return {
        "type": "Feature",
        "id": f"tramitesterritoriales.{number}",
        "geometry": {"type": "Point", "coordinates": [-68.1, -16.5]},
        "properties": {
            "idPCTramite": number,
            "NumeroTramite": 1000 + number,
            "codigoCatastral": "044104900070000",
            "fechaRegistro": "2025-03-07T20:58:21.667Z",
            "resultado": resultado,
            "macroDistrito": "V - SUR",
            **properties,
        },
    }


def wfs_response(spider, page, features, **totals):
    body = orjson.dumps({"type": "FeatureCollection", "features": features, **totals})
    request = spider.wfs_request(page)
    return TextResponse(request.url, body=body, request=request)


def parse_wfs(spider, response) -> list:
    return list(spider.parse_wfs_page(response, **response.request.cb_kwargs))


def query(request):
    return {key: values[0] for key, values in parse_qs(urlsplit(request.url).query).items()}


def of_kind(outputs, kind) -> list:
    return [output for output in outputs if isinstance(output, kind)]


def test_first_page_plans_the_rest_then_each_record_and_its_page(make_spider):
    spider = make_spider(macrodistrito="sur")
    response = wfs_response(spider, PageRequest(0, 2), [feature(1), feature(2)], numberMatched=5)
    output = parse_wfs(spider, response)
    wfs = [r for r in of_kind(output, Request) if urlsplit(r.url).netloc == "wfs.test"]
    assert [(query(r)["startIndex"], query(r)["count"]) for r in wfs] == [("2", "2"), ("4", "1")]
    assert {query(r)["sortBy"] for r in wfs} == {"idPCTramite"}
    assert {query(r)["CQL_FILTER"] for r in wfs} == {"macroDistrito = 'V - SUR'"}
    # Each feature's record, then its page request, straight to the scheduler.
    kinds = [type(o).__name__ for o in output[len(wfs) :]]
    assert kinds == ["TramiteItem", "Request", "TramiteItem", "Request"]
    pages = [r for r in of_kind(output, Request) if r not in wfs]
    assert {r.priority for r in pages} == {0}
    assert {r.priority for r in wfs} == {10}
    assert pages[0].cb_kwargs["permit"]["identificador"] in pages[0].url
    assert pages[0].errback == spider.detalle_failed, "every page asked leaves a record"


@pytest.mark.parametrize(
    ("properties", "resultado", "outputs", "error"),
    [
        ({}, "APROBADO", ["TramiteItem", "Request"], None),
        ({}, "OBSERVADO", ["TramiteItem"], None),
        (
            {"codigoCatastral": None},
            "APROBADO",
            ["TramiteItem", "DetalleItem"],
            "sin_codigo_catastral",
        ),
        ({"fechaRegistro": None}, "APROBADO", ["TramiteItem", "DetalleItem"], "sin_fecha_registro"),
        ({"NumeroTramite": None}, "APROBADO", ["TramiteItem", "DetalleItem"], "sin_numero_tramite"),
    ],
)
def test_a_feature_gives_its_record_then_its_page_request_or_why_not(
    make_spider, properties, resultado, outputs, error
):
    spider = make_spider()
    one = feature(7, resultado=resultado, **properties)
    output = parse_wfs(spider, wfs_response(spider, PageRequest(0, 10), [one], numberMatched=1))
    assert [type(o).__name__ for o in output] == outputs
    if error:
        assert output[-1]["error"] == error


def test_paging_without_a_total_stops_when_the_server_repeats_itself(make_spider):
    spider = make_spider(resultado="NINGUNO")
    first = wfs_response(spider, PageRequest(0, 2), [feature(1), feature(2)])
    (next_page,) = of_kind(parse_wfs(spider, first), Request)
    assert next_page.cb_kwargs["page"] == PageRequest(2, 5000, planned=False)
    repeated = wfs_response(spider, next_page.cb_kwargs["page"], [feature(1), feature(2)])
    assert not of_kind(parse_wfs(spider, repeated), Request)


def test_features_without_an_id_are_all_counted(make_spider):
    spider = make_spider()
    # The properties the crawl needs are there (null), or the layer guard would stop.
    properties = dict.fromkeys(["codigoCatastral", "NumeroTramite", "fechaRegistro"])
    anonymous = [
        {"type": "Feature", "geometry": None, "properties": {**properties, "resultado": "X"}}
    ] * 3
    parse_wfs(spider, wfs_response(spider, PageRequest(0, 10), anonymous, numberMatched=3))
    assert spider.state.features_received == 3


def test_records_are_final_when_the_spider_yields_them(make_spider):
    spider = make_spider()
    response = wfs_response(spider, PageRequest(0, 10), [feature(7)], numberMatched=1)
    (record,) = of_kind(parse_wfs(spider, response), TramiteItem)
    assert list(record)[:3] == ["id_pc_tramite", "descripcion", "id_tipo_tramite"]
    assert record["codigo_catastral"] == "044104900070000"
    assert (record["latitude"], record["longitude"]) == (-16.5, -68.1)


def page_response(name, meta=None):
    request = Request(PERMIT["url"], cb_kwargs={"permit": PERMIT}, meta=meta or {})
    return HtmlResponse(PERMIT["url"], body=saved(name), request=request)


@pytest.mark.parametrize(
    ("name", "meta", "kind", "error"),
    [
        ("permiso_completo.html", {}, DetalleItem, None),
        ("rechazada.html", {}, DetalleItem, "rechazada"),
        # A page without sections is asked once more, behind the pages not yet asked...
        ("sin_secciones.html", {}, Request, None),
        # ...and recorded as such when it comes so again.
        ("sin_secciones.html", {"retry_times": 1}, DetalleItem, "sin_secciones"),
    ],
)
def test_a_page_answer_gives_one_record_or_one_retry(make_spider, name, meta, kind, error):
    spider = make_spider()
    output = spider.parse_detalle(page_response(name, meta), PERMIT)
    assert isinstance(output, kind)
    if kind is DetalleItem:
        assert output["error"] == error
        assert any(key.startswith("gral__") for key in output) is (error is None)
    else:
        assert output.meta["retry_times"] == 1
        assert output.priority < 0


@pytest.mark.parametrize(
    ("meta", "error", "provenance"),
    [
        ({}, PageOutcome.NOT_REQUESTED, False),
        ({"lapaz_drift_retry": True}, "sin_secciones", True),
        # A retry dropped because the page server seems down: asked, and failed so.
        ({"retry_times": 2, "lapaz_last_failure": "http_503"}, "http_503", True),
    ],
)
def test_a_page_the_gate_stopped_is_recorded(make_spider, meta, error, provenance):
    spider = make_spider()
    request = Request(PERMIT["url"], cb_kwargs={"permit": PERMIT}, meta=meta)
    failure = Failure(PagesStopped("the site changed"))
    failure.request = request
    record = spider.detalle_failed(failure)
    assert record["error"] == error
    assert (record["fecha_consulta"] is not None) is provenance


def starts(requests) -> list[tuple[str, str]]:
    return [(query(r)["startIndex"], query(r)["count"]) for r in requests]


def wfs_requests(output) -> list[Request]:
    return [r for r in of_kind(output, Request) if urlsplit(r.url).netloc == "wfs.test"]


def test_the_count_and_the_first_page_at_once_then_every_other_page(make_spider):
    spider = make_spider(limite=12000)
    request, first = spider.opening_requests()
    assert query(request)["resultType"] == "hits"
    assert request.meta["dont_retry"], "the count is asked once"
    assert starts([first]) == [("0", "5000")]
    body = b'<wfs:FeatureCollection numberMatched="13907" numberReturned="0"/>'
    output = spider.parse_count(TextResponse(request.url, body=body, request=request))
    assert starts(output) == [("5000", "5000"), ("10000", "2000")]
    assert {r.cb_kwargs["page"].planned for r in output} == {True}
    assert spider.state.number_matched == 13907
    assert spider.state.expected == 12000
    # The first page, full, needs nothing more: the count planned the rest.
    features = [feature(number) for number in range(1, 5001)]
    output = parse_wfs(spider, wfs_response(spider, first.cb_kwargs["page"], features))
    assert len(of_kind(output, TramiteItem)) == 5000
    assert wfs_requests(output) == []


def test_a_first_page_before_the_count_waits_for_it(make_spider):
    spider = make_spider()
    request, first = spider.opening_requests()
    output = parse_wfs(spider, wfs_response(spider, first.cb_kwargs["page"], [feature(1)]))
    assert len(of_kind(output, TramiteItem)) == 1
    assert wfs_requests(output) == []
    body = b'<wfs:FeatureCollection numberMatched="3" numberReturned="0"/>'
    output = spider.parse_count(TextResponse(request.url, body=body, request=request))
    # One feature of the 5,000 asked: the server caps pages; the rest at its size.
    assert starts(output) == [("1", "1"), ("2", "1")]


def test_without_asking_the_count_the_first_page_alone(make_spider, project_spider):
    spider = project_spider({}, LAPAZ_WFS_HITS=False, **SETTINGS)
    (first,) = spider.opening_requests()
    assert first.cb_kwargs["page"] == PageRequest(0, 5000, planned=False, opening=True)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b"<html>error</html>"),
        (200, b"<ows:ExceptionReport><ows:Exception/></ows:ExceptionReport>"),
        (200, b'<wfs:FeatureCollection numberMatched="unknown"/>'),
    ],
)
def test_no_count_means_paging_on_from_the_first_page(make_spider, status, body):
    spider = make_spider()
    request, first = spider.opening_requests()
    response = TextResponse(request.url, status=status, body=body, request=request)
    assert spider.parse_count(response) == []
    features = [feature(number) for number in range(1, 5001)]
    output = parse_wfs(spider, wfs_response(spider, first.cb_kwargs["page"], features))
    assert [r.cb_kwargs["page"] for r in wfs_requests(output)] == [PageRequest(5000, 5000)]
