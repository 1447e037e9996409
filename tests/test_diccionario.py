"""The data dictionary is what its generator writes and explains every merged column."""

import pytest

from postprocess.diccionario import DEFAULT_OUTPUT, dictionary_markdown, main, undocumented
from postprocess.formats import geo_frame
from postprocess.merge import main as merge_main
from postprocess.report import read_table
from tests.crawl import run_crawl
from tools.crawl import PROJECT_ROOT
from tools.replica import ReplicaConfig, ReplicaServer


def test_the_committed_dictionary_is_the_generated_one():
    committed = (PROJECT_ROOT / DEFAULT_OUTPUT).read_text(encoding="utf-8")
    assert committed == dictionary_markdown(), "run python -m postprocess.diccionario"


def test_check_fails_on_a_stale_file(tmp_path, capsys):
    stale = tmp_path / "diccionario.md"
    stale.write_text("# old\n", encoding="utf-8")
    assert main(["--output", str(stale), "--check"]) == 1
    assert main(["--output", str(stale)]) == 0
    assert main(["--output", str(stale), "--check"]) == 0


def test_undocumented_columns_are_found():
    known = ["id_pc_tramite", "par__superficie_construida_num", "par__lateral_1__2", "fuente"]
    assert undocumented([*known, "par__nueva_fila", "otro__x_unidad"]) == [
        "par__nueva_fila",
        "otro__x_unidad",
    ]


@pytest.mark.e2e
def test_every_column_of_a_crawls_merged_table_is_in_the_dictionary(tmp_path):
    data_dir = tmp_path / "data"
    with ReplicaServer(ReplicaConfig(features=600, latency=0)) as site:
        crawl = run_crawl(site, data_dir, arguments={"resultado": "todos"})
    assert crawl.returncode == 0, crawl.log[-3000:]
    output = data_dir / "tramites_merge.csv"
    arguments = ["--data-dir", str(data_dir), "--output", str(output), "--numeric"]
    assert merge_main(arguments) == 0

    merged = read_table(output)
    columns = [*geo_frame(merged).columns, "descarga_incompleta"]
    assert any(name.endswith("__2") for name in columns)  # the replica repeats a label
    assert undocumented(columns) == []
