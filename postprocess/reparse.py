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
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from w3lib.url import safe_url_string
from warcio.archiveiterator import ArchiveIterator

from lapaz.i18n import _
from lapaz.permits.page import PageAnswer, page_record, permit_fields, read_answer
from lapaz.storage.files import ARCHIVE_DIR, ARCHIVE_SUFFIX, atomic_file, lock_folder
from lapaz.storage.jsonl import JsonLinesError, read_jsonl
from lapaz.storage.previous import DETALLES_FILE

logger = logging.getLogger(__name__)

PREVIOUS_SUFFIX = ".anterior"
FILE_SUFFIX = ARCHIVE_SUFFIX
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
                logger.warning(_("%s ends in an incomplete record (interrupted run?)"), name)
                return
            yield records.get_record_offset(), record
    except Exception as error:  # a torn record fails in warcio in many ways
        logger.warning(_("%s ends in an unreadable record (interrupted run?): %s"), name, error)


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


def archived_answer(answer: ArchivedAnswer) -> PageAnswer:
    """What the archived answer says, read as the crawl read it (lapaz.permits.page)."""
    with answer.path.open("rb") as stream:
        stream.seek(answer.offset)
        record = next(iter(ArchiveIterator(stream)))
        status = int(record.http_headers.get_statuscode())
        content_type = record.http_headers.get_header("Content-Type")
        # content_stream() undoes the Content-Encoding (gzip, deflate, br) as the crawl did.
        body = record.content_stream().read()
    return read_answer(status, body, content_type)


def rebuilt_record(record: dict, answer: ArchivedAnswer, page: PageAnswer) -> dict:
    """The record a crawl writes for this answer, keys in the crawl's order."""
    permit = permit_fields(
        *(record.get(name) for name in ("id_pc_tramite", "codigo_catastral", "numero_tramite")),
        record.get("anio"),
        record.get("identificador"),
        record.get("url"),
    )
    origin = {
        "fecha_consulta": answer.date,
        "warc_archivo": answer.path.name,
        "warc_registro": answer.record_id,
    }
    return page_record(permit, page.fields, origin)


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
        new = rebuilt_record(record, answer, archived_answer(answer))
        result.rebuilt += 1
        # Key order counts: the file must be what a crawl writes.
        result.changed += list(new.items()) != list(record.items())
        result.records.append(new)
    return result


def replace_keeping_previous(path: Path, records: list[dict]) -> Path:
    """Write `records` to `path` atomically; the previous file stays as `<path>.anterior`."""
    previous = path.with_name(path.name + PREVIOUS_SUFFIX)
    # A hard link, then a rename: at every moment both names hold a whole file.
    link = previous.with_name(previous.name + ".tmp")
    link.unlink(missing_ok=True)
    os.link(path, link)
    os.replace(link, previous)
    with atomic_file(path) as stream:
        for record in records:
            stream.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
    return previous


def lock_data_dir(data_dir: Path):
    """The crawl's lock on the data folder, held until the returned file is closed."""
    try:
        return lock_folder(data_dir)
    except OSError as error:
        raise ReparseError(str(error)) from None


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
        print(_("error: {why}").format(why=error), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
