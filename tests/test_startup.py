"""Start-up: what every crawl pays before its first request (issue 21's CPU figure)."""

import re
import subprocess

from scrapy.extensions.remote_control import RemoteControl
from scrapy.utils.test import get_crawler

from lapaz.spiders.tramites import TramitesSpider
from tests.crawl import project_settings
from tools.crawl import CRAWL_TIMEOUT, PROJECT_ROOT, crawl_command
from tools.replica import ReplicaConfig, ReplicaServer

# Scrapy's remote control (off) would import aiohttp, scrapy-fake-useragent's providers
# Faker: a sixth of a second of CPU at every start between them, for nothing.
NOT_IMPORTED = ("aiohttp", "faker")


def test_a_crawl_imports_neither_aiohttp_nor_faker(tmp_path):
    with ReplicaServer(ReplicaConfig(features=3)) as replica:
        settings = {
            "LAPAZ_WFS_URL": replica.wfs_url,
            "LAPAZ_DETALLE_URL": replica.detalle_url,
            "LAPAZ_DATA_DIR": str(tmp_path / "data"),
        }
        python, *command = crawl_command(settings)
        result = subprocess.run(
            [python, "-X", "importtime", *command],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=CRAWL_TIMEOUT,
        )
    assert result.returncode == 0, result.stderr[-3000:]
    imported = set(re.findall(r"^import time:.*\|\s+([\w.]+)$", result.stderr, re.M))
    assert "scrapy_fake_useragent.middleware" in imported, "the import times were read"
    assert {name.split(".")[0] for name in imported} & set(NOT_IMPORTED) == set()


def test_the_remote_control_still_comes_when_turned_on(tmp_path):
    for enabled in (False, True):
        settings = project_settings(
            LAPAZ_DATA_DIR=str(tmp_path / "data"), REMOTE_CONTROL_ENABLED=enabled
        )
        crawler = get_crawler(TramitesSpider, settings)
        built = [type(extension) for extension in crawler.extensions.middlewares]
        assert (RemoteControl in built) is enabled
