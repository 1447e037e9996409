"""The verdict (lapaz.crawl.state) and the monitors that tell it, on real crawls.

Each test runs crawls against the replica and reads what a user reads: the exit status,
the data folder, the stats, the one-line errors.
"""

import logging
from types import SimpleNamespace

import orjson
import pytest
import pytest_twisted
from scrapy.settings import Settings

from lapaz.crawl import statkeys
from lapaz.crawl.extensions.monitors import notifier_actions
from lapaz.records.schema import PageOutcome
from lapaz.spiders.tramites import TramitesSpider
from lapaz.storage.previous import FAILURES_FILE, LAYER_FILE
from lapaz.storage.store import TRAMITES_FILE, TRAMITES_PARTIAL_FILE
from tests.crawl import crawl_in_process, project_settings, run_crawl
from tools.replica import ReplicaConfig, ReplicaServer
from tools.replica.faults import Fault


class Crawler:
    def __init__(self, **settings):
        self.settings = Settings(project_settings(**settings))


def test_notifiers_are_off_unless_configured_and_never_break_the_crawl(caplog):
    assert notifier_actions(Crawler()) == []
    # Configured but incomplete (no recipients): left out with a warning, not an error.
    with caplog.at_level(logging.WARNING, logger="lapaz.crawl.extensions.monitors"):
        assert notifier_actions(Crawler(SPIDERMON_TELEGRAM_SENDER_TOKEN="123:abc")) == []
    assert "Telegram notifications are off" in caplog.text


@pytest.mark.e2e
@pytest_twisted.ensureDeferred
async def test_a_configured_notifier_is_told_of_the_verdict(tmp_path, caplog):
    pytest.importorskip("jinja2")  # Spidermon's message templates
    telegram = {
        "SPIDERMON_TELEGRAM_SENDER_TOKEN": "123:abc",
        "SPIDERMON_TELEGRAM_RECIPIENTS": "42",
        # Spidermon's own switch: the message is logged instead of sent.
        "SPIDERMON_TELEGRAM_FAKE": True,
    }
    fault = Fault("page", "status", status=500, fraction=0.5, times=None)
    with (
        ReplicaServer(ReplicaConfig(features=100, faults=[fault])) as replica,
        caplog.at_level(logging.INFO, logger="spidermon.contrib.actions.telegram"),
    ):
        crawl = await crawl_in_process(replica, tmp_path, RETRY_TIMES=0, **telegram)
    assert crawl.verdict.reason == "checks_failed"
    assert crawl.stats[statkeys.MONITORS_FAILED] == [
        f"Verdict/the run succeeded: {crawl.verdict.line}"
    ]
    # Our words, with the failure's line: not Spidermon's English template.
    sent = [r.getMessage() for r in caplog.records if r.name.startswith("spidermon.contrib")]
    failure = f"Verdict/the run succeeded: {crawl.verdict.line}"
    assert sent == [f"La Paz permits: the tramites crawl failed\n- {failure}"]


def test_a_notification_is_in_the_language_of_the_crawl(monkeypatch):
    """Spidermon's templates would list the monitors' names in English; ours say what
    failed in the summary's lines, in Spanish under es."""
    pytest.importorskip("jinja2")
    monkeypatch.setenv("LAPAZ_IDIOMA", "es")
    crawler = Crawler(
        SPIDERMON_TELEGRAM_SENDER_TOKEN="123:abc",
        SPIDERMON_TELEGRAM_RECIPIENTS="42",
        SPIDERMON_TELEGRAM_FAKE=True,
    )
    crawler.spidercls = TramitesSpider
    (action,) = notifier_actions(crawler)
    action.result = FailedResult(["Verdict/the run succeeded", "Finish reason/x"])
    assert action.get_message() == (
        "Permisos de La Paz: la descarga tramites falló\n"
        "- Veredicto/la corrida salió bien: it failed\n"
        "- Motivo de cierre/x: it failed"
    )


def test_a_message_of_the_settings_is_kept(monkeypatch):
    pytest.importorskip("jinja2")
    crawler = Crawler(
        SPIDERMON_TELEGRAM_SENDER_TOKEN="123:abc",
        SPIDERMON_TELEGRAM_RECIPIENTS="42",
        SPIDERMON_TELEGRAM_MESSAGE="{{ monitors_failed }} failed",
    )
    crawler.spidercls = TramitesSpider
    (action,) = notifier_actions(crawler)
    action.result = FailedResult(["Verdict/the run succeeded"])
    assert action.get_message() == "True failed"


class FailedResult:
    """What Spidermon hands an action: the monitors that failed, each with its reason."""

    def __init__(self, names: list[str]):
        self.monitors_failed_results = [
            SimpleNamespace(item=SimpleNamespace(name=name), reason="it failed", error=None)
            for name in names
        ]
        self.monitors_passed_results = []


@pytest.mark.e2e
def test_a_good_crawl_passes_the_monitors_with_a_clean_log(tmp_path):
    with ReplicaServer(ReplicaConfig(features=300)) as replica:
        result = run_crawl(replica, tmp_path / "data")
    assert result.returncode == 0, result.log[-3000:]
    assert "monitors: 2 passed, 0 failed" in result.log
    assert "Deprecat" not in result.log
    assert "Traceback" not in result.log


@pytest.mark.e2e
@pytest_twisted.ensureDeferred
async def test_pages_failing_again_are_persisting_not_alarms(tmp_path):
    """The weekly case: a few pages the site always answers with HTTP 500."""
    always = Fault("page", "status", status=500, fraction=0.05, times=None)
    settings = {"RETRY_TIMES": 0, "LAPAZ_MONITOR_MAX_FAILED_SHARE": 0.2}
    with ReplicaServer(ReplicaConfig(features=400, faults=[always])) as replica:
        first = await crawl_in_process(replica, tmp_path, **settings)
        failing = first.verdict.pages[PageOutcome.FAILED]
        assert failing > 0
        assert first.verdict.new_failures == failing
        assert first.verdict.succeeded, first.verdict.line
        # The next week the same pages fail again, and alone they are too many for the bound.
        second = await crawl_in_process(replica, tmp_path, LAPAZ_MONITOR_MAX_FAILED_SHARE=0)
    verdict = second.verdict
    assert verdict.succeeded, verdict.line
    assert verdict.new_failures == 0
    assert len(verdict.persisting) == failing
    assert {failure.corridas for failure in verdict.persisting} == {2}
    assert verdict.pages_wanted > 10 * failing, "counted against every wanted page"
    assert second.stats[statkeys.PAGES_PERSISTING] == failing
    lines = (tmp_path / FAILURES_FILE).read_bytes().splitlines()
    kept = [orjson.loads(line) for line in lines]
    assert {line["identificador"] for line in kept} == {
        failure.identificador for failure in verdict.persisting
    }
    assert {line["corridas"] for line in kept} == {2}
    summary = second.stats[statkeys.SUMMARY]
    assert any(line.startswith("  persisting: ") for line in summary)


@pytest.mark.e2e
@pytest_twisted.ensureDeferred
async def test_new_failures_above_the_bound_fail_against_every_wanted_page(tmp_path):
    fault = Fault("page", "status", status=500, fraction=0.3, times=None)
    with ReplicaServer(ReplicaConfig(features=300, faults=[fault])) as replica:
        crawl = await crawl_in_process(replica, tmp_path, RETRY_TIMES=0)
    verdict = crawl.verdict
    assert verdict.reason == "checks_failed"
    assert verdict.complete, "the harvest itself is whole: it is kept"
    assert f"of {verdict.pages_wanted} wanted permit pages failed anew" in verdict.line


@pytest.mark.e2e
@pytest_twisted.ensureDeferred
async def test_a_layer_that_shrank_fails_and_keeps_the_last_harvest(tmp_path):
    with ReplicaServer(ReplicaConfig(features=300)) as replica:
        first = await crawl_in_process(replica, tmp_path)
        assert first.verdict.succeeded, first.verdict.line
        assert orjson.loads((tmp_path / LAYER_FILE).read_bytes())["entidades"] == 300
        before = {name: (tmp_path / name).read_bytes() for name in (TRAMITES_FILE, LAYER_FILE)}
        ids = {feature["properties"]["idPCTramite"] for feature in replica.features[:60]}
        replica.remove_features(ids)
        second = await crawl_in_process(replica, tmp_path)
    assert second.verdict.reason == "layer_shrank"
    assert not second.verdict.complete
    assert "The WFS layer shrank: 240 features, against 300" in second.verdict.line
    for name, content in before.items():
        assert (tmp_path / name).read_bytes() == content, name
    assert len(second.snapshots) == 1, "no snapshot of a shrunk layer"


@pytest.mark.e2e
@pytest_twisted.ensureDeferred
async def test_a_layer_whose_property_types_changed_fails_saying_what(tmp_path):
    with ReplicaServer(ReplicaConfig(features=100)) as replica:
        first = await crawl_in_process(replica, tmp_path)
        assert first.verdict.succeeded, first.verdict.line
        replica.config.all_strings = True
        second = await crawl_in_process(replica, tmp_path)
    assert second.verdict.reason == "layer_changed"
    assert "idPCTramite was integer, now string" in second.verdict.line
    assert not second.verdict.complete


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
