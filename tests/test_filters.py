from datetime import date

import pytest

from lapaz.layer.filters import Filters, resolve_macrodistritos
from tests.crawl import run_crawl
from tools.replica import ReplicaConfig, ReplicaServer


@pytest.mark.parametrize(
    ("value", "names"),
    [
        ("sur", ("V - SUR",)),
        ("V - SUR", ("V - SUR",)),
        ("v", ("V - SUR",)),
        ("periférica", ("III - PERIFERICA",)),
        ("sur, centro", ("V - SUR", "VII - CENTRO")),
        (None, ()),
    ],
)
def test_macrodistrito_names(value, names):
    assert resolve_macrodistritos(value) == names


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"macrodistrito": "norte"}, "not a macro-district"),
        ({"desde": "2020-13-01"}, "expected a date as YYYY-MM-DD"),
        ({"desde": "2021-01-01", "hasta": "2020-01-01"}, "is after"),
    ],
)
def test_bad_filter_values_are_explained(arguments, message):
    with pytest.raises(ValueError, match=message):
        Filters.from_arguments(**arguments)


def test_cql_and_local_filter_agree():
    filters = Filters.from_arguments(desde="2020-01-01", hasta="2020-12-31", macrodistrito="sur")
    assert filters.cql() == (
        "fechaRegistro >= '2020-01-01' AND fechaRegistro < '2021-01-01' "
        "AND macroDistrito = 'V - SUR'"
    )
    # the local filter reads tramites records, as the spider builds them
    base = {"macro_distrito": "V - SUR", "fecha_registro": "2020-12-31T23:59:00Z"}
    assert filters.accepts(base)
    assert not filters.accepts({**base, "fecha_registro": "2021-01-01T00:00:00Z"})
    assert not filters.accepts({**base, "fecha_registro": None})
    assert not filters.accepts({**base, "macro_distrito": "VII - CENTRO"})
    assert filters.desde == date(2020, 1, 1)


def test_several_macrodistritos_filter_on_our_side_only():
    filters = Filters.from_arguments(macrodistrito="sur,centro")
    assert filters.cql() is None
    assert filters.accepts({"macro_distrito": "VII - CENTRO"})


def expected(replica, desde, hasta, macro):
    return {
        f["properties"]["idPCTramite"]
        for f in replica.features
        if f["properties"]["macroDistrito"] == macro
        and f["properties"]["fechaRegistro"]
        and desde <= f["properties"]["fechaRegistro"][:10] <= hasta
    }


@pytest.mark.e2e
@pytest.mark.parametrize("server_filters", [True, False], ids=["server", "ignored-by-server"])
def test_filters_against_the_replica(tmp_path, server_filters):
    config = ReplicaConfig(features=1500, cql_filter=server_filters)
    arguments = {"desde": "2020-01-01", "hasta": "2021-06-30", "macrodistrito": "sur"}
    with ReplicaServer(config) as replica:
        result = run_crawl(replica, tmp_path / "data", arguments=arguments)
        wfs_bytes = replica.stats.snapshot()["bytes_sent"]
    assert result.returncode == 0, result.log[-3000:]
    wanted = expected(replica, "2020-01-01", "2021-06-30", "V - SUR")
    assert wanted
    assert {r["id_pc_tramite"] for r in result.tramites} == wanted
    approved = {f["properties"]["idPCTramite"] for f in replica.approved_features()}
    assert {r["id_pc_tramite"] for r in result.detalles} == wanted & approved
    if server_filters:
        assert "features left out by the filters: 0" in result.log
        # a small question costs a small download
        assert wfs_bytes < 0.5 * len(replica.features) * 700
    else:
        assert f"features harvested: {len(replica.features)} of {len(replica.features)}" in (
            result.log
        )


@pytest.mark.e2e
def test_a_server_rejecting_the_query_is_asked_again_more_simply(tmp_path):
    with ReplicaServer(ReplicaConfig(features=300)) as replica:
        result = run_crawl(
            replica,
            tmp_path / "data",
            arguments={"macrodistrito": "centro"},
            LAPAZ_WFS_SORT_BY="noSuchProperty",
        )
    assert result.returncode == 0, result.log[-3000:]
    # First without the filter (then applied on our side), then without the order.
    assert "rejected CQL_FILTER" in result.log
    assert "rejected sortBy" in result.log
    centro = {
        f["properties"]["idPCTramite"]
        for f in replica.features
        if f["properties"]["macroDistrito"] == "VII - CENTRO"
    }
    assert {r["id_pc_tramite"] for r in result.tramites} == centro
