"""The language of every line a person reads: Spanish first, English on request.

Messages are written in English in the code and wrapped in `_()` (or `ngettext`); the
Spanish catalog is `lapaz/locale/es/LC_MESSAGES/lapaz.po`, compiled to `lapaz.mo` beside
it (`pybabel` extracts and compiles them, see docs/DEVELOPMENT.md). English needs no catalog.

The language follows the locale as gettext reads it (LANGUAGE, LC_ALL, LC_MESSAGES, LANG,
the first one set), with Spanish when none is set, when it is C or POSIX, or when it names
no language of ours. `LAPAZ_IDIOMA=es` or `=en` (environment variable, or the Scrapy
setting of the same name through `use()`) forces it.

Standard library only: every layer of lapaz/ and postprocess/ may import it.
"""

import gettext
import os
from collections.abc import Mapping
from functools import cache
from importlib.resources import files
from io import BytesIO

DOMAIN = "lapaz"
# Inside the package; read as a resource, for an egg (Scrapyd) is a zip file.
LOCALE_DIR = files(__package__) / "locale"
SPANISH, ENGLISH = "es", "en"
LANGUAGES = (SPANISH, ENGLISH)
SETTING = "LAPAZ_IDIOMA"
# gettext's own order: the first variable set decides.
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

_forced: str | None = None


def chosen_language(value: str) -> str:
    """`es` or `en` from a value of LAPAZ_IDIOMA; a one-line error for anything else."""
    language = value.strip().lower()
    if language not in LANGUAGES:
        raise ValueError(f"{SETTING}={value!r}: use {SPANISH} (español) or {ENGLISH} (English)")
    return language


def locale_language(environ: Mapping[str, str]) -> str:
    """The language the locale variables ask for, Spanish when they ask for none of ours."""
    for variable in LOCALE_VARIABLES:
        value = environ.get(variable, "")
        if not value:
            continue
        # LANGUAGE may list several, in order of preference ("fr:en").
        for entry in value.split(":"):
            language = entry.split(".")[0].split("@")[0].split("_")[0].lower()
            if language in LANGUAGES:
                return language
        return SPANISH
    return SPANISH


def language(environ: Mapping[str, str] | None = None) -> str:
    """The language of messages now: forced by `use()`, by LAPAZ_IDIOMA, or the locale's."""
    if _forced is not None:
        return _forced
    environ = os.environ if environ is None else environ
    if environ.get(SETTING, "").strip():
        return chosen_language(environ[SETTING])
    return locale_language(environ)


def use(value: str | None) -> None:
    """Force the language for this process (the Scrapy setting LAPAZ_IDIOMA); an empty
    value or None goes back to the environment's."""
    global _forced
    _forced = chosen_language(value) if value and value.strip() else None


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalog of one language; English, the language of the code, has none."""
    if language == ENGLISH:
        return gettext.NullTranslations()
    catalog = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.mo"
    return gettext.GNUTranslations(BytesIO(catalog.read_bytes()))


def _(message: str) -> str:
    """`message` in the language of messages now."""
    return translations(language()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form of a message for `n`, in the language of messages now."""
    return translations(language()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Marks a message for the catalog where it is defined; `_()` translates it where used."""
    return message


def number(value: float, decimals: int = 0) -> str:
    """`value` as the language writes it: 2,985.5 in English, 2.985,5 in Spanish (Bolivia)."""
    written = f"{value:,.{decimals}f}"
    if language() == ENGLISH:
        return written
    return written.translate(str.maketrans({",": ".", ".": ","}))


def percent(share: float, decimals: int = 0) -> str:
    """`share` (0.125) as a percentage written as the language writes it: 12.5%, 12,5%."""
    return number(share * 100, decimals) + "%"
