"""Permits registered in the four hours after New Year's midnight UTC: still the old year
in La Paz (UTC-4). Which year the site files them under is not known: the crawl asks under
the UTC year, and under La Paz's when that is refused."""

import pytest
import pytest_twisted

from lapaz.crawl import statkeys
from lapaz.permits.identity import permit_of
from lapaz.records.tramite import tramite_record
from lapaz.records.values import la_paz_year
from tests.crawl import crawl_in_process
from tools.replica import ReplicaConfig, ReplicaServer, page_identifier


@pytest.mark.parametrize(
    ("fecha", "year"),
    [
        ("2021-01-01T02:30:00.000Z", 2020),
        ("2021-01-01T04:00:00Z", 2021),
        ("2020-12-31T23:59:00Z", 2020),
        ("2021-01-01", 2021),
        (None, None),
    ],
)
def test_la_paz_year(fecha, year):
    assert la_paz_year(fecha) == year


def test_a_permit_knows_its_la_paz_year_only_where_it_differs():
    near = permit_of(tramite_record({"fechaRegistro": "2021-01-01T01:00:00Z"}))
    assert (near.anio, near.anio_la_paz) == (2021, 2020)
    assert permit_of(tramite_record({"fechaRegistro": "2021-06-01T01:00:00Z"})).anio_la_paz is None


NEW_YEAR = "2021-01-01T02:30:00.000Z"


def answers_near_new_year(replica, feature) -> bool:
    """Whether the site would answer this permit's page, registered at NEW_YEAR, under the
    year it files it (the replica refuses ~3% of approved permits' pages anyway)."""
    moved = {**feature, "properties": {**feature["properties"], "fechaRegistro": NEW_YEAR}}
    identifiers = [page_identifier(moved, clock) for clock in ("utc", "la_paz")]
    return all(identifiers) and not any(map(replica.is_refused, identifiers))


@pytest.mark.e2e
@pytest.mark.parametrize("year_clock", ["la_paz", "utc"])
@pytest_twisted.ensureDeferred
async def test_a_page_refused_under_the_utc_year_is_asked_under_la_pazs(tmp_path, year_clock):
    with ReplicaServer(ReplicaConfig(features=400, year_clock=year_clock)) as replica:
        near = [f for f in replica.approved_features() if answers_near_new_year(replica, f)][:3]
        ids = {f["properties"]["idPCTramite"] for f in near}
        replica.change_features({key: {"fechaRegistro": NEW_YEAR} for key in ids})
        result = await crawl_in_process(replica, tmp_path / "data")
        asked = replica.stats.snapshot()["page_requests"]
        changed = [f for f in replica.features if f["properties"]["idPCTramite"] in ids]
    assert result.verdict.succeeded, result.verdict.line
    records = {r["id_pc_tramite"]: r for r in result.detalles if r["id_pc_tramite"] in ids}
    assert {r["error"] for r in records.values()} == {None}, "every page answered"
    utc_ids = {page_identifier(f) for f in changed}
    la_paz_ids = {page_identifier(f, "la_paz") for f in changed}
    if year_clock == "la_paz":
        assert {r["anio"] for r in records.values()} == {2020}
        assert {r["identificador"] for r in records.values()} == la_paz_ids
        assert all(asked[i] == 1 for i in utc_ids | la_paz_ids), "each asked once"
        assert result.stats[statkeys.PAGES_LA_PAZ_YEAR_ASKED] == len(ids)
        assert result.stats[statkeys.PAGES_LA_PAZ_YEAR_ANSWERED] == len(ids)
    else:
        assert {r["anio"] for r in records.values()} == {2021}
        assert not la_paz_ids & set(asked), "answered under the UTC year: asked once"
        assert statkeys.PAGES_LA_PAZ_YEAR_ASKED not in result.stats
    assert max(asked.values()) == 1
