"""A season of weekly runs into one data folder, against a replica that changes every week
(tools.replica.season): what issue 20 asks of a crawl run by cron for a year.

Every week but the one the server is down exits 0, even though two pages fail all season
(persisting failures are reported, not alarmed); each week's change log holds exactly the
changes since the last complete harvest, once; every complete harvest is a snapshot; the
run history gains one line a run; a quiet week costs the server under 10 % of the requests
of a full harvest; the week the server is down leaves the data folder as it was, but for
the run history's line.
"""

import pytest

from lapaz.storage.history import HISTORY_DIR
from lapaz.storage.runs import RUNS_FILE, read_runs
from tests.crawl import run_crawl
from tools.replica import ReplicaConfig, ReplicaServer
from tools.replica.season import SEASON, Season

FEATURES = 1000
# A down week must end within this (issue 20: "exits non-zero within 60 s").
DOWN_WEEK_SECONDS = 60
# Retries of the pages that always fail wait milliseconds, not the minutes a polite crawl
# waits: what is judged here is what each week leaves, not its pace.
FAST_RETRIES = {"LAPAZ_RETRY_BACKOFF_BASE": 0.01, "LAPAZ_RETRY_BACKOFF_MAX": 0.1}
KEPT_FILES = ("tramites.jsonl", "detalles.jsonl", "cambios.jsonl")


def kept_bytes(data) -> dict[str, bytes]:
    """The files a week the server is down must leave as they were: the records, the
    change log and the snapshots (the run history excepted, it gains the week's line)."""
    files = {name: (data / name).read_bytes() for name in KEPT_FILES if (data / name).exists()}
    for path in sorted((data / HISTORY_DIR).iterdir()):
        if path.name != RUNS_FILE:
            files[f"{HISTORY_DIR}/{path.name}"] = path.read_bytes()
    return files


def requests_seen(replica) -> int:
    return sum(replica.stats.snapshot()["requests"].values())


def in_order(lines: list[tuple[int, str, str | None]]) -> list[tuple[int, str, str | None]]:
    return sorted(lines, key=lambda line: (line[0], line[1], line[2] or ""))


def log_lines(result, since: int) -> list[tuple[int, str, str | None]]:
    """The change log's lines from position `since` on, as (id, tipo, campo)."""
    return in_order(
        [(line["id_pc_tramite"], line["tipo"], line["campo"]) for line in result.cambios[since:]]
    )


@pytest.mark.e2e
# Strict: once the crawl judges the dataset, this passes, and the marker must go.
@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="issue 20 items 1 and 4, not yet done: week 1 exits 1 on the share of failed"
    " pages among the few asked (2 persisting of 12), and the down week rewrites"
    " detalles.jsonl without its failed pages",
)
def test_a_season_of_weekly_runs(tmp_path):
    data = tmp_path / "data"
    with ReplicaServer(ReplicaConfig(features=FEATURES)) as replica:
        season = Season(replica)
        full_harvest = quiet_week = None
        unlogged: list[tuple[int, str, str | None]] = []
        logged = harvests = 0
        for number, week in enumerate(SEASON):
            unlogged += season.next_week(week)
            what = f"week {number} ({week})"
            before, asked_before = (kept_bytes(data) if number else {}), requests_seen(replica)
            if week.down:
                replica.stop()
            result = run_crawl(
                replica, data, timeout=DOWN_WEEK_SECONDS if week.down else 240, **FAST_RETRIES
            )
            if week.down:
                replica.start()
            asked = requests_seen(replica) - asked_before
            runs = read_runs(data).records

            assert len(runs) == number + 1, what
            if week.down:
                assert result.returncode != 0, what
                assert result.log.rstrip().splitlines()[-1].startswith("error: "), what
                assert kept_bytes(data) == before, f"{what}: the data folder changed"
                assert asked == 0, what
                assert runs[-1]["estado"] == "fallida", what
                assert runs[-1]["motivo"] in result.log, what
                continue
            assert result.returncode == 0, f"{what}: {result.log[-2000:]}"
            harvests += 1
            assert len(result.snapshots) == harvests, what
            if number == 0:
                assert not (data / "cambios.jsonl").exists(), what
            else:
                assert log_lines(result, logged) == in_order(unlogged), what
                logged, unlogged = len(result.cambios), []
            assert runs[-1]["estado"] == "correcta", what
            assert runs[-1]["features_recibidas"] == len(replica.features), what
            assert runs[-1]["features_servidor"] == len(replica.features), what
            assert runs[-1]["peticiones"] == asked, what
            assert runs[-1]["paginas_fallidas"] == len(season.failing_pages), what
            if number == 0:
                full_harvest = asked
            elif week == SEASON[0]:
                quiet_week = asked
    assert quiet_week is not None
    assert quiet_week < 0.10 * full_harvest, (quiet_week, full_harvest)
