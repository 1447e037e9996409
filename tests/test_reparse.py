"""postprocess.reparse: page records rebuilt from the archive alone."""

import gzip
import logging
from pathlib import Path

import orjson
import pytest
from warcio.warcwriter import WARCWriter

from lapaz.crawl.archive import ARCHIVE_DIR, write_exchange
from lapaz.storage.files import LOCK_FILE
from lapaz.storage.store import DETALLES_FILE
from postprocess import reparse
from tests.crawl import run_crawl
from tests.test_reliability import FAST_RETRIES
from tools.replica import Fault, ReplicaConfig, ReplicaServer

URL = "http://pages.test/pc/?MDQ0MTA0OTAwMDcwMDAwfDYxMTUzfDIwMjU="
PAGE = (
    "<html><body><h5>Datos Generales</h5><table><tr><td>Zona Referencial</td><td>{}</td>"
    "</tr></table><h5>Otros datos</h5><table><tr><td>Tipo de Obra</td><td>NUEVA</td></tr>"
    "</table></body></html>"
)


def archive(data_dir: Path, name: str, answers: list[tuple[str, int, bytes, list]]) -> list[str]:
    """A WARC file of (date, status, body, headers) answers to URL; their record ids."""
    directory = data_dir / ARCHIVE_DIR
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / name).open("ab") as stream:
        writer = WARCWriter(stream, gzip=True)
        return [
            write_exchange(
                writer,
                url=URL,
                date=date,
                method="GET",
                request_headers=[],
                request_body=b"",
                status=status,
                response_headers=headers,
                body=body,
            )
            for date, status, body, headers in answers
        ]


def page_record(**fields) -> dict:
    return {
        "id_pc_tramite": 1,
        "codigo_catastral": "044104900070000",
        "numero_tramite": 61153,
        "anio": 2025,
        "identificador": URL.split("?")[1],
        "url": URL,
        "error": None,
        "fecha_consulta": None,
        "warc_archivo": None,
        "warc_registro": None,
        **fields,
    }


def write_detalles(data_dir: Path, records: list[dict]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    lines = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in records)
    (data_dir / DETALLES_FILE).write_bytes(lines)


def read_detalles(data_dir: Path, name: str = DETALLES_FILE) -> list[dict]:
    return [orjson.loads(line) for line in (data_dir / name).read_bytes().splitlines()]


HTML = [("Content-Type", "text/html;charset=UTF-8")]


def test_the_latest_answer_across_files_wins_by_date(tmp_path):
    # The file written later holds the older answer: the date decides, not the file.
    (newest,) = archive(tmp_path, "lapaz-b.warc.gz", [("2026-12-04T02:00:00Z", 200, b"", HTML)])
    archive(tmp_path, "lapaz-c.warc.gz", [("2026-12-04T01:00:00Z", 503, b"busy", HTML)])
    newest_body = gzip.compress(PAGE.format("Sur").encode())
    gzipped = [*HTML, ("Content-Encoding", "gzip")]
    (newest,) = archive(
        tmp_path, "lapaz-b.warc.gz", [("2026-12-04T03:00:00Z", 200, newest_body, gzipped)]
    )
    write_detalles(
        tmp_path, [page_record(error="http_503"), page_record(id_pc_tramite=2, url=None)]
    )

    message = reparse.run(tmp_path)

    rebuilt, untouched = read_detalles(tmp_path)
    assert rebuilt == {
        **page_record(),
        "fecha_consulta": "2026-12-04T03:00:00Z",
        "warc_archivo": "lapaz-b.warc.gz",
        "warc_registro": newest,
        "gral__zona_referencial": "Sur",
        "otro__tipo_de_obra": "NUEVA",
    }
    assert untouched == page_record(id_pc_tramite=2, url=None), "never answered: as it was"
    assert "Rebuilt 1 of 2" in message
    assert "1 changed" in message
    assert read_detalles(tmp_path, DETALLES_FILE + ".anterior")[0]["error"] == "http_503"


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (503, b"busy", {"error": "http_503"}),
        (404, b"", {"error": "http_404"}),
        (
            200,
            b"<html><body>No fue posible procesar la solicitud</body></html>",
            {"error": "rechazada"},
        ),
        (200, b"<html><body><p>nada</p></body></html>", {"error": "sin_secciones"}),
    ],
)
def test_an_answer_without_data_gives_the_record_a_crawl_gives(tmp_path, status, body, expected):
    (record_id,) = archive(
        tmp_path, "lapaz-a.warc.gz", [("2026-12-04T01:00:00Z", status, body, HTML)]
    )
    write_detalles(tmp_path, [page_record(gral__zona="old")])

    reparse.run(tmp_path)

    (record,) = read_detalles(tmp_path)
    assert record == {
        **page_record(warc_archivo="lapaz-a.warc.gz", warc_registro=record_id),
        "fecha_consulta": "2026-12-04T01:00:00Z",
        **expected,
    }


def test_a_torn_last_record_is_left_out(tmp_path, caplog):
    archive(
        tmp_path,
        "lapaz-a.warc.gz",
        [("2026-12-04T01:00:00Z", 200, PAGE.format("A").encode(), HTML)],
    )
    path = tmp_path / ARCHIVE_DIR / "lapaz-a.warc.gz"
    whole = path.stat().st_size
    archive(
        tmp_path,
        "lapaz-a.warc.gz",
        [("2026-12-04T02:00:00Z", 200, PAGE.format("B").encode() * 20, HTML)],
    )
    with path.open("r+b") as stream:
        stream.truncate(whole + 120)  # inside the second answer's response record
    write_detalles(tmp_path, [page_record()])

    with caplog.at_level(logging.WARNING):
        reparse.run(tmp_path)

    assert read_detalles(tmp_path)[0]["gral__zona_referencial"] == "A"
    assert "ends in an incomplete record" in caplog.text or "unreadable record" in caplog.text


def test_no_archive_or_a_running_crawl_is_a_clear_error(tmp_path, capsys):
    write_detalles(tmp_path, [page_record()])
    assert reparse.main(["--data-dir", str(tmp_path)]) == 1
    assert "no archive" in capsys.readouterr().err
    archive(tmp_path, "lapaz-a.warc.gz", [("2026-12-04T01:00:00Z", 404, b"", HTML)])
    lock = reparse.lock_data_dir(tmp_path)  # as a crawl holds it
    try:
        assert reparse.main(["--data-dir", str(tmp_path)]) == 1
        assert "a crawl is writing" in capsys.readouterr().err
    finally:
        lock.close()
    assert (tmp_path / LOCK_FILE).exists()


@pytest.mark.e2e
def test_reparse_against_a_stopped_site_gives_the_crawls_records_back(tmp_path):
    data_dir = tmp_path / "data"
    # Some pages come back without data once and are asked again: the latest answer counts.
    faults = [Fault("page", "no_sections", fraction=0.2, times=1)]
    with ReplicaServer(ReplicaConfig(features=500, faults=faults)) as replica:
        crawl = run_crawl(replica, data_dir, **FAST_RETRIES)
    assert crawl.returncode == 0, crawl.log[-3000:]
    crawled = crawl.detalles
    as_crawled = (data_dir / DETALLES_FILE).read_bytes()
    # The site is down now; so is any way to ask it.
    with_pages = [i for i, record in enumerate(crawled) if record.get("gral__zona_referencial")]
    damaged = [dict(record) for record in crawled]
    first, second = with_pages[:2]
    # Not every page has the "Otros datos" section.
    third = next(i for i in with_pages[2:] if "otro__tipo_de_obra" in crawled[i])
    damaged[first]["gral__zona_referencial"] = "EDITADO A MANO"
    damaged[second] = {
        ("gral__zona" if key == "gral__zona_referencial" else key): value
        for key, value in damaged[second].items()
    }
    del damaged[third]["otro__tipo_de_obra"]
    write_detalles(data_dir, damaged)

    result = reparse.main(["--data-dir", str(data_dir)])

    assert result == 0
    rebuilt = read_detalles(data_dir)
    assert [list(r.items()) for r in rebuilt] == [list(r.items()) for r in crawled]
    assert read_detalles(data_dir, DETALLES_FILE + ".anterior") == damaged
    assert (data_dir / DETALLES_FILE).read_bytes() == as_crawled, "byte for byte"
