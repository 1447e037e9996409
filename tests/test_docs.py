"""The Spanish README gives the same quick start as the English one, and each links the other."""

import re

from tools.crawl import PROJECT_ROOT

QUICK_START = re.compile(r"```sh\n(python3\.11 -m venv [^\n]+)\n```")


def test_both_readmes_have_the_same_quick_start_and_link_each_other():
    english = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    spanish = (PROJECT_ROOT / "README.es.md").read_text(encoding="utf-8")

    commands = QUICK_START.findall(english)[:2]
    assert len(commands) == 2
    assert QUICK_START.findall(spanish)[:2] == commands
    assert "(README.es.md)" in english
    assert "(README.md)" in spanish
    for readme in (english, spanish):
        assert "Gobierno Autónomo Municipal de La Paz" in readme
        assert "--sin-nombres" in readme
        assert "datasette data/tramites.gpkg" in readme


def test_the_weekly_pages_link_each_other_and_show_the_run_history_as_it_prints():
    from postprocess.corridas import headers

    english = (PROJECT_ROOT / "docs" / "weekly.md").read_text(encoding="utf-8")
    spanish = (PROJECT_ROOT / "docs" / "cada-semana.md").read_text(encoding="utf-8")
    assert "(cada-semana.md)" in english
    assert "(weekly.md)" in spanish
    for page in (english, spanish):
        assert "python -m postprocess.corridas" in page
        assert "historial/corridas.jsonl" in page
        # The table as the command prints it: its header, its columns.
        header = next(line for line in page.splitlines() if line.startswith("start (UTC)"))
        assert header.split() == " ".join(headers()).split()
        assert "OnCalendar=Mon *-*-* 03:30:00 America/La_Paz" in page
        assert "30   7  *   *   1     /srv/lapaz/semanal.sh" in page


def test_the_weekly_pages_give_the_settings_with_their_defaults_and_the_summary_as_it_prints():
    from lapaz import settings

    for name in ("weekly.md", "cada-semana.md"):
        page = (PROJECT_ROOT / "docs" / name).read_text(encoding="utf-8")
        rows = re.findall(r"^\| `(LAPAZ_\w+)` \| ([\d.]+) \|", page, flags=re.MULTILINE)
        assert {setting for setting, _ in rows} >= {
            "LAPAZ_MONITOR_MIN_PAGES",
            "LAPAZ_MAX_LAYER_SHRINK",
            "LAPAZ_WARN_NO_NEW_PERMIT_WEEKS",
        }, name
        for setting, default in rows:
            assert getattr(settings, setting) == float(default), (name, setting)
        # The summary's page line as CrawlSummary writes it now, and the failures file.
        assert " failed (0 new, 2 persisting), " in page, name
        assert "; 698 wanted in all" in page, name
        assert '"primera_falla":' in page, name
        assert "paginas_fallidas.jsonl" in page, name
        assert "capa.json" in page, name
