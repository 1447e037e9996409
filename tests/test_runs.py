"""The run history: its file (lapaz.storage.runs), the layer's digest, the line of a
crawl, `python -m postprocess.corridas` and the report's "Runs" section."""

import fcntl
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from lapaz.crawl import statkeys
from lapaz.crawl.extensions.run_history import closed_run, not_started_run
from lapaz.crawl.state import Verdict
from lapaz.layer.guard import fingerprint_digest, note_property_types
from lapaz.records.schema import PageOutcome
from lapaz.storage.previous import PageFailure
from lapaz.storage.runs import Run, append_run, read_runs, runs_path
from postprocess import corridas
from postprocess.runs_report import RUNS_CHART, SECTION_TITLE, runs_chart, write_runs_section
from tests.crawl import run_crawl
from tools.replica import ReplicaConfig, ReplicaServer

MONDAY = datetime(2026, 12, 7, 7, 30, 2, 400_000, tzinfo=UTC)


def fingerprint_of(*features: dict) -> dict[str, list[str]]:
    """The layer's fingerprint as the crawl's state notes it, feature by feature."""
    types: dict[str, set[str]] = {}
    for properties in features:
        note_property_types(properties, types)
    return {name: sorted(kinds) for name, kinds in types.items()}


def test_the_digest_changes_with_a_name_or_a_type_only():
    def digest(*features):
        return fingerprint_digest(fingerprint_of(*features))

    same = digest({"a": 1, "b": "x"}, {"a": 2, "b": None})
    assert same == digest({"b": "y", "a": 7})
    assert len(same) == 16
    assert same != digest({"a": "1", "b": "x"}), "a number served as text"
    assert same != digest({"A": 1, "b": "x"}), "a property renamed"
    assert same != digest({"a": 1, "b": "x", "c": None}), "a property added"
    assert fingerprint_digest({}) is None


def test_runs_are_appended_and_read_back_oldest_first(tmp_path):
    assert read_runs(tmp_path).records == []
    first = not_started_run(MONDAY, MONDAY + timedelta(seconds=1.26), "another crawl is writing")
    second = Run(
        inicio="2026-12-14T07:30:00Z", fin="2026-12-14T07:31:00Z", duracion_s=60.0,
        estado="correcta", version="1.0.0",
    )  # fmt: skip
    assert append_run(tmp_path, first) == tmp_path / "historial" / "corridas.jsonl"
    append_run(tmp_path, second)
    assert read_runs(tmp_path).records == [asdict(first), asdict(second)]
    assert read_runs(tmp_path).records[0] | {"motivo": None} == {
        **dict.fromkeys(asdict(first)),
        "inicio": "2026-12-07T07:30:02Z",
        "fin": "2026-12-07T07:30:03Z",
        "duracion_s": 1.3,
        "estado": "no_iniciada",
        "version": "1.0.0",
    }


def test_a_line_cut_short_by_a_kill_is_left_out_with_a_warning(tmp_path):
    append_run(tmp_path, not_started_run(MONDAY, MONDAY, "x"))
    with runs_path(tmp_path).open("ab") as stream:
        stream.write(b'{"inicio": "2026-')
    content = read_runs(tmp_path)
    assert len(content.records) == 1
    assert "incomplete" in content.warnings[0]


LAYER = {"codigoCatastral": ["string"], "idPCTramite": ["integer"]}


def a_verdict(**fields) -> Verdict:
    """A crawl's verdict as CrawlState.judge gives it (a complete harvest by default)."""
    pages = {outcome.value: 0 for outcome in PageOutcome}
    base = {
        "complete": True,
        "reason": None,
        "line": None,
        "exit_code": 0,
        "finish_reason": "finished",
        "features_received": 300,
        "features_matched": 300,
        "pages": pages | {"ok": 60, "rechazada": 2, "failed": 3, "no_solicitada": 1},
        "new_failures": 1,
        "persisting": (PERSISTING, PERSISTING),
        "pages_wanted": 80,
        "warnings": (),
        "problems": (),
        "fingerprint": LAYER,
    }
    return Verdict(**(base | fields))


PERSISTING = PageFailure("aWQ=", 7, "http_500", "2026-11-30T07:31:00Z", 2)


def crawl_stats() -> dict:
    return {
        "start_time": MONDAY,
        "finish_time": MONDAY + timedelta(minutes=11, seconds=13),
        "downloader/request_count": 70,
        "downloader/response_bytes": 12_500_000,
        statkeys.TRAMITES_NEW: 12,
        statkeys.ARCHIVE_FILE: "lapaz-20261207T073002Z.warc.gz",
    }


def test_the_line_of_a_run_that_succeeded():
    run = closed_run(crawl_stats(), a_verdict(), MONDAY + timedelta(hours=1))
    assert run == Run(
        inicio="2026-12-07T07:30:02Z",
        fin="2026-12-07T07:41:15Z",
        duracion_s=673.0,
        estado="correcta",
        version="1.0.0",
        cierre="finished",
        motivo=None,
        features_recibidas=300,
        features_servidor=300,
        tramites_nuevos=12,
        paginas_pedidas=65,
        paginas_ok=60,
        paginas_rechazadas=2,
        paginas_sin_datos=0,
        paginas_fallidas=3,
        paginas_persistentes=2,
        peticiones=70,
        bytes_recibidos=12_500_000,
        warc="lapaz-20261207T073002Z.warc.gz",
        capa_huella=fingerprint_digest(LAYER),
        capa_propiedades=LAYER,
    )


def test_the_line_of_a_run_that_failed_is_the_verdicts():
    line = "The WFS harvest is incomplete: received 120 features of the 300 the server matched"
    verdict = a_verdict(
        complete=False,
        reason="wfs_incomplete",
        line=line,
        exit_code=1,
        finish_reason="wfs_incomplete",
        features_received=120,
        fingerprint={},
    )
    run = closed_run(crawl_stats(), verdict, MONDAY)
    assert (run.estado, run.cierre, run.motivo) == ("fallida", "wfs_incomplete", line)
    assert (run.features_recibidas, run.features_servidor) == (120, 300)
    assert (run.capa_huella, run.capa_propiedades) == (None, None)


def history_of(tmp_path, *runs: Run):
    for run in runs:
        append_run(tmp_path, run)
    return tmp_path


def a_run(day: int, **fields) -> Run:
    base = {
        "inicio": f"2026-12-{day:02d}T07:30:00Z",
        "fin": f"2026-12-{day:02d}T07:41:00Z",
        "duracion_s": 673.0,
        "estado": "correcta",
        "version": "1.0.0",
        "cierre": "finished",
        "features_recibidas": 13907,
        "features_servidor": 13907,
        "tramites_nuevos": 41,
        "paginas_pedidas": 57,
        "paginas_ok": 50,
        "paginas_rechazadas": 2,
        "paginas_sin_datos": 0,
        "paginas_fallidas": 5,
        "peticiones": 63,
        "bytes_recibidos": 13_114_368,
    }
    return Run(**{**base, **fields})


def test_corridas_prints_one_row_a_run(tmp_path, capsys):
    history_of(
        tmp_path,
        a_run(7),
        a_run(
            14,
            duracion_s=4.2,
            estado="fallida",
            motivo="The WFS harvest is incomplete: the WFS server is down",
            features_recibidas=0,
            features_servidor=None,
        ),
        a_run(21, duracion_s=7260.0),
    )
    assert corridas.main(["--data-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    header, first, down, long = lines
    assert header.split() == [
        "start", "(UTC)", "took", "ended", "features", "new", "asked", "ok", "refused",
        "failed", "persisting", "requests", "MB", "why",
    ]  # fmt: skip
    assert first.split() == [
        "2026-12-07T07:30:00Z", "11", "min", "13", "s", "correcta", "13,907/13,907", "41",
        "57", "50", "2", "5", "–", "63", "13.1",
    ]  # fmt: skip
    assert "4.2 s" in down
    assert "0/–" in down
    assert "fallida" in down
    assert down.endswith("  The WFS harvest is incomplete: the WFS server is down")
    assert "2 h 01 min" in long
    # Columns line up: every row's figures end where the header's do.
    assert {line.index("  13,907/13,907") for line in (first, long)} == {
        first.index("  13,907/13,907")
    }

    assert corridas.main(["--data-dir", str(tmp_path), "--ultimas", "1"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


@pytest.mark.parametrize(
    ("locale", "no_runs", "no_folder", "too_few"),
    [
        (
            "en_US.UTF-8",
            "No runs recorded yet in {path}: each scrapy crawl adds one.",
            "{folder}: no such folder (give the crawl's with --data-dir)",
            "--ultimas must be 1 or more: 0",
        ),
        (
            "es_BO.UTF-8",
            "Todavía no hay corridas registradas en {path}: cada scrapy crawl añade una.",
            "{folder}: la carpeta no existe (indique la de la descarga con --data-dir)",
            "--ultimas debe ser 1 o más: 0",
        ),
    ],
)
def test_corridas_without_runs_or_folder(
    tmp_path, capsys, user_locale, locale, no_runs, no_folder, too_few
):
    user_locale(locale)
    assert corridas.main(["--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == (
        no_runs.format(path=tmp_path / "historial" / "corridas.jsonl") + "\n"
    )
    assert corridas.main(["--data-dir", str(tmp_path / "nada")]) == 1
    assert capsys.readouterr().err == "error: " + no_folder.format(folder=tmp_path / "nada") + "\n"
    with pytest.raises(SystemExit):
        corridas.main(["--ultimas", "0"])
    assert capsys.readouterr().err.endswith(f"error: {too_few}\n")


def test_corridas_names_a_damaged_history(tmp_path, capsys):
    path = runs_path(tmp_path)
    path.parent.mkdir()
    path.write_bytes(b"not json\n" + orjson.dumps(asdict(a_run(7))) + b"\n")
    assert corridas.main(["--data-dir", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"error: {path}: line 1 is not valid JSON\n"


@pytest.mark.parametrize(("runs", "chart"), [(1, False), (3, True)])
def test_the_report_section_draws_the_runs_from_two_on(tmp_path, runs, chart):
    data_dir = history_of(
        tmp_path / "data",
        *(
            a_run(7 * (week + 1), estado="fallida" if week == 1 else "correcta")
            for week in range(runs)
        ),
    )
    output = tmp_path / "report"
    output.mkdir()
    summary = output / "summary.md"
    summary.write_text("# Summary\n", encoding="utf-8")

    written = write_runs_section(data_dir, output, summary)

    assert written == ([output / RUNS_CHART] if chart else [])
    assert (output / RUNS_CHART).exists() is chart
    text = summary.read_text(encoding="utf-8")
    assert SECTION_TITLE in text
    assert (f"{runs} runs recorded" if runs > 1 else "1 run recorded") in text
    assert text.count("2026-12-") >= runs
    assert (f"]({RUNS_CHART})" in text) is chart


def a_season(data_dir):
    """Three runs, the second failed: what the Spanish and English tests below read."""
    return history_of(
        data_dir,
        a_run(7),
        a_run(14, duracion_s=4.2, estado="fallida", motivo="the WFS server is down"),
        a_run(21, bytes_recibidos=2_700_000),
    )


@pytest.mark.parametrize(
    ("locale", "header", "row"),
    [
        (
            "es_BO.UTF-8",
            "inicio (UTC) duró estado objetos espaciales nuevos solicitadas bien rechazadas"
            " fallidas persistentes solicitudes MB motivo",
            "2026-12-14T07:30:00Z 4,2 s fallida 13.907/13.907 41 57 50 2 5 – 63 13,1"
            " the WFS server is down",
        ),
        (
            "en_US.UTF-8",
            "start (UTC) took ended features new asked ok refused failed persisting requests"
            " MB why",
            "2026-12-14T07:30:00Z 4.2 s fallida 13,907/13,907 41 57 50 2 5 – 63 13.1"
            " the WFS server is down",
        ),
    ],
)
def test_corridas_speaks_the_users_language(tmp_path, capsys, user_locale, locale, header, row):
    user_locale(locale)
    a_season(tmp_path)
    assert corridas.main(["--data-dir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == header.split()
    assert lines[2].split() == row.split()
    # The data's own words stay: the state is the history's value.
    assert lines[1].split()[5] == "correcta"
    # Aligned in either language: the figures end under their header.
    assert len({line.index(" 41 ") + 3 for line in lines[1:]}) == 1
    assert lines[0].index(header.split()[-1]) == lines[2].index("the WFS")


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "es_BO.UTF-8",
            [
                "## Corridas",
                "3 corridas registradas en `historial/corridas.jsonl` (correcta 2, fallida 1).",
                "La más reciente empezó el 2026-12-21T07:30:00Z y terminó con estado `correcta`.",
                "Las últimas 3 (python -m postprocess.corridas las muestra todas):",
                "![Las corridas en el tiempo](runs.png)",
                "2026-12-14T07:30:00Z        4,2 s  fallida",
            ],
        ),
        (
            "en_US.UTF-8",
            [
                "## Runs",
                "3 runs recorded in `historial/corridas.jsonl` (correcta 2, fallida 1).",
                "The latest started 2026-12-21T07:30:00Z and ended `correcta`.",
                "The last 3 (python -m postprocess.corridas shows them all):",
                "![The runs over time](runs.png)",
                "2026-12-14T07:30:00Z        4.2 s  fallida",
            ],
        ),
    ],
)
def test_the_report_section_speaks_the_users_language(tmp_path, user_locale, locale, expected):
    user_locale(locale)
    data_dir = a_season(tmp_path / "data")
    summary = tmp_path / "summary.md"
    summary.write_text("", encoding="utf-8")
    write_runs_section(data_dir, tmp_path, summary)
    text = summary.read_text(encoding="utf-8")
    for line in expected:
        assert line in text, line


def test_one_run_is_one_in_the_section_and_the_latest_says_why_it_failed(tmp_path, user_locale):
    user_locale("es_BO.UTF-8")
    data_dir = history_of(tmp_path / "data", a_run(7, estado="fallida", motivo="sin red"))
    summary = tmp_path / "summary.md"
    summary.write_text("", encoding="utf-8")
    assert write_runs_section(data_dir, tmp_path, summary) == []
    text = summary.read_text(encoding="utf-8")
    assert "1 corrida registrada en `historial/corridas.jsonl` (fallida 1)." in text
    assert "terminó con estado `fallida`: sin red" in text
    assert "La última (python -m postprocess.corridas las muestra todas):" in text


@pytest.mark.parametrize(
    ("locale", "texts"),
    [
        (
            "es_BO.UTF-8",
            {"Las 3 corridas registradas (inicio, UTC)", "Duración", "minutos",
             "Solicitudes enviadas", "Objetos espaciales recibidos",
             "Páginas de permisos fallidas", "corrida fallida", "solicitudes",
             "objetos espaciales", "páginas"},
        ),
        (
            "en_US.UTF-8",
            {"The 3 runs recorded (start, UTC)", "Duration", "minutes", "Requests sent",
             "Features received", "Permit pages failed", "failed run", "requests", "features",
             "pages"},
        ),
    ],
)  # fmt: skip
def test_the_runs_chart_speaks_the_users_language(tmp_path, user_locale, locale, texts):
    user_locale(locale)
    figure = runs_chart(read_runs(a_season(tmp_path)).records)
    shown = {figure.get_suptitle()}
    for axes in figure.axes:
        shown |= {axes.get_title(), axes.get_ylabel()}
        legend = axes.get_legend()
        if legend is not None:
            shown |= {text.get_text() for text in legend.get_texts()}
    assert shown == texts


def test_the_report_adds_no_section_without_a_history(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("# Summary\n", encoding="utf-8")
    assert write_runs_section(tmp_path, tmp_path, summary) == []
    assert summary.read_text(encoding="utf-8") == "# Summary\n"


# -- Real crawls ------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_crawl_leaves_one_line_with_what_the_server_saw(tmp_path):
    data = tmp_path / "data"
    with ReplicaServer(ReplicaConfig(features=120)) as replica:
        result = run_crawl(replica, data)
        served = replica.stats.snapshot()
    assert result.returncode == 0, result.log[-3000:]
    (run,) = read_runs(data).records
    assert run["estado"] == "correcta"
    assert (run["cierre"], run["motivo"]) == ("finished", None)
    assert run["features_recibidas"] == run["features_servidor"] == 120
    assert run["tramites_nuevos"] == 120
    assert run["paginas_pedidas"] == served["requests"]["page"]
    assert run["paginas_pedidas"] == run["paginas_ok"] + run["paginas_rechazadas"]
    assert run["peticiones"] == sum(served["requests"].values())
    assert 0.9 < run["bytes_recibidos"] / served["bytes_sent"] <= 1.0
    assert (data / "archivo" / run["warc"]).is_file()
    assert run["paginas_persistentes"] == 0
    assert run["capa_propiedades"]["codigoCatastral"] == ["string"]
    assert run["capa_huella"] == fingerprint_digest(run["capa_propiedades"])
    assert (
        orjson.loads((data / "capa.json").read_bytes())["propiedades"] == (run["capa_propiedades"])
    ), "one fingerprint: the run history's is capa.json's"
    assert f"Run recorded in {runs_path(data)}" in result.log


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("arguments", "locked", "why"),
    [
        ({}, True, "a crawl is writing to"),
        ({"limite": "muchos"}, False, "limite"),
    ],
)
def test_a_crawl_that_cannot_start_leaves_its_line_too(tmp_path, arguments, locked, why):
    data = tmp_path / "data"
    data.mkdir()
    with (data / ".lock").open("a") as lock, ReplicaServer(ReplicaConfig(features=20)) as replica:
        if locked:  # another crawl holds the folder
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run_crawl(replica, data, arguments)
        asked = replica.stats.snapshot()["requests"]
    assert result.returncode == 1
    assert asked == {}
    (run,) = read_runs(data).records
    assert run["estado"] == "no_iniciada"
    assert why in run["motivo"]
    assert f"error: {run['motivo']}" in result.log
    assert run["features_recibidas"] is None


@pytest.mark.e2e
def test_a_crawl_that_cannot_start_makes_no_data_folder_for_its_line(tmp_path):
    with ReplicaServer(ReplicaConfig(features=20)) as replica:
        result = run_crawl(replica, tmp_path / "data", {"limite": "muchos"})
    assert result.returncode == 1
    assert not (tmp_path / "data").exists()
