"""Spanish first, English on request: the catalogs and how the language is chosen."""

import gettext

import pytest

from lapaz import i18n
from tools import messages


def test_every_message_has_a_spanish_translation():
    """Each message wrapped in _() in lapaz/ and postprocess/ is in the Spanish catalog."""
    missing = messages.untranslated(messages.read_catalog("es"), messages.extract())
    assert missing == [], "run python -m tools.messages update, then translate:\n" + "\n".join(
        missing
    )


def test_the_committed_mo_holds_what_the_po_says():
    with messages.catalog_path("es", ".mo").open("rb") as mo:
        shipped = messages.messages_of(messages.read_mo(mo))
    assert shipped == messages.compiled(messages.read_catalog("es")), (
        "the .mo is stale: python -m tools.messages compile"
    )


def test_the_extraction_finds_the_messages_of_both_packages_and_the_demo():
    found = {
        location[0].split("/")[0]
        for message in messages.extract()
        for location in message.locations
    }
    assert found == {"lapaz", "postprocess", "tools"}


def test_gettext_finds_the_spanish_catalog_where_the_package_ships_it():
    catalog = gettext.translation(i18n.DOMAIN, i18n.LOCALE_DIR, languages=["es"])
    assert catalog.gettext("Trámites on the map") == "Trámites en el mapa"


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "es"),
        ({"LANG": "C"}, "es"),
        ({"LC_ALL": "POSIX"}, "es"),
        ({"LANG": "C.UTF-8"}, "es"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LC_ALL": "es_BO.UTF-8", "LANG": "en_US.UTF-8"}, "es"),
        ({"LANGUAGE": "en", "LC_ALL": "es_BO.UTF-8"}, "en"),
        ({"LANGUAGE": "fr:en_GB", "LANG": "es_BO.UTF-8"}, "en"),
        ({"LANG": "fr_FR.UTF-8"}, "es"),
        ({"LC_MESSAGES": "en_US.UTF-8", "LANG": "es_BO.UTF-8"}, "en"),
        ({"LAPAZ_IDIOMA": "en", "LANG": "es_BO.UTF-8"}, "en"),
        ({"LAPAZ_IDIOMA": "ES", "LANG": "en_US.UTF-8"}, "es"),
        ({"LAPAZ_IDIOMA": "", "LANG": "en_US.UTF-8"}, "en"),
    ],
)
def test_the_language_follows_the_locale_with_spanish_by_default(environ, expected):
    assert i18n.language(environ) == expected


def test_an_unknown_language_setting_is_a_one_line_error():
    with pytest.raises(ValueError, match=r"^LAPAZ_IDIOMA='fr': use es \(español\) or en"):
        i18n.language({"LAPAZ_IDIOMA": "fr"})


def test_messages_follow_the_environment_and_use_forces_a_language(monkeypatch):
    monkeypatch.setenv("LAPAZ_IDIOMA", "es")
    assert i18n._("Trámites on the map") == "Trámites en el mapa"
    # A message not in the catalog: the English singular or plural, by number.
    assert i18n.ngettext("{count} harvest", "{count} harvests", 2) == "{count} harvests"
    monkeypatch.setenv("LAPAZ_IDIOMA", "en")
    assert i18n._("Trámites on the map") == "Trámites on the map"
    try:
        i18n.use("es")
        assert i18n._("Trámites on the map") == "Trámites en el mapa"
    finally:
        i18n.use(None)
    assert i18n._("Trámites on the map") == "Trámites on the map"


@pytest.mark.parametrize(
    ("language", "value", "decimals", "expected"),
    [("es", 2985, 0, "2.985"), ("en", 2985, 0, "2,985"), ("es", 1234.5, 1, "1.234,5")],
)
def test_numbers_are_written_as_the_language_writes_them(
    monkeypatch, language, value, decimals, expected
):
    monkeypatch.setenv("LAPAZ_IDIOMA", language)
    assert i18n.number(value, decimals) == expected
