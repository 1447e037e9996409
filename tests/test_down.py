"""A permit-page server that fails every try is declared down within about a minute: the
crawl stops asking for pages in one line, and every wanted permit still has its record."""

import time
from collections import Counter

import pytest
from scrapy import Request

from lapaz.crawl.exceptions import PagesStopped
from lapaz.crawl.page_gate import StoppedPagesMiddleware
from lapaz.crawl.state import CrawlState
from lapaz.permits.down import PageServerWatch
from tests.crawl import run_crawl
from tests.test_ledger import FAST_RETRIES, check_ledger, finished_pages, pages_asked
from tools.replica import Fault, ReplicaConfig, ReplicaServer

# The pure watch: times are given.


def fail(watch, times, reason="http_503"):
    for now in times:
        watch.failed(reason, now)


def test_failures_for_long_enough_and_many_enough_are_a_server_down():
    watch = PageServerWatch(after=60, min_failures=10)
    fail(watch, range(100, 160, 6))  # 10 failures, at 100..154
    assert watch.failures == 10
    assert not watch.is_down(159.9), "not yet 60 s since the first failure"
    assert watch.is_down(160)


def test_few_failures_are_no_server_down_however_long():
    watch = PageServerWatch(after=60, min_failures=10)
    fail(watch, [0, 100, 200])
    assert not watch.is_down(1000)


def test_many_failures_at_once_are_no_server_down_yet():
    watch = PageServerWatch(after=60, min_failures=10)
    fail(watch, [5.0] * 50)
    assert not watch.is_down(30)
    assert watch.is_down(65)


def test_a_good_answer_starts_the_count_again():
    watch = PageServerWatch(after=60, min_failures=10)
    fail(watch, range(0, 50, 2))
    watch.answered()
    assert watch.failing_since is None
    fail(watch, range(55, 115, 5))  # 12 failures since 55
    assert not watch.is_down(114)
    assert watch.is_down(115)


def test_the_reasons_are_told_the_most_frequent_first():
    watch = PageServerWatch()
    fail(watch, [1, 2, 3], "http_503")
    fail(watch, [4], "TimeoutError")
    assert watch.describe_reasons() == "http_503 (3), TimeoutError (1)"


# The page gate, once pages are stopped.


@pytest.mark.parametrize(
    ("server_down", "meta", "dropped"),
    [
        (False, {}, True),
        (False, {"retry_times": 1}, False),  # another stop: a retry goes on, as before
        (False, {"retry_times": 1, "lapaz_drift_retry": True}, True),
        (True, {}, True),
        (True, {"retry_times": 2, "lapaz_last_failure": "http_503"}, True),
    ],
)
def test_the_gate_drops_retries_only_when_the_server_is_down(
    project_spider, server_down, meta, dropped
):
    crawler = project_spider().crawler
    crawler.get_extension(CrawlState).stop_pages("stopped", server_down=server_down)
    gate = StoppedPagesMiddleware(crawler)
    request = Request("http://pages.test/pc/?X", cb_kwargs={"permit": {}}, meta=meta)
    if dropped:
        with pytest.raises(PagesStopped):
            gate.process_request(request)
    else:
        assert gate.process_request(request) is None
    wfs = Request("http://wfs.test/ows", meta=meta)
    assert gate.process_request(wfs) is None, "the WFS is never stopped here"


# A whole crawl against the replica, its pages all failing.

DOWN_AFTER = 10
# The crawl ends in about DOWN_AFTER seconds, plus the WFS and the requests in flight.
BOUND = 45


@pytest.mark.e2e
@pytest.mark.parametrize("status", [503, 500])
def test_a_page_server_failing_everything_is_reported_down_within_the_bound(tmp_path, status):
    fault = Fault("page", "status", status=status, fraction=1.0, times=None)
    with ReplicaServer(ReplicaConfig(features=300, faults=[fault])) as replica:
        started = time.monotonic()
        result = run_crawl(
            replica,
            tmp_path / "data",
            timeout=120,
            LAPAZ_PAGES_DOWN_AFTER=DOWN_AFTER,
            LAPAZ_RETRY_BACKOFF_BASE=0.05,
        )
        elapsed = time.monotonic() - started
        asked = replica.stats.snapshot()["page_requests"]
        wanted = {f["properties"]["idPCTramite"] for f in replica.approved_features()}
    assert elapsed < BOUND, f"{elapsed:.0f} s"
    assert result.returncode == 1, result.log[-3000:]
    assert "Traceback" not in result.log
    last = result.log.strip().splitlines()[-1]
    assert "the permit page server at" in last
    assert "seems to be down" in last
    assert f"http_{status}" in last
    assert "finish reason: pages_stopped" in result.log
    # As for every stop of the pages: the layer's harvest was whole, and it is kept.
    assert len(result.tramites) == 300
    records = Counter(record["id_pc_tramite"] for record in result.detalles)
    assert set(records) == wanted, "a page record for every wanted permit"
    assert set(records.values()) == {1}, "exactly one a permit"
    errors = Counter(record["error"] for record in result.detalles)
    assert errors[f"http_{status}"] > 0
    assert errors["no_solicitada"] > 0
    for record in result.detalles:
        if not record["identificador"]:
            continue
        if record["identificador"] in asked:
            assert record["error"] == f"http_{status}", record
            assert record["fecha_consulta"] is not None
        else:
            assert record["error"] == "no_solicitada", record


@pytest.mark.e2e
def test_a_weekly_refresh_whose_pages_all_fail_ends_within_the_bound(tmp_path):
    data = tmp_path / "data"
    with ReplicaServer(ReplicaConfig(features=300)) as replica:
        first = run_crawl(replica, data, **FAST_RETRIES)
        assert first.returncode == 0, first.log[-2000:]
        asked_first = replica.stats.snapshot()["page_requests"]
        done_before = finished_pages(first.detalles)
        replica.add_features(60)
        replica.config.faults.append(Fault("page", "status", status=500, fraction=1.0, times=None))
        started = time.monotonic()
        second = run_crawl(replica, data, timeout=120, LAPAZ_PAGES_DOWN_AFTER=DOWN_AFTER)
        elapsed = time.monotonic() - started
        asked = pages_asked(asked_first, replica.stats.snapshot()["page_requests"])
    assert elapsed < BOUND, f"{elapsed:.0f} s"
    assert second.returncode == 1, second.log[-3000:]
    assert "seems to be down" in second.log.strip().splitlines()[-1]
    check_ledger(second, asked, skipped=done_before)
    new = [record for record in second.detalles if record["identificador"] in asked]
    assert new
    assert {record["error"] for record in new} == {"http_500"}
