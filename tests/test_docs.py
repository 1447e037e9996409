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
