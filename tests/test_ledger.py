"""The ledger of a crawl's permit pages, read from its files and from the server's log:
every wanted permit leaves exactly one page record, and every page with an address was
either asked this run or skipped as finished by an earlier one, never both (planned ==
asked + skipped), on a first harvest and on the week after."""

from collections import Counter

import pytest

from lapaz.records.schema import PageOutcome
from lapaz.storage.runs import read_runs
from tests.crawl import run_crawl
from tools.replica import ReplicaConfig, ReplicaServer
from tools.replica.dataset import APROBADO, page_identifier
from tools.replica.faults import Fault

FAST_RETRIES = {"LAPAZ_RETRY_BACKOFF_BASE": 0.01, "LAPAZ_RETRY_BACKOFF_MAX": 0.1}


def pages_asked(before: dict[str, int], after: dict[str, int]) -> set[str]:
    """The page identifiers the server was asked for between two of its snapshots."""
    return {page for page, count in after.items() if count > before.get(page, 0)}


def finished_pages(records: list[dict]) -> set[str]:
    """The identifiers of the pages a run need not ask again."""
    return {
        record["identificador"]
        for record in records
        if record["identificador"] and PageOutcome.of_error(record["error"]).finished
    }


def check_ledger(result, asked: set[str], skipped: set[str]) -> None:
    wanted = {t["id_pc_tramite"] for t in result.tramites if t["resultado"] == APROBADO}
    records = Counter(record["id_pc_tramite"] for record in result.detalles)
    assert set(records) == wanted, "a page record for every wanted permit, and no other"
    assert set(records.values()) == {1}, "exactly one record a permit"
    planned = {record["identificador"] for record in result.detalles if record["identificador"]}
    assert asked.isdisjoint(skipped)
    assert planned == asked | skipped
    assert len(planned) == len(asked) + len(skipped)
    (run,) = read_runs(result.data_dir).records[-1:]
    assert run["paginas_pedidas"] == len(asked)
    assert f" {len(skipped)} skipped as already done" in result.log


@pytest.mark.e2e
def test_every_wanted_permit_leaves_one_page_record_planned_is_asked_plus_skipped(tmp_path):
    data = tmp_path / "data"
    with ReplicaServer(ReplicaConfig(features=300)) as replica:
        approved = [f for f in replica.features if f["properties"]["resultado"] == APROBADO]
        failing = tuple(page_identifier(feature) for feature in approved[:2])
        replica.config.faults.append(
            Fault(target="page", kind="status", status=500, keys=failing, times=None)
        )
        first = run_crawl(replica, data, **FAST_RETRIES)
        asked_first = replica.stats.snapshot()["page_requests"]
        assert first.returncode == 0, first.log[-2000:]
        check_ledger(first, pages_asked({}, asked_first), skipped=set())
        done_before = finished_pages(first.detalles)

        replica.add_features(20)
        second = run_crawl(replica, data, **FAST_RETRIES)
        asked_second = replica.stats.snapshot()["page_requests"]
    assert second.returncode == 0, second.log[-2000:]
    asked = pages_asked(asked_first, asked_second)
    assert set(failing) <= asked, "a failed page is asked again"
    check_ledger(second, asked, skipped=done_before)
