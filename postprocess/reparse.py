"""Rebuild the page records of `detalles.jsonl` from the archive, without asking the site.

    python -m postprocess.reparse [--data-dir data]

For each record whose page has an answer in `archivo/*.warc.gz` (the latest by WARC-Date,
across every run's file), the record's page fields (`error`, provenance, page keys) are
made again from that answer with the current parser, as a crawl would make them; records of
pages that never got an answer stay as they are. The file is replaced atomically and the
previous one kept beside it as `detalles.jsonl.anterior`. Takes the data folder's lock: it
does not run while a crawl writes there.
"""

import argparse
import fcntl
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from scrapy.http import Headers, Response, TextResponse
from scrapy.responsetypes import responsetypes
from w3lib.url import safe_url_string
from warcio.archiveiterator import ArchiveIterator

from lapaz.crawl.archive import ARCHIVE_DIR, FILE_SUFFIX
from lapaz.i18n import _
from lapaz.permits.page import page_fields, parse_permit_page
from lapaz.records.schema import DETALLE_FIELDS
from lapaz.storage.jsonl import JsonLinesError, read_jsonl
from lapaz.storage.store import DETALLES_FILE, LOCK_FILE

logger = logging.getLogger(__name__)

PREVIOUS_SUFFIX = ".anterior"
# The fields of a page record that say which permit it is; the rest comes from the answer.
PERMIT_FIELDS = DETALLE_FIELDS[: DETALLE_FIELDS.index("error")]
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
READ_BLOCK = 1 << 16


class ReparseError(Exception):
    """Why re-parsing cannot run; the message is one line."""


@dataclass(frozen=True, order=True)
class ArchivedAnswer:
    """Where a response record is: ordered by its date, then by where it was written."""

    date: str
    file_order: int
    offset: int
    path: Path
    record_id: str


def warc_files(data_dir: Path) -> list[Path]:
    """The archive's files in the order runs wrote them (their names start with the time)."""
    return sorted((data_dir / ARCHIVE_DIR).glob(f"*{FILE_SUFFIX}"))


def is_whole(record) -> bool:
    """Whether a record read to its end was all there: its length given and met, digests right.

    warcio reads a gzip member cut short without complaint; what tells is a record with
    no length, content short of its length, or a digest that fails.
    """
    declared = record.rec_headers.get_header("Content-Length") or ""
    if not declared.strip().isdigit():
        return False
    # (A record without content has no limit to its stream.)
    if getattr(record.raw_stream, "limit", 0) > 0:
        return False
    return record.digest_checker.passed is not False


def whole_records(stream, name: str) -> Iterator[tuple[int, object]]:
    """(offset, record) of every whole record, headers only: the content is read to check it.

    A record cut off by a killed run ends the file, with a warning.
    """
    records = ArchiveIterator(stream, check_digests=True)
    try:
        for record in records:
            while record.raw_stream.read(READ_BLOCK):
                pass
            if not is_whole(record):
                logger.warning("%s ends in an incomplete record (interrupted run?)", name)
                return
            yield records.get_record_offset(), record
    except Exception as error:  # a torn record fails in warcio in many ways
        logger.warning("%s ends in an unreadable record (interrupted run?): %s", name, error)


def latest_answers(files: list[Path], urls: set[str]) -> dict[str, ArchivedAnswer]:
    """For each of `urls`, its latest response record in `files`, final answers only."""
    latest: dict[str, ArchivedAnswer] = {}
    for order, path in enumerate(files):
        with path.open("rb") as stream:
            for offset, record in whole_records(stream, str(path)):
                if record.rec_type != "response":
                    continue
                url = safe_url_string(record.rec_headers.get_header("WARC-Target-URI") or "")
                status = record.http_headers.get_statuscode() if record.http_headers else ""
                # A redirect is not the page: its target, archived under its own URL, is.
                if url not in urls or not status.isdigit() or int(status) in REDIRECT_STATUSES:
                    continue
                headers = record.rec_headers
                answer = ArchivedAnswer(
                    headers.get_header("WARC-Date") or "",
                    order,
                    offset,
                    path,
                    headers.get_header("WARC-Record-ID"),
                )
                if url not in latest or latest[url] < answer:
                    latest[url] = answer
    return latest


def read_answer(answer: ArchivedAnswer) -> Response:
    """The archived answer as Scrapy would hand it to the spider: body decoded, same class."""
    with answer.path.open("rb") as stream:
        stream.seek(answer.offset)
        record = next(iter(ArchiveIterator(stream)))
        url = record.rec_headers.get_header("WARC-Target-URI")
        status = int(record.http_headers.get_statuscode())
        # content_stream() undoes the Content-Encoding (gzip, deflate, br) as the crawl did.
        body = record.content_stream().read()
        headers = Headers()
        for name, value in record.http_headers.headers:
            if name.lower() != "content-encoding":
                headers.appendlist(name, value)
    response_class = responsetypes.from_args(headers=headers, url=url, body=body)
    return response_class(url=url, status=status, headers=headers, body=body)


def answer_fields(response: Response) -> dict:
    """`error` and the page keys a crawl gives the record of this answer.

    Any status but 2xx is an HTTP error (after its retries); else the page as parsed.
    """
    if not 200 <= response.status < 300:
        return {"error": f"http_{response.status}"}
    body = response.text if isinstance(response, TextResponse) else response.body
    try:
        return page_fields(parse_permit_page(body))
    except Exception as error:  # as the crawl does: the record says why
        return {"error": f"{type(error).__name__}: {error}"}


def rebuilt_record(record: dict, answer: ArchivedAnswer, response: Response) -> dict:
    """The record a crawl writes for this answer, keys in the crawl's order."""
    fields = answer_fields(response)
    return {
        **{name: record.get(name) for name in PERMIT_FIELDS},
        "error": fields.pop("error"),
        "fecha_consulta": answer.date,
        "warc_archivo": answer.path.name,
        "warc_registro": answer.record_id,
        **fields,
    }


@dataclass
class ReparseResult:
    records: list[dict]
    rebuilt: int
    changed: int


def reparse(records: list[dict], files: list[Path]) -> ReparseResult:
    """The records, each with an archived answer rebuilt from it; the others as they are."""
    urls = {safe_url_string(record["url"]) for record in records if record.get("url")}
    latest = latest_answers(files, urls)
    result = ReparseResult([], 0, 0)
    for record in records:
        answer = latest.get(safe_url_string(record["url"])) if record.get("url") else None
        if answer is None:
            result.records.append(record)
            continue
        new = rebuilt_record(record, answer, read_answer(answer))
        result.rebuilt += 1
        # Key order counts: the file must be what a crawl writes.
        result.changed += list(new.items()) != list(record.items())
        result.records.append(new)
    return result


def replace_keeping_previous(path: Path, records: list[dict]) -> Path:
    """Write `records` to `path` atomically; the previous file stays as `<path>.anterior`."""
    fresh = path.with_name(path.name + ".reparse")
    with fresh.open("wb") as stream:
        for record in records:
            stream.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        stream.flush()
        os.fsync(stream.fileno())
    previous = path.with_name(path.name + PREVIOUS_SUFFIX)
    # A hard link, then a rename: at every moment both names hold a whole file.
    link = previous.with_name(previous.name + ".tmp")
    link.unlink(missing_ok=True)
    os.link(path, link)
    os.replace(link, previous)
    os.replace(fresh, path)
    return previous


def lock_data_dir(data_dir: Path):
    """The crawl's lock on the data folder, held until the returned file is closed."""
    try:
        lock = (data_dir / LOCK_FILE).open("a")
    except OSError as error:
        raise ReparseError(
            _("{path}: cannot lock ({why})").format(path=data_dir, why=error.strerror or error)
        ) from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise ReparseError(
            _("a crawl is writing to {path}: wait for it to end").format(path=data_dir)
        ) from None
    return lock


def run(data_dir: Path) -> str:
    """Re-parse the data folder's pages; what was done, as a line for a person."""
    path = data_dir / DETALLES_FILE
    files = warc_files(data_dir)
    if not files:
        raise ReparseError(
            _("{path}: no archive (*{suffix}) to re-parse").format(
                path=data_dir / ARCHIVE_DIR, suffix=FILE_SUFFIX
            )
        )
    with lock_data_dir(data_dir):
        try:
            content = read_jsonl(path)
        except JsonLinesError as error:
            raise ReparseError(str(error)) from None
        for warning in content.warnings:
            logger.warning(warning)
        result = reparse(content.records, files)
        previous = replace_keeping_previous(path, result.records)
    return _(
        "Rebuilt {rebuilt} of {records} page records from"
        " {files} archive files; {changed} changed. Previous file: {previous}"
    ).format(
        rebuilt=result.rebuilt,
        records=len(result.records),
        files=len(files),
        changed=result.changed,
        previous=previous,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m postprocess.reparse",
        description=_(
            "Rebuild the page records (detalles.jsonl) from the archived answers (archivo/),"
            " after a change of the page parser; the previous file is kept beside it."
        ),
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        help=_("folder of detalles.jsonl and archivo/"),
    )
    args = parser.parse_args(argv)
    logging.basicConfig(format=_("warning: {why}").format(why="%(message)s"), level=logging.WARNING)
    try:
        print(run(args.data_dir))
    except ReparseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
