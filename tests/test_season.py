"""A season of weekly runs into one data folder, against a replica that changes every week
(tools.replica.season): what issue 20 asks of a crawl run by cron for a year.

Every week but the one the server is down exits 0, even though two pages fail all season:
persisting failures are reported (the summary, `paginas_fallidas.jsonl` with since when,
the run history's `paginas_persistentes`), not alarmed; each week's change log holds
exactly the changes since the last complete harvest, once; every complete harvest is a
snapshot; the run history gains one line a run; a quiet week costs the server under 10 %
of the requests of a full harvest (counted at the server); the week the server is down
ends within 60 s on one line and leaves the data folder byte for byte as it was, but for
the run history's line.
"""

import time

import pytest

from lapaz.storage.history import HISTORY_DIR
from lapaz.storage.jsonl import read_jsonl
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
KEPT_FILES = (
    "tramites.jsonl",
    "detalles.jsonl",
    "cambios.jsonl",
    "paginas_fallidas.jsonl",
    "capa.json",
)


def kept_bytes(data) -> dict[str, bytes]:
    """The files a week the server is down must leave as they were: the records, the
    change log and the snapshots (the run history excepted, it gains the week's line)."""
    files = {name: (data / name).read_bytes() for name in KEPT_FILES if (data / name).exists()}
    for path in sorted((data / HISTORY_DIR).iterdir()):
        if path.name != RUNS_FILE:
            files[f"{HISTORY_DIR}/{path.name}"] = path.read_bytes()
    return files


def failing_pages(data) -> dict[str, dict]:
    """The persisting-failures file, by page identifier."""
    lines = read_jsonl(data / "paginas_fallidas.jsonl").records
    return {line["identificador"]: line for line in lines}


def error_lines(log: str) -> list[str]:
    """The lines the command itself says a run failed with (not the log's ERROR lines)."""
    return [line for line in log.splitlines() if line.startswith("error: ")]


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
def test_a_season_of_weekly_runs(tmp_path):
    data = tmp_path / "data"
    with ReplicaServer(ReplicaConfig(features=FEATURES)) as replica:
        season = Season(replica)
        full_harvest = quiet_week = first_failed = None
        unlogged: list[tuple[int, str, str | None]] = []
        logged = harvests = 0
        for number, week in enumerate(SEASON):
            unlogged += season.next_week(week)
            what = f"week {number} ({week})"
            before, asked_before = (kept_bytes(data) if number else {}), requests_seen(replica)
            if week.down:
                replica.stop()
            started = time.monotonic()
            result = run_crawl(
                replica, data, timeout=DOWN_WEEK_SECONDS if week.down else 240, **FAST_RETRIES
            )
            took = time.monotonic() - started
            if week.down:
                replica.start()
            asked = requests_seen(replica) - asked_before
            runs = read_runs(data).records

            assert len(runs) == number + 1, what
            if week.down:
                assert result.returncode != 0, what
                assert took < DOWN_WEEK_SECONDS, what
                # One line says why, and it is the last.
                (error,) = error_lines(result.log)
                assert result.log.rstrip().splitlines()[-1] == error, what
                assert kept_bytes(data) == before, f"{what}: the data folder changed"
                assert asked == 0, what
                assert runs[-1]["estado"] == "fallida", what
                assert runs[-1]["motivo"] in result.log, what
                continue
            assert result.returncode == 0, f"{what}: {result.log[-2000:]}"
            assert error_lines(result.log) == [], what
            assert "MONITOR FAILED" not in result.log, what
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
            # The pages failing all season: listed with since when, reported, never alarmed.
            failing = failing_pages(data)
            assert failing.keys() == set(season.failing_pages), what
            assert {line["corridas"] for line in failing.values()} == {harvests}, what
            if number == 0:
                first_failed = {page: line["primera_falla"] for page, line in failing.items()}
            assert {page: line["primera_falla"] for page, line in failing.items()} == (
                first_failed
            ), what
            # New the first week, persisting every week after.
            always = len(season.failing_pages)
            new, persisting = (0, always) if harvests > 1 else (always, 0)
            assert runs[-1]["paginas_persistentes"] == persisting, what
            assert f" failed ({new} new, {persisting} persisting)" in result.log, what
            for page in season.failing_pages if persisting else ():
                assert f"persisting: {page} " in result.log, what
            if number == 0:
                full_harvest = asked
            elif week == SEASON[0]:
                quiet_week = asked
    assert quiet_week is not None
    assert quiet_week < 0.10 * full_harvest, (quiet_week, full_harvest)
