"""The READMEs are a front door: short, the same in both languages, their commands work in
the order they give them, and every link of theirs and of docs/ leads to a file."""

import os
import re
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tools.crawl import CRAWL_TIMEOUT, PROJECT_ROOT
from tools.scrapyd_server import free_port

READMES = ("README.md", "README.es.md")
MAX_LINES = 200
CODE_BLOCK = re.compile(r"```(sh|bat)\n(.*?)```", re.DOTALL)
# [text](target): a Markdown link; images too.
LINK = re.compile(r"\]\(([^)\s]+)\)")
LINUX_PYTHON = ".venv/bin/python"
WINDOWS_PYTHON = r".venv\Scripts\python"
DATASETTE_START_TIMEOUT = 60


def read(name: str) -> str:
    return (PROJECT_ROOT / name).read_text(encoding="utf-8")


def blocks(readme: str, kind: str) -> list[list[str]]:
    """The README's code blocks of `kind` (sh, bat), each as its lines."""
    found = CODE_BLOCK.findall(readme)
    return [body.strip().splitlines() for language, body in found if language == kind]


def demo_commands(readme: str) -> list[str]:
    """The block that starts with the demo: the commands a newcomer runs first."""
    (demo,) = [block for block in blocks(readme, "sh") if block[0].endswith("-m tools.demo")]
    return demo


def test_the_readmes_are_short_link_each_other_and_give_the_same_commands():
    english, spanish = read("README.md"), read("README.es.md")

    for name in READMES:
        assert len(read(name).splitlines()) <= MAX_LINES, name
    assert "(README.es.md)" in english
    assert "(README.md)" in spanish
    for kind in ("sh", "bat"):
        assert blocks(spanish, kind) == blocks(english, kind), kind
    for readme in (english, spanish):
        assert "Gobierno Autónomo Municipal de La Paz" in readme
        assert "python -m postprocess.datasette data/tramites.gpkg" in readme
        assert "python -m postprocess.datasette data/tramites.gpkg --sin-nombres" in readme
        assert "DATOS DE DEMOSTRACIÓN" in readme


# Every page a Spanish reader reads.
SPANISH_PAGES = (
    "README.es.md",
    *(
        f"docs/{name}"
        for name in (
            "abrir-los-datos.md",
            "ajustes.md",
            "archivo.md",
            "cada-semana.md",
            "diccionario.md",
            "fiabilidad.md",
            "rendimiento.md",
            "scrapyd.es.md",
            "union.md",
        )
    ),
)
# Calques and English left in Spanish prose. Bolivian Spanish says "descarga" (harvest),
# "solicitud" (request), "objeto espacial" (feature), "unir"/"unión" (merge).
CALQUES = re.compile(
    r"\b(cosech\w*|pedidos?|elementos?|features?|scrape\w*|crawle\w*|fusi[oó]n\w*)\b",
    re.IGNORECASE,
)
# Code is not prose: commands, field and setting names, JSON.
CODE = re.compile(r"```.*?```|`[^`]*`", re.DOTALL)


def calques(text: str) -> list[str]:
    return [match.group(0) for match in CALQUES.finditer(CODE.sub("", text))]


def test_the_spanish_pages_are_in_spanish_docs_included():
    """No calques in a Spanish page; every page of docs/ that links to its English twin
    is on the list."""
    found = {page: calques(read(page)) for page in SPANISH_PAGES}
    assert {page: words for page, words in found.items() if words} == {}
    twins = {
        f"docs/{path.name}"
        for path in (PROJECT_ROOT / "docs").glob("*.md")
        if "[English](" in path.read_text(encoding="utf-8")
    }
    assert twins - set(SPANISH_PAGES) == set(), "Spanish pages to add to SPANISH_PAGES"


def test_the_spanish_messages_use_no_calques():
    from tools import messages

    found = {}
    for message in messages.read_catalog("es"):
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        words = [word for text in strings if text for word in calques(text)]
        if message.id and words:
            found[message.id if isinstance(message.id, str) else message.id[0]] = words
    assert found == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("La cosecha semanal", ["cosecha"]),
        ("Cosechar los datos", ["Cosechar"]),
        ("los pedidos al servidor", ["pedidos"]),
        ("cada elemento de la capa", ["elemento"]),
        ("las features recibidas", ["features"]),
        ("scrapear el sitio y crawlearlo", ["scrapear", "crawlearlo"]),
        ("la fusión de las tablas", ["fusión"]),
        ("la descarga y sus solicitudes; `cosecha` es un campo", []),
        ("```sh\nscrapy crawl tramites\n```\nScrapy y Scrapyd", []),
    ],
)
def test_the_calque_check_finds_calques_in_prose_only(text, expected):
    assert calques(text) == expected


def test_the_install_and_test_commands_are_those_ci_runs():
    sh_blocks = blocks(read("README.md"), "sh")
    one_liners = [block[0] for block in sh_blocks if len(block) == 1]
    crawl = "python3.11 -m venv .venv && .venv/bin/pip install -r requirements.txt"
    assert f"{crawl} && .venv/bin/scrapy crawl tramites" in one_liners
    tests = (
        "python3.11 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt"
        " && .venv/bin/python -m pytest"
    )
    assert one_liners[-1] == tests
    ci = read(".ci/run")
    assert ".venv/bin/python -m pip install --quiet -r tests/requirements.txt" in ci
    assert ci.rstrip().endswith(".venv/bin/python -m pytest")


def test_the_windows_commands_are_the_linux_ones():
    english = read("README.md")
    linux = demo_commands(english)
    (windows,) = [block for block in blocks(english, "bat") if block[0].endswith("-m tools.demo")]
    as_windows = [
        line.replace(".venv/bin/pip", f"{WINDOWS_PYTHON} -m pip").replace(
            LINUX_PYTHON, WINDOWS_PYTHON
        )
        for line in linux
    ]
    assert windows == as_windows


def relative_links(page: Path) -> list[str]:
    targets = LINK.findall(page.read_text(encoding="utf-8"))
    return [target for target in targets if not re.match(r"[a-z]+:|#", target)]


def documents() -> list[Path]:
    pages = sorted((PROJECT_ROOT / "docs").glob("*.md"))
    return [*(PROJECT_ROOT / name for name in READMES), *pages]


def test_every_relative_link_leads_to_a_file():
    broken = [
        f"{page.relative_to(PROJECT_ROOT)}: {target}"
        for page in documents()
        for target in relative_links(page)
        if not (page.parent / target.split("#", 1)[0]).exists()
    ]
    assert not broken


def test_the_docs_readers_need_come_in_english_and_spanish():
    pairs = {
        "settings.md": "ajustes.md",
        "reliability.md": "fiabilidad.md",
        "archive.md": "archivo.md",
        "scrapyd.md": "scrapyd.es.md",
        "merge.md": "union.md",
        "open-the-data.md": "abrir-los-datos.md",
        "performance.md": "rendimiento.md",
    }
    for english, spanish in pairs.items():
        assert f"({spanish})" in read(f"docs/{english}"), english
        assert f"({english})" in read(f"docs/{spanish}"), spanish
        assert f"(docs/{english})" in read("README.md"), english
        assert f"(docs/{spanish})" in read("README.es.md"), spanish


def test_no_doc_mentions_what_is_gone():
    for page in documents():
        text = page.read_text(encoding="utf-8")
        assert "--excel" not in text, page
        assert "AUTOTHROTTLE_ENABLED` | `True" not in text, page


# -- The README's first screen, run as a newcomer runs it -------------------------------


def run_line(line: str, cwd: Path, environment: dict) -> None:
    """One README line, with this interpreter for .venv's."""
    words = line.split()
    if words[0] == ".venv/bin/pip":
        # Tests never reach the internet: the extras are installed already (as .ci/run
        # does); the file the line names must exist.
        assert words[1:3] == ["install", "-r"]
        assert (PROJECT_ROOT / words[3]).is_file()
        return
    assert words[0] == LINUX_PYTHON, line
    finished = subprocess.run(
        [sys.executable, *words[1:]],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=CRAWL_TIMEOUT,
        check=False,
    )
    assert finished.returncode == 0, f"{line}\n{finished.stderr[-3000:]}"


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def serve_until_it_answers(line: str, cwd: Path, environment: dict) -> None:
    """The Datasette line, on a free port, until its table answers; then stopped."""
    port = free_port()
    command = [sys.executable, *line.split()[1:], "--port", str(port)]
    log = cwd / "datasette.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=cwd, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        url = f"http://127.0.0.1:{port}/tramites/tramites.json?_shape=array&_size=1"
        deadline = time.monotonic() + DATASETTE_START_TIMEOUT
        while not answers(url):
            assert process.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "Datasette did not answer"
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.e2e
def test_the_readme_demo_commands_work_in_their_order(tmp_path):
    commands = demo_commands(read("README.md"))
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}

    for line in commands:
        if "postprocess.datasette" in line:
            serve_until_it_answers(line, tmp_path, environment)
        else:
            run_line(line, tmp_path, environment)

    demo = tmp_path / "demo-data"
    assert (demo / "tramites.xlsx").is_file()
    summary = (demo / "report" / "summary.md").read_text(encoding="utf-8")
    assert "DATOS DE DEMOSTRACIÓN" in summary
    # What QGIS opens: the GeoPackage's layer, one point per trámite.
    with sqlite3.connect(demo / "tramites.gpkg") as geopackage:
        (layer,) = geopackage.execute("select table_name from gpkg_contents").fetchone()
        (rows,) = geopackage.execute(f'select count(*) from "{layer}"').fetchone()
    assert layer == "tramites"
    assert rows == 3000


def test_the_weekly_pages_link_each_other_and_show_the_run_history_as_it_prints(monkeypatch):
    from postprocess.corridas import headers

    english = (PROJECT_ROOT / "docs" / "weekly.md").read_text(encoding="utf-8")
    spanish = (PROJECT_ROOT / "docs" / "cada-semana.md").read_text(encoding="utf-8")
    assert "(cada-semana.md)" in english
    assert "(weekly.md)" in spanish
    for page, language in ((english, "en"), (spanish, "es")):
        assert "python -m postprocess.corridas" in page
        assert "historial/corridas.jsonl" in page
        # The table as the command prints it in the page's language: its header, its columns.
        monkeypatch.setenv("LAPAZ_IDIOMA", language)
        columns = headers()
        header = next(line for line in page.splitlines() if line.startswith(columns[0]))
        assert header.split() == " ".join(columns).split()
        assert "OnCalendar=Mon *-*-* 03:30:00 America/La_Paz" in page
        assert "30   7  *   *   1     /srv/lapaz/semanal.sh" in page


def test_the_weekly_pages_give_the_settings_with_their_defaults_and_the_summary_as_it_prints():
    from lapaz import settings

    # The summary's page line as CrawlSummary writes it, in each page's language.
    summary_parts = {
        "weekly.md": (" failed (0 new, 2 persisting), ", "; 698 wanted in all"),
        "cada-semana.md": (" fallidas (0 nuevas, 2 que persisten), ", "; 698 buscadas en total"),
    }
    for name, parts in summary_parts.items():
        page = (PROJECT_ROOT / "docs" / name).read_text(encoding="utf-8")
        rows = re.findall(r"^\| `(LAPAZ_\w+)` \| ([\d.]+) \|", page, flags=re.MULTILINE)
        assert {setting for setting, _ in rows} >= {
            "LAPAZ_MONITOR_MIN_PAGES",
            "LAPAZ_MAX_LAYER_SHRINK",
            "LAPAZ_WARN_NO_NEW_PERMIT_WEEKS",
        }, name
        for setting, default in rows:
            assert getattr(settings, setting) == float(default), (name, setting)
        for part in parts:
            assert part in page, name
        assert '"primera_falla":' in page, name
        assert "paginas_fallidas.jsonl" in page, name
        assert "capa.json" in page, name
