"""Spanish first, English on request: the catalogs and how the language is chosen."""

import ast
import gettext
import re
import string
from pathlib import Path

import pytest

from lapaz import i18n
from tools import messages
from tools.crawl import PROJECT_ROOT


def test_every_message_has_a_spanish_translation():
    """Each message wrapped in _() in lapaz/ and postprocess/ is in the Spanish catalog."""
    missing = messages.untranslated(messages.read_catalog("es"), messages.extract())
    assert missing == [], "run python -m tools.messages update, then translate:\n" + "\n".join(
        missing
    )


def test_every_spanish_message_is_whole_and_keeps_its_placeholders():
    """Each entry of the .po: translated, not fuzzy, and with the same {fields} or %
    conversions as its English (a lost placeholder breaks .format() in Spanish only)."""
    problems = []
    for message in messages.read_catalog("es"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if message.fuzzy or not all(strings):
            problems.append(f"untranslated or fuzzy: {ids[0]!r}")
            continue
        # Plural forms: the first is the singular's, the others the plural's.
        for number, translated in enumerate(strings):
            if placeholders(translated) != placeholders(ids[min(number, len(ids) - 1)]):
                problems.append(f"placeholders differ: {ids[0]!r} -> {translated!r}")
    assert problems == [], "\n".join(problems)


def placeholders(text: str) -> tuple[set, list]:
    fields = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
    # %s, %d, %(name)s; "%%" is a percent sign.
    conversions = re.findall(r"%(?:\(\w+\))?[sdfr]", text.replace("%%", ""))
    return fields, sorted(conversions)


# The files whose lines a person reads: the crawl, the post-processing, the demo.
USER_FACING = ("lapaz", "postprocess", "tools/demo.py")
LOG_LEVELS = {"info", "warning", "error", "critical", "exception"}  # debug may stay English
ARGPARSE_TEXTS = {"help", "description", "epilog", "usage"}
WORDS = re.compile(r"[a-z]{2,}")  # "HTTP 400: ", "%s: %s" carry no words to translate
# (file, the literal's start): why it may stay untranslated.
EXEMPT = {
    # Said before the language is known, so in both.
    ("lapaz/i18n.py", "=: use  (español) or  (English)"): "bilingual on purpose",
    # A bug of ours, never a user's input: parse_args checks the suffix and the columns.
    ("postprocess/formats.py", "the table has a column"): "an internal invariant",
    ("postprocess/formats.py", "unknown output format"): "an internal invariant",
    ("postprocess/numeric.py", "column  exists already"): "an internal invariant",
}


def user_facing_files() -> list[Path]:
    paths = []
    for name in USER_FACING:
        path = PROJECT_ROOT / name
        paths += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return paths


def literal_text(node: ast.expr) -> str:
    """The words written in the code of an expression: its string literals, not what
    _() returns or a variable holds."""
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else ""
    if isinstance(node, ast.JoinedStr):
        return "".join(literal_text(value) for value in node.values)
    if isinstance(node, ast.BinOp):  # "..." + x, "..." % x
        return literal_text(node.left) + literal_text(node.right)
    if isinstance(node, ast.IfExp):
        return literal_text(node.body) + literal_text(node.orelse)
    format_call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    if format_call and node.func.attr == "format":  # "...".format(), _("...").format()
        return literal_text(node.func.value)
    return ""


def said_to_a_person(node: ast.AST) -> list[ast.expr]:
    """The arguments of `node` that a person reads, if it prints, logs at INFO or above,
    raises, or documents a command-line option."""
    if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
        return node.exc.args[:1]
    if not isinstance(node, ast.Call):
        return []
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    owner = ast.unparse(func.value) if isinstance(func, ast.Attribute) else ""
    arguments = [k.value for k in node.keywords if k.arg in ARGPARSE_TEXTS]
    if name in {"print", "echo", "fail", "skipTest"} or (name == "exit" and owner == "sys"):
        return node.args[:1] + arguments
    if name in LOG_LEVELS and ("log" in owner or "parser" in owner):  # parser.error()
        return node.args[:1]
    if name == "log" and "log" in owner and "DEBUG" not in ast.unparse(node.args[0]):
        return node.args[1:2]
    return arguments  # ArgumentParser(description=), add_argument(help=)


def untranslated_lines() -> tuple[list[str], set]:
    """Each literal said to a person outside _(), and the exemptions that were used."""
    found, used = [], set()
    for path in user_facing_files():
        relative = path.relative_to(PROJECT_ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), relative)):
            for argument in said_to_a_person(node):
                text = literal_text(argument)
                if not WORDS.search(text):
                    continue
                exempt = {(file, start) for file, start in EXEMPT if file == relative}
                exempt = {key for key in exempt if text.startswith(key[1])}
                used |= exempt
                if not exempt:
                    found.append(f"{relative}:{node.lineno}: {ast.unparse(argument)[:100]}")
    return found, used


def test_every_line_a_person_reads_goes_through_the_catalog():
    """Literals printed, logged (INFO and up), raised or given as --help in lapaz/,
    postprocess/ and tools/demo.py are wrapped in _(): so they have Spanish."""
    found, used = untranslated_lines()
    assert found == [], "wrap in _() (lapaz.i18n), then python -m tools.messages update:\n" + (
        "\n".join(found)
    )
    assert set(EXEMPT) - used == set(), "exemptions that no longer match: remove them"


@pytest.mark.parametrize(
    ("code", "caught"),
    [
        ('print(f"replica at {url}")', True),
        ('logger.warning("%s is late", name)', True),
        ('self.logger.error("no count: %s", why)', True),
        ('logger.debug("page %s", url)', False),
        ('raise InputError(f"{path}: not found")', True),
        ('raise WfsRejected(f"HTTP 400: {text}")', False),
        ('parser.add_argument("--x", help="the x")', True),
        ('parser.error("--x is gone")', True),
        ('sys.exit("cannot start")', True),
        ('print(_("error: {why}").format(why=error))', False),
        ('logger.info(_("Run recorded in %s"), path)', False),
        ('print("\\n".join(lines))', False),
        ("print(f\"{_('Files')}: {count}\")", False),
    ],
)
def test_the_scan_catches_literals_said_to_a_person(code, caught):
    node = ast.parse(code).body[0]
    node = node if isinstance(node, ast.Raise) else node.value
    assert any(WORDS.search(literal_text(a)) for a in said_to_a_person(node)) == caught


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
