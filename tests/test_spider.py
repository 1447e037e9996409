"""The spider's callbacks, called directly with saved responses."""

from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.test import get_crawler

from lapaz.items import DetalleItem, TramiteItem
from lapaz.spiders.tramites import TramitesSpider
from lapaz.wfs import PageRequest
from tests.crawl import project_settings
from tests.test_pages import saved

SETTINGS = {
    "LAPAZ_WFS_URL": "http://wfs.test/ows",
    "LAPAZ_DETALLE_URL": "http://pages.test/pc/",
}


def make_spider(**arguments):
    crawler = get_crawler(TramitesSpider, project_settings(**SETTINGS))
    crawler.spider = TramitesSpider.from_crawler(crawler, **arguments)
    return crawler.spider


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
    request = spider.wfs_request(page, "first")
    return TextResponse(request.url, body=body, request=request)


def query(request):
    return {key: values[0] for key, values in parse_qs(urlsplit(request.url).query).items()}


def test_first_page_plans_the_rest_with_order_and_filter():
    spider = make_spider(macrodistrito="sur")
    page = PageRequest(0, 2)
    response = wfs_response(spider, page, [feature(1), feature(2)], numberMatched=5)
    output = list(spider.parse_wfs_page(response, page, "first"))
    pages = [o for o in output if isinstance(o, Request) and "ows" in o.url]
    assert [(query(r)["startIndex"], query(r)["count"]) for r in pages] == [("2", "2"), ("4", "1")]
    assert {query(r)["sortBy"] for r in pages} == {"idPCTramite"}
    assert {query(r)["CQL_FILTER"] for r in pages} == {"macroDistrito = 'V - SUR'"}
    assert sum(isinstance(o, TramiteItem) for o in output) == 2
    detail = [o for o in output if isinstance(o, Request) and "pages.test" in o.url]
    assert len(detail) == 2
    assert detail[0].cb_kwargs["permit"]["identificador"] in detail[0].url


def test_paging_without_a_total_stops_when_the_server_repeats_itself():
    spider = make_spider()
    first = PageRequest(0, 2)
    output = list(
        spider.parse_wfs_page(wfs_response(spider, first, [feature(1), feature(2)]), first, "first")
    )
    (next_page,) = [o for o in output if isinstance(o, Request) and "ows" in o.url]
    assert next_page.cb_kwargs["role"] == "follow"
    second = next_page.cb_kwargs["page"]
    repeated = wfs_response(spider, second, [feature(1), feature(2)])
    assert not [
        o for o in spider.parse_wfs_page(repeated, second, "follow") if isinstance(o, Request)
    ]


def test_features_without_an_id_are_all_counted():
    spider = make_spider()
    anonymous = [{"type": "Feature", "geometry": None, "properties": {"resultado": "X"}}] * 3
    page = PageRequest(0, 10)
    list(
        spider.parse_wfs_page(wfs_response(spider, page, anonymous, numberMatched=3), page, "first")
    )
    assert spider.received == 3


@pytest.mark.parametrize(
    ("name", "error", "has_data"),
    [
        ("permiso_completo.html", None, True),
        ("rechazada.html", "rechazada", False),
    ],
)
def test_parse_detalle(name, error, has_data):
    spider = make_spider()
    permit = {"id_pc_tramite": 1, "identificador": "X", "url": "http://pages.test/pc/?X"}
    response = HtmlResponse(permit["url"], body=saved(name), request=Request(permit["url"]))
    (item,) = spider.parse_detalle(response, permit)
    assert isinstance(item, DetalleItem)
    assert item["error"] == error
    assert bool(item["secciones"]) is has_data


def test_a_page_without_sections_is_retried_before_it_is_recorded():
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


def test_the_count_first_then_every_page_at_once():
    spider = make_spider(limite=12000)
    request = spider.hits_request()
    assert query(request)["resultType"] == "hits"
    body = orjson.dumps({"type": "FeatureCollection", "features": [], "numberMatched": 13907})
    output = list(spider.parse_hits(TextResponse(request.url, body=body, request=request)))
    starts = [(query(r)["startIndex"], query(r)["count"]) for r in output]
    assert starts == [("0", "5000"), ("5000", "5000"), ("10000", "2000")]
    assert {r.cb_kwargs["role"] for r in output} == {"planned"}
    assert spider.number_matched == 13907


def test_no_count_means_paging_from_the_first_page():
    spider = make_spider()
    request = spider.hits_request()
    response = TextResponse(request.url, body=b"<html>error</html>", request=request)
    (first,) = spider.parse_hits(response)
    assert first.cb_kwargs["role"] == "first"
    assert query(first)["startIndex"] == "0"


def test_page_requests_are_made_a_window_at_a_time():
    spider = make_spider()
    spider.page_window = 4
    page = PageRequest(0, 100)
    features = [feature(number) for number in range(1, 101)]
    response = wfs_response(spider, page, features, numberMatched=100)
    output = list(spider.parse_wfs_page(response, page, "first"))
    requests = [o for o in output if isinstance(o, Request)]
    assert len(requests) == 4
    assert len(spider.pending_pages) == 96
    assert spider.crawler.stats.get_value("lapaz/detalles/planned") == 100

    done = requests[0]
    page_response = HtmlResponse(done.url, body=saved("permiso_completo.html"), request=done)
    item, refill = spider.parse_detalle(page_response, **done.cb_kwargs)
    assert isinstance(item, DetalleItem)
    assert isinstance(refill, Request)
    assert len(spider.pending_pages) == 95
