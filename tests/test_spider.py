"""The spider's callbacks, called directly with saved responses."""

from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse

from lapaz.items import DetalleItem, TramiteItem
from lapaz.layer.paging import PageRequest
from tests.test_pages import saved

SETTINGS = {
    "LAPAZ_WFS_URL": "http://wfs.test/ows",
    "LAPAZ_DETALLE_URL": "http://pages.test/pc/",
}


class EngineStandIn:
    """What the spider asks of the engine: take requests."""

    def __init__(self):
        self.crawled = []

    def crawl(self, request):
        self.crawled.append(request)


@pytest.fixture
def make_spider(project_spider):
    def make(**arguments):
        spider = project_spider(arguments, **SETTINGS)
        spider.crawler.engine = EngineStandIn()
        return spider

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


def query(request):
    return {key: values[0] for key, values in parse_qs(urlsplit(request.url).query).items()}


def test_first_page_plans_the_rest_with_order_and_filter(make_spider):
    spider = make_spider(macrodistrito="sur")
    page = PageRequest(0, 2)
    response = wfs_response(spider, page, [feature(1), feature(2)], numberMatched=5)
    output = list(spider.parse_wfs_page(response, **response.request.cb_kwargs))
    pages = [o for o in output if isinstance(o, Request)]
    assert [(query(r)["startIndex"], query(r)["count"]) for r in pages] == [("2", "2"), ("4", "1")]
    assert {query(r)["sortBy"] for r in pages} == {"idPCTramite"}
    assert {query(r)["CQL_FILTER"] for r in pages} == {"macroDistrito = 'V - SUR'"}
    assert sum(isinstance(o, TramiteItem) for o in output) == 2
    # permits wait for their page as small records, handed over when the scheduler is dry
    assert len(spider.pending_pages) == 2
    assert spider.hand_pages() == 2
    detail = spider.crawler.engine.crawled
    assert [urlsplit(r.url).netloc for r in detail] == ["pages.test", "pages.test"]
    assert detail[0].cb_kwargs["permit"]["identificador"] in detail[0].url


def test_paging_without_a_total_stops_when_the_server_repeats_itself(make_spider):
    spider = make_spider()
    first = wfs_response(spider, PageRequest(0, 2), [feature(1), feature(2)])
    (next_page,) = [
        o for o in spider.parse_wfs_page(first, **first.request.cb_kwargs) if isinstance(o, Request)
    ]
    assert next_page.cb_kwargs["page"] == PageRequest(2, 5000, planned=False)
    repeated = wfs_response(spider, next_page.cb_kwargs["page"], [feature(1), feature(2)])
    assert not [
        o
        for o in spider.parse_wfs_page(repeated, **repeated.request.cb_kwargs)
        if isinstance(o, Request)
    ]


def test_features_without_an_id_are_all_counted(make_spider):
    spider = make_spider()
    # The properties the crawl needs are there (null), or the layer guard would stop.
    properties = dict.fromkeys(["codigoCatastral", "NumeroTramite", "fechaRegistro"])
    anonymous = [
        {"type": "Feature", "geometry": None, "properties": {**properties, "resultado": "X"}}
    ] * 3
    response = wfs_response(spider, PageRequest(0, 10), anonymous, numberMatched=3)
    list(spider.parse_wfs_page(response, **response.request.cb_kwargs))
    assert spider.harvest.features_received == 3


def test_records_are_final_when_the_spider_yields_them(make_spider):
    spider = make_spider()
    response = wfs_response(spider, PageRequest(0, 10), [feature(7)], numberMatched=1)
    (record,) = [
        o
        for o in spider.parse_wfs_page(response, **response.request.cb_kwargs)
        if isinstance(o, TramiteItem)
    ]
    assert list(record)[:3] == ["id_pc_tramite", "descripcion", "id_tipo_tramite"]
    assert record["codigo_catastral"] == "044104900070000"
    assert (record["latitude"], record["longitude"]) == (-16.5, -68.1)


@pytest.mark.parametrize(
    ("name", "error", "has_data"),
    [
        ("permiso_completo.html", None, True),
        ("rechazada.html", "rechazada", False),
    ],
)
def test_parse_detalle(make_spider, name, error, has_data):
    spider = make_spider()
    permit = {"id_pc_tramite": 1, "identificador": "X", "url": "http://pages.test/pc/?X"}
    response = HtmlResponse(permit["url"], body=saved(name), request=Request(permit["url"]))
    (item,) = spider.parse_detalle(response, permit)
    assert isinstance(item, DetalleItem)
    assert item["error"] == error
    assert any(key.startswith("gral__") for key in item) is has_data


def test_a_page_without_sections_is_retried_before_it_is_recorded(make_spider):
    spider = make_spider()
    permit = {"id_pc_tramite": 1, "identificador": "X", "url": "http://pages.test/pc/?X"}
    request = Request(permit["url"], cb_kwargs={"permit": permit})
    response = HtmlResponse(permit["url"], body=saved("sin_secciones.html"), request=request)
    (retry,) = spider.parse_detalle(response, permit)
    assert isinstance(retry, Request)
    assert retry.meta["retry_times"] == 1
    exhausted = request.replace(meta={"retry_times": 99})
    response = HtmlResponse(permit["url"], body=saved("sin_secciones.html"), request=exhausted)
    (item,) = spider.parse_detalle(response, permit)
    assert item["error"] == "sin_secciones"


def test_the_count_first_then_every_page_at_once(make_spider):
    spider = make_spider(limite=12000)
    request = spider.count_request()
    assert query(request)["resultType"] == "hits"
    assert request.meta["dont_retry"], "the count is asked once"
    body = b'<wfs:FeatureCollection numberMatched="13907" numberReturned="0"/>'
    output = list(spider.parse_count(TextResponse(request.url, body=body, request=request)))
    starts = [(query(r)["startIndex"], query(r)["count"]) for r in output]
    assert starts == [("0", "5000"), ("5000", "5000"), ("10000", "2000")]
    assert {r.cb_kwargs["page"].planned for r in output} == {True}
    assert spider.harvest.number_matched == 13907
    assert spider.harvest.expected == 12000


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b"<html>error</html>"),
        (200, b"<ows:ExceptionReport><ows:Exception/></ows:ExceptionReport>"),
        (200, b'<wfs:FeatureCollection numberMatched="unknown"/>'),
    ],
)
def test_no_count_means_paging_from_the_first_page(make_spider, status, body):
    spider = make_spider()
    request = spider.count_request()
    response = TextResponse(request.url, status=status, body=body, request=request)
    (first,) = spider.parse_count(response)
    assert first.cb_kwargs["page"] == PageRequest(0, 5000, planned=False)


def test_pages_are_handed_a_batch_at_a_time(make_spider):
    spider = make_spider()
    response = wfs_response(
        spider, PageRequest(0, 100), [feature(n) for n in range(1, 101)], numberMatched=100
    )
    list(spider.parse_wfs_page(response, **response.request.cb_kwargs))
    assert len(spider.pending_pages) == 100
    assert spider.crawler.stats.get_value("lapaz/detalles/planned") == 100
    batch = spider.crawler.settings.getint("CONCURRENT_REQUESTS")
    assert spider.hand_pages() == batch
    assert len(spider.pending_pages) == 100 - batch
