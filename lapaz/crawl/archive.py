"""The WARC archive: every answer the site gave, as it was received, and where records come from.

`WarcArchiveMiddleware` writes a `response` and a `request` record for every answer to
`<LAPAZ_DATA_DIR>/archivo/lapaz-<run start, UTC>.warc.gz`, one gzip member per record, both
records of an answer written and flushed at once, so that a run killed at any point leaves a
file readable up to its last whole answer. It sits next to the downloader (above
HttpCompressionMiddleware and the retry middleware), so it sees bodies still compressed,
headers as sent, and every answer a retry replaces. It notes on the request's meta when the
answer came and which record holds it; `provenance(response)` gives the callbacks those
fields for their records.
"""

import logging
import zlib
from datetime import UTC, datetime
from http import HTTPStatus
from importlib.metadata import version
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from lapaz.crawl import statkeys
from lapaz.i18n import _
from lapaz.records.schema import PROVENANCE_FIELDS
from lapaz.storage.files import ARCHIVE_DIR, ARCHIVE_SUFFIX

logger = logging.getLogger(__name__)

FILE_PREFIX = "lapaz-"
FILE_SUFFIX = ARCHIVE_SUFFIX
# request.meta key of {"fecha_consulta", "warc_archivo", "warc_registro"} of the latest answer.
META_KEY = "lapaz_archivo"
# Twisted has already undone the chunking of the body: a reader told the body is chunked
# would try to undo it again.
DROPPED_RESPONSE_HEADERS = {"transfer-encoding"}


def iso_utc(moment: datetime) -> str:
    """`2026-12-04T01:17:00Z`: the form of WARC-Date (WARC/1.0), and of `fecha_consulta`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def open_new_warc(directory: Path, started: datetime):
    """A new file named by the run's start, `-2`, `-3`... if another run took that name.

    Returns (path, binary stream). Created exclusively: two runs never share a file.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stem = FILE_PREFIX + started.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    attempt = 1
    while True:
        path = directory / f"{stem}{'' if attempt == 1 else f'-{attempt}'}{FILE_SUFFIX}"
        try:
            return path, path.open("xb")
        except FileExistsError:
            attempt += 1


def header_pairs(headers) -> list[tuple[str, str]]:
    """Scrapy's Headers (bytes, several values a name) as (name, value) text pairs."""
    pairs = []
    for name, values in headers.items():
        text_name = name.decode("latin-1")
        pairs += [(text_name, value.decode("latin-1")) for value in values]
    return pairs


def status_line(status: int) -> str:
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:  # a status the standard does not name
        return str(status)


# zlib's default level, not warcio's 9: half the CPU time on a page of the WFS layer
# (megabytes of GeoJSON), for a file a few per cent larger.
COMPRESSION_LEVEL = 6


class GzipMembersWriter(WARCWriter):
    """warcio's WARC writer, each record one gzip member at COMPRESSION_LEVEL, and the
    records of one call (an answer's response and request) written and flushed together."""

    def __init__(self, stream):
        super().__init__(stream, gzip=False)

    def write_record(self, record, params=None) -> None:
        self._write_members([record])

    def _do_write_req_resp(self, req, resp, params) -> None:
        self._write_members([resp, req])

    def _write_members(self, records) -> None:
        members = []
        for record in records:
            buffer = BytesIO()
            self._write_warc_record(buffer, record)
            compressor = zlib.compressobj(COMPRESSION_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS | 16)
            members += [compressor.compress(buffer.getvalue()), compressor.flush()]
        self.out.write(b"".join(members))
        self.out.flush()


def write_warcinfo(writer: WARCWriter, file_name: str) -> None:
    info = {
        "software": f"lapaz (Scrapy {scrapy.__version__}, warcio {version('warcio')})",
        "format": "WARC File Format 1.0",
        "description": "Answers of the La Paz permit site (WFS layer and permit pages)",
    }
    writer.write_record(writer.create_warcinfo_record(file_name, info))


def write_exchange(
    writer: WARCWriter,
    *,
    url: str,
    date: str,
    method: str,
    request_headers: list[tuple[str, str]],
    request_body: bytes,
    status: int,
    response_headers: list[tuple[str, str]],
    body: bytes,
    protocol: str = "HTTP/1.1",
    ip_address: str | None = None,
) -> str:
    """Write one answer: its `response` record, then the `request` record concurrent to it.

    Returns the response record's WARC-Record-ID.
    """
    warc_headers = {"WARC-Date": date}
    if ip_address:
        warc_headers["WARC-IP-Address"] = ip_address
    kept = [(k, v) for k, v in response_headers if k.lower() not in DROPPED_RESPONSE_HEADERS]
    response = writer.create_warc_record(
        url,
        "response",
        payload=BytesIO(body),
        length=len(body),
        warc_headers_dict=warc_headers,
        http_headers=StatusAndHeaders(status_line(status), kept, protocol=protocol),
    )
    target = urlsplit(url)
    if not any(name.lower() == "host" for name, _ in request_headers):
        request_headers = [("Host", target.netloc), *request_headers]
    path = target.path or "/"
    request_line = f"{method} {path}{'?' + target.query if target.query else ''} {protocol}"
    request = writer.create_warc_record(
        url,
        "request",
        payload=BytesIO(request_body),
        length=len(request_body),
        warc_headers_dict={"WARC-Date": date},
        http_headers=StatusAndHeaders(request_line, request_headers, is_http_request=True),
    )
    # Writes the response, then the request with WARC-Concurrent-To naming it.
    writer.write_request_response_pair(request, response)
    return response.rec_headers.get_header("WARC-Record-ID")


def provenance(response=None) -> dict[str, str | None]:
    """`fecha_consulta`, `warc_archivo` and `warc_registro` of the answer a record comes from.

    What the archive middleware noted for the response; without it (no response, or a
    response that did not come through the downloader), now, and no WARC record.
    """
    return request_provenance(getattr(response, "request", None))


def request_provenance(request=None) -> dict[str, str | None]:
    """The same, from the request: a retry carries what its last answer noted."""
    answer = request.meta.get(META_KEY) if request is not None else None
    if answer is not None:
        return {name: answer.get(name) for name in PROVENANCE_FIELDS}
    return {**dict.fromkeys(PROVENANCE_FIELDS), "fecha_consulta": iso_utc(datetime.now(UTC))}


def tramite_provenance(response=None) -> dict[str, str | None]:
    """What a `tramites` record carries of its WFS page's answer: its time."""
    return {"fecha_consulta": provenance(response)["fecha_consulta"]}


class WarcArchiveMiddleware:
    """Archives every answer (unless LAPAZ_ARCHIVE is off) and notes its time on the request.

    Holds nothing but the open file: each answer is written as it arrives.
    """

    def __init__(self, crawler):
        settings = crawler.settings
        self.stats = crawler.stats
        self.enabled = settings.getbool("LAPAZ_ARCHIVE")
        self.directory = Path(settings["LAPAZ_DATA_DIR"]) / ARCHIVE_DIR
        self.started = datetime.now(UTC)
        self.path: Path | None = None
        self._stream = None
        self._writer: WARCWriter | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _open(self) -> WARCWriter:
        # Opened at the first answer: a run that fails before asking anything leaves no file.
        if self._writer is None:
            self.path, self._stream = open_new_warc(self.directory, self.started)
            self._writer = GzipMembersWriter(self._stream)
            write_warcinfo(self._writer, self.path.name)
            self.stats.set_value(statkeys.ARCHIVE_FILE, self.path.name)
            logger.info(_("Archiving every answer to %s"), self.path)
        return self._writer

    def process_response(self, request, response):
        date = iso_utc(datetime.now(UTC))
        answer = {"fecha_consulta": date, "warc_archivo": None, "warc_registro": None}
        if self.enabled and "cached" not in response.flags:
            answer.update(self._archive(request, response, date))
        request.meta[META_KEY] = answer
        return response

    def _archive(self, request, response, date: str) -> dict:
        try:
            record_id = write_exchange(
                self._open(),
                url=response.url,
                date=date,
                method=request.method,
                request_headers=header_pairs(request.headers),
                request_body=request.body,
                status=response.status,
                response_headers=header_pairs(response.headers),
                body=response.body,
                protocol=response.protocol or "HTTP/1.1",
                ip_address=str(response.ip_address) if response.ip_address else None,
            )
        except OSError as error:
            # Records after this carry no WARC reference rather than a wrong one.
            logger.error(_("The archive cannot be written (%s); archiving stops"), error)
            self.stats.inc_value(statkeys.ARCHIVE_WRITE_ERRORS)
            self.enabled = False
            return {}
        self.stats.inc_value(statkeys.ARCHIVE_RESPONSES)
        return {"warc_archivo": self.path.name, "warc_registro": record_id}

    def spider_closed(self):
        if self._stream is not None:
            self._stream.close()
            logger.info(
                _("Archive: %d answers in %s"),
                self.stats.get_value(statkeys.ARCHIVE_RESPONSES, 0),
                self.path,
            )
            self._stream = self._writer = None
