"""The message catalogs of lapaz/i18n.py: extract, update and compile them with Babel.

    python -m tools.messages update    # new messages of the code (SOURCE_FOLDERS, SOURCE_FILES)
    python -m tools.messages compile   # the .po into the .mo that ships with the package
    python -m tools.messages check     # messages without a Spanish translation, a stale .mo

After `update`, translate the empty `msgstr ""` of lapaz/locale/es/LC_MESSAGES/lapaz.po,
then `compile`. Both files are committed; tests/test_i18n.py fails when they fall behind.
"""

import sys
from io import BytesIO
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir, extract_from_file
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from lapaz.i18n import DOMAIN, LOCALE_DIR, SPANISH
from tools.crawl import PROJECT_ROOT

SOURCE_FOLDERS = ("lapaz", "postprocess")
# The tools a user runs (the others are for developers, in English).
SOURCE_FILES = ("tools/demo.py",)
# Comments starting with this tag above a message go to the translator.
TRANSLATOR_TAG = "Translators:"


def catalog_path(language: str, suffix: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}{suffix}"


def extract() -> Catalog:
    """Every message of the code, as a template catalog."""
    template = Catalog(project=DOMAIN, charset="utf-8")
    found = [
        (f"{folder}/{filename}", lineno, message, comments, context)
        for folder in SOURCE_FOLDERS
        for filename, lineno, message, comments, context in extract_from_dir(
            PROJECT_ROOT / folder,
            comment_tags=[TRANSLATOR_TAG],
            strip_comment_tags=True,
            directory_filter=lambda path: "__pycache__" not in path and "locale" not in path,
        )
    ]
    found += [
        (path, lineno, message, comments, context)
        for path in SOURCE_FILES
        for lineno, message, comments, context in extract_from_file(
            "python", PROJECT_ROOT / path, comment_tags=[TRANSLATOR_TAG], strip_comment_tags=True
        )
    ]
    for path, lineno, message, comments, context in found:
        template.add(message, None, [(path, lineno)], auto_comments=comments, context=context)
    return template


def read_catalog(language: str) -> Catalog:
    with catalog_path(language, ".po").open("rb") as po:
        return read_po(po, locale=language, domain=DOMAIN)


def untranslated(catalog: Catalog, template: Catalog) -> list[str]:
    """The messages of `template` that `catalog` leaves untranslated (or only fuzzy)."""
    missing = []
    for message in template:
        if not message.id:
            continue
        translated = catalog.get(message.id, message.context)
        strings = translated.string if translated is not None else None
        if isinstance(strings, tuple):
            strings = all(strings) and strings[0]
        if not strings or translated.fuzzy:
            missing.append(message.id if isinstance(message.id, str) else message.id[0])
    return missing


def compiled(catalog: Catalog) -> dict:
    """The messages a .mo built from `catalog` holds, read back: what gettext will see."""
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return messages_of(read_mo(buffer))


def messages_of(catalog: Catalog) -> dict:
    """Each message's translation, by context and id (plural forms as tuples)."""

    def frozen(text):
        return tuple(text) if isinstance(text, list | tuple) else text

    return {
        (message.context, frozen(message.id)): frozen(message.string)
        for message in catalog
        if message.id
    }


def update(language: str = SPANISH) -> None:
    catalog = read_catalog(language)
    catalog.update(extract(), no_fuzzy_matching=True, update_creation_date=False)
    with catalog_path(language, ".po").open("wb") as po:
        # No line numbers: a catalog that changes with every edit would conflict at merges.
        write_po(po, catalog, width=100, include_lineno=False, ignore_obsolete=True)


def compile_catalog(language: str = SPANISH) -> None:
    with catalog_path(language, ".mo").open("wb") as mo:
        write_mo(mo, read_catalog(language))


def check(language: str = SPANISH) -> list[str]:
    """Problems with the committed catalog of `language`, one line each."""
    catalog = read_catalog(language)
    problems = [
        f"no {language} translation: {message!r}" for message in untranslated(catalog, extract())
    ]
    with catalog_path(language, ".mo").open("rb") as mo:
        if messages_of(read_mo(mo)) != compiled(catalog):
            problems.append(
                f"{catalog_path(language, '.mo')} is stale: python -m tools.messages compile"
            )
    return problems


def main(argv: list[str]) -> int:
    actions = {"update": update, "compile": compile_catalog}
    if argv == ["check"]:
        problems = check()
        print("\n".join(problems) or "catalog up to date")
        return 1 if problems else 0
    if len(argv) != 1 or argv[0] not in actions:
        print("usage: python -m tools.messages update|compile|check", file=sys.stderr)
        return 2
    actions[argv[0]]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
