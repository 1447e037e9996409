"""The monitors (lapaz.crawl.extensions.monitors) judged directly, and through a real crawl."""

import logging
from types import SimpleNamespace

import pytest
from scrapy.settings import Settings
from spidermon.runners import MonitorRunner

from lapaz.crawl import statkeys
from lapaz.crawl.extensions.monitors import (
    HarvestMonitorSuite,
    coverage_problems,
    failure_lines,
    notifier_actions,
    share_problems,
)
from lapaz.crawl.extensions.summary import summary_lines
from lapaz.crawl.state import Harvest
from lapaz.spiders.arguments import CrawlArguments
from lapaz.storage.store import TRAMITES_FILE, TRAMITES_PARTIAL_FILE
from tests.crawl import project_settings, run_crawl
from tools.replica import ReplicaConfig, ReplicaServer

OK = statkeys.PAGES_OUTCOME_PREFIX + "ok"
REFUSED = statkeys.PAGES_OUTCOME_PREFIX + "rechazada"
NO_DATA = statkeys.PAGES_OUTCOME_PREFIX + "sin_secciones"
PAGE_KEYS = project_settings()["LAPAZ_MONITOR_PAGE_KEYS"]


class Stats(dict):
    def inc_value(self, key, amount=1):
        self[key] = self.get(key, 0) + amount

    def set_value(self, key, value):
        self[key] = value

    def get_value(self, key, default=None):
        return self.get(key, default)


def a_crawl(stats: dict, **settings):
    """What the monitors see of a crawl: its settings, stats and harvest."""
    crawler = SimpleNamespace(settings=Settings(project_settings(**settings)), stats=Stats(stats))
    harvest = Harvest(store=None, crawler=crawler)
    crawler.spider = SimpleNamespace(harvest=harvest, arguments=CrawlArguments.parse())
    return crawler, harvest


def judge(crawler):
    suite = HarvestMonitorSuite(crawler=crawler)
    result = MonitorRunner().run(suite, stats=dict(crawler.stats), crawler=crawler)
    return failure_lines(result)


def good_stats(pages=100, **extra):
    keys = {statkeys.PAGES_KEY_PREFIX + key: pages - 3 for key in PAGE_KEYS}
    return {"finish_reason": "finished", OK: pages - 3, REFUSED: 3, **keys, **extra}


def complete(harvest, features=500):
    harvest.note_number_matched(features, features)
    harvest.features_received = features
    harvest.judge()


def test_a_good_crawl_passes_every_monitor():
    crawler, harvest = a_crawl(good_stats())
    complete(harvest)
    assert judge(crawler) == []


def test_a_short_harvest_fails_with_what_is_missing():
    crawler, harvest = a_crawl(good_stats())
    harvest.note_number_matched(500, 500)
    harvest.features_received = 480
    harvest.judge()
    failures = judge(crawler)
    assert any("received 480 features of the 500" in line for line in failures)
    assert any(
        line.startswith("Crawl/harvest complete: the WFS harvest is incomplete")
        for line in failures
    )


def test_another_finish_reason_fails():
    crawler, harvest = a_crawl(good_stats(finish_reason="shutdown"))
    complete(harvest)
    assert judge(crawler) == ["Crawl/finish reason: the crawl finished as 'shutdown', not finished"]


def test_stopped_pages_fail_with_the_stop_line():
    crawler, harvest = a_crawl(good_stats())
    complete(harvest)
    harvest.pages_stopped = "The site's page layout seems to have changed: ..."
    assert judge(crawler) == [
        "Crawl/every wanted page asked for: The site's page layout seems to have changed: ..."
    ]


def test_too_many_pages_without_data_fail_and_the_bound_is_a_setting():
    stats = good_stats(pages=100, **{NO_DATA: 8})
    crawler, harvest = a_crawl(stats)
    complete(harvest)
    (failure,) = judge(crawler)
    assert failure.startswith("Permit pages/shares of outcomes: 8 of 108 permit pages without data")
    crawler, harvest = a_crawl(stats, LAPAZ_MONITOR_MAX_NO_DATA_SHARE=0.1)
    complete(harvest)
    assert judge(crawler) == []


def test_refused_pages_of_every_result_are_normal_but_failures_are_not():
    stats = good_stats(pages=100, **{REFUSED: 300})
    crawler, harvest = a_crawl(stats)
    complete(harvest)
    assert "300 of 397 permit pages refused" in judge(crawler)[0]
    crawler.spider.arguments = CrawlArguments.parse(resultado="todos")
    assert judge(crawler) == []
    crawler.stats[statkeys.PAGES_OUTCOME_PREFIX + "failed"] = 100
    assert "100 of 497 permit pages failed" in judge(crawler)[0]


def test_a_page_key_that_went_missing_fails_coverage():
    stats = good_stats()
    stats[statkeys.PAGES_KEY_PREFIX + "gral__fecha_aprobacion"] = 10
    crawler, harvest = a_crawl(stats)
    complete(harvest)
    (failure,) = judge(crawler)
    assert failure.startswith(
        "Permit pages/coverage of the page keys: gral__fecha_aprobacion is on 10 of 97"
    )


def test_shares_and_coverage_in_words():
    counts = {"ok": 70, "rechazada": 10, "sin_secciones": 0, "failed": 20}
    bounds = [("ok", "min", 0.8), ("failed", "max", 0.05), ("rechazada", "max", 0.15)]
    assert share_problems(counts, bounds) == [
        "70 of 100 permit pages with data (70.0%; expected at least 80%)",
        "20 of 100 permit pages failed (20.0%; expected at most 5%)",
    ]
    assert share_problems(dict.fromkeys(counts, 0), bounds) == [], "no page asked: no share"
    assert coverage_problems(0, {"gral__informe": 0}, 0.9) == []
    assert coverage_problems(10, {"a": 9, "b": 8}, 0.9) == [
        "b is on 8 of 10 pages with data (80.0%; expected at least 90%)"
    ]


def test_the_monitors_decide_the_summary_and_the_exit_status():
    crawler, harvest = a_crawl(good_stats(**{NO_DATA: 30}))
    complete(harvest)
    assert harvest.succeeded
    harvest.monitors_run = 6
    harvest.monitor_failures = judge(crawler)
    assert not harvest.succeeded
    lines = summary_lines(harvest, "finished")
    assert "monitors: 5 passed, 1 failed" in lines
    assert any(line.startswith("  MONITOR FAILED: Permit pages/shares") for line in lines)
    assert lines[-1] == "finish reason: finished (A MONITOR FAILED: the exit status is non-zero)"


def test_notifiers_are_off_unless_configured_and_never_break_the_crawl(caplog):
    crawler, _ = a_crawl({})
    assert notifier_actions(crawler) == []
    # Configured but incomplete (no recipients): left out with a warning, not an error.
    crawler, _ = a_crawl({}, SPIDERMON_TELEGRAM_SENDER_TOKEN="123:abc")
    with caplog.at_level(logging.WARNING, logger="lapaz.crawl.extensions.monitors"):
        assert notifier_actions(crawler) == []
    assert "Telegram notifications are off" in caplog.text


def test_a_configured_notifier_is_told_of_a_failure(caplog):
    pytest.importorskip("jinja2")  # Spidermon's message templates
    crawler, harvest = a_crawl(
        good_stats(finish_reason="shutdown"),
        SPIDERMON_TELEGRAM_SENDER_TOKEN="123:abc",
        SPIDERMON_TELEGRAM_RECIPIENTS="42",
        # Spidermon's own switch: the message is logged instead of sent.
        SPIDERMON_TELEGRAM_FAKE=True,
    )
    complete(harvest)
    crawler.spider.name = "tramites"
    with caplog.at_level(logging.INFO, logger="spidermon.contrib.actions.telegram"):
        assert judge(crawler)
    assert "finished with errors" in caplog.text


@pytest.mark.e2e
def test_a_good_crawl_passes_the_monitors_with_a_clean_log(tmp_path):
    with ReplicaServer(ReplicaConfig(features=300)) as replica:
        result = run_crawl(replica, tmp_path / "data")
    assert result.returncode == 0, result.log[-3000:]
    assert "monitors: 6 passed, 0 failed" in result.log
    assert "Deprecat" not in result.log
    assert "Traceback" not in result.log


# Renamed as a new GeoServer view might: names that lapaz.records.tramite cannot map back.
RENAMED = {
    "codigoCatastral": "cod_catastral",
    "NumeroTramite": "nro_tramite",
    "fechaRegistro": "fecha_reg",
}


@pytest.mark.e2e
def test_a_renamed_layer_stops_the_crawl_and_keeps_the_last_harvest(tmp_path):
    data = tmp_path / "data"
    with ReplicaServer(ReplicaConfig(features=300)) as replica:
        first = run_crawl(replica, data)
        assert first.returncode == 0, first.log[-3000:]
        before = (data / TRAMITES_FILE).read_bytes()
        replica.config.property_renames = RENAMED
        replica.stats.requests.clear()
        second = run_crawl(replica, data)
        pages_asked = replica.stats.snapshot()["requests"].get("page", 0)
    assert second.returncode == 1
    line = next(
        line for line in second.log.splitlines() if "properties seem to have changed" in line
    )
    assert "lack codigoCatastral, NumeroTramite, fechaRegistro" in line
    for name in ("cod_catastral", "nro_tramite", "idPCTramite"):
        assert name in line, "the properties the layer now has"
    assert "finish reason: layer_changed (THE WFS LAYER CHANGED" in second.log
    last = second.log.strip().splitlines()[-1]
    assert last.startswith("error: "), last
    assert "properties seem to have changed" in last, last
    assert pages_asked == 0, "no page is asked of a layer without codes"
    assert (data / TRAMITES_FILE).read_bytes() == before, "the last complete harvest stays"
    assert not (data / TRAMITES_PARTIAL_FILE).exists() or not second.tramites_partial
