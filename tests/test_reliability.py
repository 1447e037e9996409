"""Faults of a real server, injected by the replica: nothing is lost, or the run says so."""

from collections import Counter

import pytest

from lapaz.records.values import registration_year
from tests.crawl import kill_when, pages_written, run_crawl
from tools.replica import Fault, ReplicaConfig, ReplicaServer, page_identifier

pytestmark = pytest.mark.e2e

FEATURES = 600
# Retries wait a little, so that the tests stay quick; the logic is the same.
FAST_RETRIES = {"LAPAZ_RETRY_BACKOFF_BASE": 0.05, "LAPAZ_RETRY_BACKOFF_MAX": 2}


def requestable(replica) -> dict[str, int]:
    """identifier -> id_pc_tramite of every approved permit that gets a page request."""
    return {
        page_identifier(feature): feature["properties"]["idPCTramite"]
        for feature in replica.approved_features()
        if page_identifier(feature)
    }


def assert_nothing_lost(replica, result, allowed_errors=("rechazada",)):
    """Every feature once; every approved permit's page once, with data unless allowed."""
    ids = Counter(record["id_pc_tramite"] for record in result.tramites)
    assert set(ids) == {f["properties"]["idPCTramite"] for f in replica.features}
    assert max(ids.values()) == 1
    approved = {f["properties"]["idPCTramite"] for f in replica.approved_features()}
    pages = Counter(record["id_pc_tramite"] for record in result.detalles)
    assert set(pages) == approved
    assert max(pages.values()) == 1
    for record in result.detalles:
        if record["identificador"] is None:
            continue
        served = replica.served_page_feature(record["identificador"])
        if served is None:
            assert record["error"] in allowed_errors, record
        else:
            assert record["error"] is None or record["error"] in allowed_errors, record
    return Counter(record["error"] for record in result.detalles)


# For tests of pages that fail for good on purpose (10% and more): the monitors' bounds
# (tested in tests/test_monitors.py) would rightly fail such a run.
LENIENT_MONITORS = {
    "LAPAZ_MONITOR_MIN_OK_SHARE": 0,
    "LAPAZ_MONITOR_MAX_FAILED_SHARE": 1,
    "LAPAZ_MONITOR_MAX_NO_DATA_SHARE": 1,
}


def crawl(replica, tmp_path, **settings):
    return run_crawl(
        replica, tmp_path / "data", LAPAZ_WFS_PAGE_SIZE=200, **FAST_RETRIES, **settings
    )


@pytest.mark.parametrize(
    ("fault", "settings"),
    [
        pytest.param(Fault("page", "burst", times=20), {}, id="5xx-burst"),
        pytest.param(Fault("page", "status", status=500, fraction=0.3, times=2), {}, id="500"),
        pytest.param(Fault("page", "drop", fraction=0.2, times=1), {}, id="dropped-mid-body"),
        pytest.param(
            Fault("page", "slow", fraction=0.05, times=1, delay=4),
            {"DOWNLOAD_TIMEOUT": 1},
            id="slower-than-timeout",
        ),
        pytest.param(Fault("page", "no_sections", fraction=0.2, times=1), {}, id="no-sections"),
        pytest.param(Fault("wfs", "truncated_json", keys=(200,), times=2), {}, id="wfs-truncated"),
        pytest.param(Fault("wfs", "exception_report", keys=(0,), times=1), {}, id="wfs-exception"),
        pytest.param(Fault("wfs", "drop", keys=(400,), times=1), {}, id="wfs-dropped"),
        pytest.param(Fault("wfs", "status", keys=(0, 400), times=2), {}, id="wfs-503"),
    ],
)
def test_a_fault_that_heals_loses_nothing(tmp_path, fault, settings):
    with ReplicaServer(ReplicaConfig(features=FEATURES, faults=[fault])) as replica:
        result = crawl(replica, tmp_path, **settings)
        faults_served = replica.stats.snapshot()["faults"]
    assert faults_served, "the replica served the fault"
    assert result.returncode == 0, result.log[-3000:]
    assert_nothing_lost(replica, result)


def test_retry_after_is_honoured(tmp_path):
    fault = Fault("page", "retry_after", fraction=0.1, times=1, retry_after=1)
    with ReplicaServer(ReplicaConfig(features=FEATURES, faults=[fault])) as replica:
        result = crawl(replica, tmp_path)
        throttled = replica.stats.snapshot()["faults"]["retry_after"]
        timeline = replica.stats.requests_in_order()
    assert result.returncode == 0, result.log[-3000:]
    assert_nothing_lost(replica, result)
    # At the server: each 429 announced one second (the backoff here would be 0.05 s), and
    # the same page came back no sooner.
    answered_429 = {query: answered for _, answered, _, query, status in timeline if status == 429}
    assert len(answered_429) == throttled > 0
    for query, answered in answered_429.items():
        (again,) = [at for at, _, _, asked, _ in timeline if asked == query and at > answered]
        assert again - answered >= 1.0, query


def test_pages_that_stay_broken_are_recorded_with_their_reason(tmp_path):
    with ReplicaServer(ReplicaConfig(features=FEATURES)) as replica:
        missing_pages = sorted(requestable(replica))[:5]
        replica.config.faults = [
            Fault("page", "status", status=404, keys=tuple(missing_pages), times=None),
            Fault("page", "status", status=503, fraction=0.1, times=None),
            Fault("page", "no_sections", fraction=0.1, times=None),
        ]
        result = crawl(replica, tmp_path, RETRY_TIMES=2, **LENIENT_MONITORS)
    assert result.returncode == 0, result.log[-3000:]
    errors = assert_nothing_lost(
        replica, result, allowed_errors=("rechazada", "http_503", "http_404", "sin_secciones")
    )
    assert errors["http_503"] > 0
    assert errors["http_404"] == len(missing_pages)
    assert errors["sin_secciones"] > 0
    failed = errors["http_503"] + errors["http_404"]
    assert f"{failed} failed" in result.log


def test_bytes_that_are_not_utf8_do_not_lose_the_page(tmp_path):
    fault = Fault("page", "bad_utf8", fraction=0.3, times=None)
    with ReplicaServer(ReplicaConfig(features=FEATURES, faults=[fault])) as replica:
        result = crawl(replica, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    assert_nothing_lost(replica, result)
    damaged = [r for r in result.detalles if "\ufffd" in (r.get("gral__zona_referencial") or "")]
    assert damaged, "the undecodable byte shows as a replacement character"
    assert all(r["gral__codigo_catastral"] for r in damaged)


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Fault("wfs", "exception_report", keys=(200,), times=None), id="exception"),
        pytest.param(Fault("wfs", "truncated_json", keys=(200,), times=None), id="truncated"),
        pytest.param(Fault("wfs", "status", keys=(200,), times=None), id="503"),
    ],
)
def test_a_wfs_page_that_stays_broken_fails_the_run(tmp_path, fault):
    with ReplicaServer(ReplicaConfig(features=FEATURES, faults=[fault])) as replica:
        result = crawl(replica, tmp_path, RETRY_TIMES=2)
    assert result.returncode != 0
    assert "The WFS harvest is incomplete" in result.log
    assert "startIndex=200" in result.log
    assert "finish reason: wfs_incomplete" in result.log
    # What could be harvested is kept, apart from the last complete harvest.
    assert len(result.tramites_partial) == FEATURES - 200
    assert not (result.data_dir / "tramites.jsonl").exists()


def test_unstable_paging_without_sort_by_is_completed_by_more_passes(tmp_path):
    config = ReplicaConfig(features=FEATURES, reject_sort_by=True, unstable_order=True)
    with ReplicaServer(config) as replica:
        result = crawl(replica, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    assert "paging the layer again" in result.log
    assert_nothing_lost(replica, result)


def test_a_second_run_requests_only_what_it_lacks(tmp_path):
    failing = Fault("page", "status", status=503, fraction=0.1, times=None)
    with ReplicaServer(ReplicaConfig(features=FEATURES, faults=[failing])) as replica:
        first = crawl(replica, tmp_path, RETRY_TIMES=1, **LENIENT_MONITORS)
        assert first.returncode == 0, first.log[-3000:]
        failed = {r["identificador"] for r in first.detalles if r["error"] == "http_503"}
        assert failed

        replica.config.faults = []
        new_features = replica.add_features(40)
        before = Counter(replica.stats.snapshot()["page_requests"])
        second = crawl(replica, tmp_path)
        after = Counter(replica.stats.snapshot()["page_requests"])

        assert second.returncode == 0, second.log[-3000:]
        requested = set(after - before)
        new_pages = {
            identifier
            for identifier, id_pc_tramite in requestable(replica).items()
            if id_pc_tramite in {f["properties"]["idPCTramite"] for f in new_features}
        }
        assert new_pages
        assert requested == failed | new_pages
        assert_nothing_lost(replica, second)
        assert "(40 new since the last run)" in second.log

        before = after
        full = crawl(replica, tmp_path, arguments={"refresco": "completo"})
        after = Counter(replica.stats.snapshot()["page_requests"])
        assert full.returncode == 0, full.log[-3000:]
        assert set(after - before) == set(requestable(replica))
        assert_nothing_lost(replica, full)


def test_a_crawl_killed_midway_resumes_without_loss_or_duplicates(tmp_path):
    data_dir = tmp_path / "data"
    job_dir = tmp_path / "job"
    config = ReplicaConfig(features=1500, latency=0.05)
    with ReplicaServer(config) as replica:
        kill_when(
            replica,
            data_dir,
            lambda: pages_written(data_dir, 60),
            "the first pages",
            JOBDIR=job_dir,
            LAPAZ_WFS_PAGE_SIZE=500,
            CONCURRENT_REQUESTS_PER_DOMAIN=4,
        )
        detalles = data_dir / "detalles.jsonl"
        written_before_kill = detalles.read_bytes().count(b"\n")
        total_pages = len(replica.approved_features())
        assert written_before_kill < total_pages, "killed midway"
        # A write cut short by the kill.
        with detalles.open("ab") as stream:
            stream.write(b'{"id_pc_tramite": 1, "codigo_catas')
        requests_before = replica.stats.snapshot()["requests"]["page"]

        resumed = run_crawl(
            replica, data_dir, JOBDIR=job_dir, LAPAZ_WFS_PAGE_SIZE=500, **FAST_RETRIES
        )
        requests_resumed = replica.stats.snapshot()["requests"]["page"] - requests_before

    assert resumed.returncode == 0, resumed.log[-3000:]
    assert "is incomplete (interrupted crawl?), ignored" in resumed.log
    assert_nothing_lost(replica, resumed)
    # Pages written before the kill were not asked again.
    assert requests_resumed <= len(requestable(replica)) - written_before_kill + 16


def test_a_job_queue_damaged_by_the_kill_does_not_stop_the_resumed_crawl(tmp_path):
    # A queue file is made anew whenever its queue refills: a kill at that moment leaves an
    # empty file, which Scrapy's disk queue cannot open again (struct.error).
    data_dir, job_dir = tmp_path / "data", tmp_path / "job"
    with ReplicaServer(ReplicaConfig(features=600, latency=0.05)) as replica:
        queues = job_dir / "requests.queue"
        seen = []

        def pages_queued_on_disk() -> bool:
            seen[:] = [path for path in queues.rglob("*") if path.is_file()]
            return bool(seen) and pages_written(data_dir, 20)

        kill_when(
            replica,
            data_dir,
            pages_queued_on_disk,
            "pages written, others queued on disk",
            JOBDIR=job_dir,
            CONCURRENT_REQUESTS_PER_DOMAIN=4,
        )
        # As the kill leaves a queue file it was making: empty (those seen last, whether
        # the queue emptied them since or not).
        for path in seen:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
        resumed = run_crawl(replica, data_dir, JOBDIR=job_dir, **FAST_RETRIES)
    assert resumed.returncode == 0, resumed.log[-3000:]
    assert "The request queue in JOBDIR cannot be read or written" in resumed.log
    assert_nothing_lost(replica, resumed)


def test_permits_without_code_or_date_get_a_record_saying_why(tmp_path):
    with ReplicaServer(ReplicaConfig(features=FEATURES)) as replica:
        result = crawl(replica, tmp_path)
    assert result.returncode == 0, result.log[-3000:]
    approved = {
        f["properties"]["idPCTramite"]: f["properties"] for f in replica.approved_features()
    }
    reasons = {}
    for record in result.detalles:
        properties = approved[record["id_pc_tramite"]]
        if not properties.get("codigoCatastral"):
            reasons[record["id_pc_tramite"]] = record["error"] == "sin_codigo_catastral"
        elif registration_year(properties.get("fechaRegistro")) is None:
            reasons[record["id_pc_tramite"]] = record["error"] == "sin_fecha_registro"
    assert reasons, "the replica has approved permits without a code or a date"
    assert all(reasons.values())
