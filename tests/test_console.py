"""What a person sees of a crawl on the console: our lines, in their language, the reason
for a failure once; Scrapy's own lines only when asked for."""

import socket

import pytest
from scrapy.settings import Settings

from lapaz.commands.console import scrapy_lines_wanted
from tests.crawl import CrawlResult, run_crawl
from tools.crawl import Site
from tools.replica import ReplicaConfig, ReplicaServer


def closed_site() -> Site:
    """A site on a port of 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return Site(f"http://127.0.0.1:{port}/geoserver/sit/ows", f"http://127.0.0.1:{port}/pc/")


def console_crawl(site, data_dir, extra: tuple = (), **settings) -> CrawlResult:
    """`scrapy crawl tramites` as a user types it: the project's log level, not the tests'."""
    return run_crawl(site, data_dir, extra=extra, user_console=True, **settings)


def scrapy_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "[scrapy" in line]


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("locale", "summary", "verdict", "error"),
    [
        (
            "es_BO.UTF-8",
            "ERROR: Resumen de la descarga:",
            "motivo de cierre: wfs_incomplete (LA DESCARGA ESTÁ INCOMPLETA:"
            " el código de salida no es cero)",
            "error: La descarga del WFS está incompleta: el servidor WFS en {host} es"
            " inaccesible: rechaza las conexiones. Revise la conexión a internet"
            " (y LAPAZ_WFS_URL, si la configuró)",
        ),
        (
            "en_US.UTF-8",
            "ERROR: Crawl summary:",
            "finish reason: wfs_incomplete (THE HARVEST IS INCOMPLETE:"
            " the exit status is non-zero)",
            "error: The WFS harvest is incomplete: the WFS server at {host} cannot be"
            " reached: it refuses connections. Check the internet connection"
            " (and LAPAZ_WFS_URL, if you set it)",
        ),
    ],
)
def test_a_failed_crawl_says_why_once_in_the_users_language(
    tmp_path, user_locale, locale, summary, verdict, error
):
    user_locale(locale)
    site = closed_site()
    host = site.wfs_url.split("/")[2]

    result = console_crawl(site, tmp_path / "data")

    assert result.returncode == 1
    lines = result.log.strip().splitlines()
    assert lines[-1] == error.format(host=host)
    # The reason is on the last line only: not in the summary, the monitors or the stats.
    reason = error.split(": ", 3)[-1].format(host=host).split(":")[0]
    assert result.log.count(reason) == 1, result.log
    assert any(line.endswith(summary) for line in lines), result.log
    assert f"  {verdict}" in lines
    # Scrapy's start-up, middlewares and stats stay off the console.
    assert scrapy_lines(result.log) == []
    assert len(lines) < 20, result.log


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("extra", "settings"),
    [((), {"LAPAZ_LOG_SCRAPY": True}), (("--loglevel", "INFO"), {})],
)
def test_scrapy_lines_come_back_when_asked_for(tmp_path, extra, settings):
    result = console_crawl(closed_site(), tmp_path / "data", extra, **settings)

    assert result.returncode == 1
    shown = scrapy_lines(result.log)
    assert any("[scrapy.utils.log] INFO: Scrapy" in line for line in shown), result.log
    assert any("[scrapy.statscollectors] INFO: Dumping Scrapy stats" in line for line in shown)


@pytest.mark.e2e
def test_a_crawl_that_succeeds_sums_up_in_spanish_under_a_bolivian_locale(tmp_path, user_locale):
    user_locale("es_BO.UTF-8")
    with ReplicaServer(ReplicaConfig(features=40)) as replica:
        result = console_crawl(replica, tmp_path / "data")

    assert result.returncode == 0, result.log[-3000:]
    assert "INFO: Resumen de la descarga:\n" in result.log
    assert "  objetos espaciales descargados: 40 de 40 que anunció el servidor" in result.log
    assert "  motivo de cierre: finished\n" in result.log
    assert scrapy_lines(result.log) == []


def test_a_language_we_do_not_speak_is_refused_on_one_line(tmp_path):
    result = console_crawl(closed_site(), tmp_path / "data", LAPAZ_IDIOMA="fr")

    assert result.returncode == 2
    assert (
        result.log.strip()
        .splitlines()[-1]
        .endswith("error: LAPAZ_IDIOMA='fr': use es (español) or en (English)")
    )


@pytest.mark.parametrize(
    ("settings", "priority", "wanted"),
    [
        ({}, "project", False),
        ({"LOG_LEVEL": "INFO"}, "project", False),
        ({"LOG_LEVEL": "INFO"}, "cmdline", True),
        ({"LAPAZ_LOG_SCRAPY": "1"}, "cmdline", True),
        ({"LOG_FILE": "crawl.log"}, "cmdline", True),
    ],
)
def test_scrapy_lines_are_wanted_when_a_setting_asks(settings, priority, wanted):
    assert scrapy_lines_wanted(Settings(settings, priority=priority)) is wanted
