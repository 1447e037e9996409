"""The WARC archive: files warcio reads back, one response per answer, provenance in records."""

import gzip
import subprocess
import sys
import zlib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler
from warcio.archiveiterator import ArchiveIterator

from lapaz.crawl.archive import (
    META_KEY,
    GzipMembersWriter,
    WarcArchiveMiddleware,
    open_new_warc,
    provenance,
    tramite_provenance,
    write_exchange,
)
from lapaz.records.schema import PROVENANCE_FIELDS
from postprocess.reparse import whole_records
from tests.crawl import kill_when, pages_written, run_crawl, warc_records
from tests.test_reliability import FAST_RETRIES
from tools.replica import Fault, ReplicaConfig, ReplicaServer

PAGE = b"<html><body><h5>Datos Generales</h5><table><tr><td>Zona</td><td>Sur</td></tr></table>"
URL = "http://pages.test/pc/?MDQ0MTA0OTAwMDcwMDAwfDYxMTUzfDIwMjU="


def warcio_check(path: Path) -> subprocess.CompletedProcess:
    """warcio's own checker (digests and structure), as a user would run it."""
    command = [sys.executable, "-m", "warcio.cli", "check", "-v", str(path)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def write_one(path: Path, body: bytes, headers: list, status: int = 200) -> str:
    with path.open("ab") as stream:
        return write_exchange(
            GzipMembersWriter(stream),
            url=URL,
            date="2026-12-04T01:17:00Z",
            method="GET",
            request_headers=[("User-Agent", "Mozilla/5.0 test"), ("Accept-Encoding", "gzip")],
            request_body=b"",
            status=status,
            response_headers=headers,
            body=body,
        )


def test_an_exchange_is_a_response_and_a_request_record_warcio_reads(tmp_path):
    path = tmp_path / "x.warc.gz"
    compressed = gzip.compress(PAGE)
    headers = [
        ("Content-Type", "text/html;charset=UTF-8"),
        ("Content-Encoding", "gzip"),
        ("Transfer-Encoding", "chunked"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]
    record_id = write_one(path, compressed, headers)

    response, request = warc_records(path)
    assert response["type"] == "response"
    assert response["headers"]["WARC-Record-ID"] == record_id
    assert response["headers"]["WARC-Target-URI"] == URL
    assert response["headers"]["WARC-Date"] == "2026-12-04T01:17:00Z"
    assert response["headers"]["WARC-Payload-Digest"].startswith("sha1:")
    assert response["status"] == "200"
    assert response["body"] == PAGE, "stored compressed, as received; warcio decodes it"
    assert response["http_headers"]["Content-Encoding"] == "gzip"
    assert "Transfer-Encoding" not in response["http_headers"], "the body is not chunked"
    assert request["type"] == "request"
    assert request["headers"]["WARC-Concurrent-To"] == record_id
    assert request["http_headers"]["Host"] == "pages.test"
    assert request["http_headers"]["User-Agent"] == "Mozilla/5.0 test"
    checked = warcio_check(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "digest pass" in checked.stdout


def test_a_file_cut_anywhere_reads_up_to_its_last_whole_record(tmp_path):
    path = tmp_path / "x.warc.gz"
    bodies = [PAGE + str(number).encode() * 3000 for number in range(3)]
    ends = []
    for body in bodies:
        write_one(path, body, [("Content-Type", "text/html")])
        ends.append(path.stat().st_size)
    whole = path.read_bytes()
    for cut in range(ends[1] + 1, ends[2] - 8, 7):  # inside the third exchange
        path.write_bytes(whole[:cut])
        with path.open("rb") as stream:
            offsets = [offset for offset, _ in whole_records(stream, "x")]
        assert len(offsets) >= 4, f"cut at {cut}: the first two exchanges are whole"
        read_back = [answer_body(path, offset) for offset in offsets]
        assert [body for body in read_back if body] == bodies[: len(read_back[::2])], cut


class CountingStream:
    """A binary stream that notes what was written and when it was flushed."""

    def __init__(self):
        self.data, self.flushed_at = b"", []

    def write(self, data: bytes) -> None:
        self.data += data

    def flush(self) -> None:
        self.flushed_at.append(len(self.data))


def gzip_members(data: bytes) -> list[bytes]:
    members = []
    while data:
        decompressor = zlib.decompressobj(zlib.MAX_WBITS | 16)
        members.append(decompressor.decompress(data))
        assert decompressor.eof
        data = decompressor.unused_data
    return members


def test_each_record_is_a_gzip_member_and_an_answer_is_flushed_whole():
    stream = CountingStream()
    write_exchange(
        GzipMembersWriter(stream),
        url=URL,
        date="2026-12-04T01:17:00Z",
        method="GET",
        request_headers=[],
        request_body=b"",
        status=200,
        response_headers=[("Content-Type", "text/html")],
        body=PAGE,
    )
    response, request = gzip_members(stream.data)
    assert b"\r\nWARC-Type: response\r\n" in response
    assert response.endswith(PAGE + b"\r\n\r\n")
    assert b"\r\nWARC-Type: request\r\n" in request
    assert stream.flushed_at == [len(stream.data)], "both records, then one flush"


def answer_body(path: Path, offset: int) -> bytes:
    with path.open("rb") as stream:
        stream.seek(offset)
        return next(iter(ArchiveIterator(stream))).content_stream().read()


def test_two_runs_started_in_the_same_second_get_their_own_files(tmp_path):
    started = datetime(2026, 12, 4, 1, 17, tzinfo=UTC)
    first, stream_1 = open_new_warc(tmp_path, started)
    second, stream_2 = open_new_warc(tmp_path, started)
    stream_1.close()
    stream_2.close()
    assert first.name == "lapaz-20261204T011700Z.warc.gz"
    assert second.name == "lapaz-20261204T011700Z-2.warc.gz"


def middleware(tmp_path, **settings):
    crawler = get_crawler(settings_dict={"LAPAZ_DATA_DIR": str(tmp_path), **settings})
    return WarcArchiveMiddleware.from_crawler(crawler), crawler


def test_the_middleware_archives_each_answer_and_notes_it_on_the_request(tmp_path):
    archive, crawler = middleware(tmp_path, LAPAZ_ARCHIVE=True)
    request = Request(URL)
    for status in (503, 200):  # a retried request keeps the note of its latest answer
        response = HtmlResponse(URL, status=status, body=PAGE, request=request)
        assert archive.process_response(request, response) is response
        noted = dict(request.meta[META_KEY])
        assert provenance(response) == noted
    archive.spider_closed()

    (path,) = (tmp_path / "archivo").iterdir()
    responses = [record for record in warc_records(path) if record["type"] == "response"]
    assert [record["status"] for record in responses] == ["503", "200"]
    assert noted["warc_archivo"] == path.name
    assert noted["warc_registro"] == responses[-1]["headers"]["WARC-Record-ID"]
    assert noted["fecha_consulta"] == responses[-1]["headers"]["WARC-Date"]
    assert crawler.stats.get_value("lapaz/archive/responses") == 2


def test_with_the_archive_off_records_still_get_their_time(tmp_path):
    archive, _ = middleware(tmp_path, LAPAZ_ARCHIVE=False)
    request = Request(URL)
    response = HtmlResponse(URL, body=PAGE, request=request)
    archive.process_response(request, response)
    archive.spider_closed()

    assert not (tmp_path / "archivo").exists()
    noted = provenance(response)
    assert noted["warc_archivo"] is None
    assert noted["warc_registro"] is None
    assert datetime.strptime(noted["fecha_consulta"], "%Y-%m-%dT%H:%M:%SZ")
    assert tramite_provenance(response) == {"fecha_consulta": noted["fecha_consulta"]}


def test_provenance_without_an_archived_answer_is_now_and_no_record():
    before = datetime.now(UTC).replace(microsecond=0)
    noted = provenance(Response(URL))
    moment = datetime.strptime(noted["fecha_consulta"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= moment <= datetime.now(UTC)
    assert list(noted) == PROVENANCE_FIELDS
    assert provenance()["warc_registro"] is None


# -- Whole crawls ------------------------------------------------------------------------


def archived(data_dir: Path) -> list[dict]:
    return [
        record for path in sorted((data_dir / "archivo").iterdir()) for record in warc_records(path)
    ]


@pytest.mark.e2e
def test_one_response_record_per_answer_the_site_gave(tmp_path):
    # Some pages answer 500 twice before they heal, and are retried: each answer is kept.
    faults = [Fault("page", "status", status=500, fraction=0.3, times=2)]
    with ReplicaServer(ReplicaConfig(features=400, faults=faults)) as replica:
        result = run_crawl(replica, tmp_path / "data", **FAST_RETRIES)
        served = replica.stats.snapshot()
    assert result.returncode == 0, result.log[-3000:]
    assert served["faults"]["status"] > 0

    (path,) = (tmp_path / "data" / "archivo").iterdir()
    checked = warcio_check(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    records = warc_records(path)
    responses = [record for record in records if record["type"] == "response"]
    assert len(responses) == sum(served["requests"].values())
    by_url = Counter(record["headers"]["WARC-Target-URI"] for record in responses)
    for identifier, count in served["page_requests"].items():
        assert by_url[replica.detalle_url + "?" + identifier] == count
    assert Counter(record["status"] for record in responses)["500"] == served["faults"]["status"]
    requests = [record for record in records if record["type"] == "request"]
    assert {r["headers"]["WARC-Concurrent-To"] for r in requests} == {
        r["headers"]["WARC-Record-ID"] for r in responses
    }

    by_id = {record["headers"]["WARC-Record-ID"]: record for record in responses}
    pages = [record for record in result.detalles if record["url"]]
    for record in pages:
        answer = by_id[record["warc_registro"]]
        assert record["warc_archivo"] == path.name
        assert answer["headers"]["WARC-Target-URI"] == record["url"]
        assert answer["headers"]["WARC-Date"] == record["fecha_consulta"]
        assert answer["status"] == "200", "the latest answer, after the retries"
    wfs_dates = {
        r["headers"]["WARC-Date"] for r in responses if "/ows?" in r["headers"]["WARC-Target-URI"]
    }
    assert {record["fecha_consulta"] for record in result.tramites} <= wfs_dates


@pytest.mark.e2e
def test_a_crawl_without_archive_writes_none_and_still_dates_its_records(tmp_path):
    with ReplicaServer(ReplicaConfig(features=150)) as replica:
        result = run_crawl(replica, tmp_path / "data", LAPAZ_ARCHIVE=0)
    assert result.returncode == 0, result.log[-3000:]
    assert not (tmp_path / "data" / "archivo").exists()
    pages = [record for record in result.detalles if record["url"]]
    assert pages
    assert all(record["fecha_consulta"] and record["warc_registro"] is None for record in pages)
    assert all(record["fecha_consulta"] for record in result.tramites)


@pytest.mark.e2e
def test_a_crawl_killed_with_sigkill_leaves_every_whole_record_readable(tmp_path):
    data_dir = tmp_path / "data"
    with ReplicaServer(ReplicaConfig(features=1500, latency=0.02)) as replica:
        kill_when(
            replica,
            data_dir,
            lambda: pages_written(data_dir, 80),
            "the first pages",
            CONCURRENT_REQUESTS_PER_DOMAIN=4,
        )
        served = replica.stats.snapshot()

    (path,) = (data_dir / "archivo").iterdir()
    with path.open("rb") as stream:
        ids = {
            record.rec_headers.get_header("WARC-Record-ID")
            for _, record in whole_records(stream, str(path))
        }
    assert len(ids) <= 2 * sum(served["requests"].values()) + 1
    # Every page record written before the kill names a record of the archive, whole.
    detalles = data_dir / "detalles.jsonl"
    written = [line for line in detalles.read_bytes().splitlines() if b'"warc_registro":"' in line]
    assert len(written) >= 60
    for line in written:
        record_id = line.split(b'"warc_registro":"')[1].split(b'"')[0].decode()
        assert record_id in ids
