"""The change log as a table, for a spreadsheet.

    python -m postprocess.cambios [--data-dir data] [--desde YYYY-MM-DD] [--output FILE]

Reads `cambios.jsonl` from the data folder (one line per change between two complete
harvests, see lapaz.storage.history) and writes `cambios.csv` there unless `--output` names another
file; `.parquet` gives Parquet. Columns: cosecha, id_pc_tramite, tipo, campo, antes,
despues; `antes` and `despues` are text (a field's values are of any type: 3, "APROBADO").
`--desde` keeps the harvests of that UTC day and later.
"""

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from lapaz.i18n import _
from lapaz.records.diff import KEY
from lapaz.storage.history import CHANGES_FILE
from lapaz.storage.jsonl import JsonLinesError, read_jsonl
from postprocess.merge import as_text, write_table

DEFAULT_OUTPUT = "cambios.csv"
OUTPUT_FORMATS = (".csv", ".parquet")
COLUMNS = ["cosecha", KEY, "tipo", "campo", "antes", "despues"]


class CambiosError(Exception):
    """Why no table could be written; the message is one line."""


def harvest_day(cosecha: object) -> date | None:
    """The UTC day of a `cosecha` ("2026-12-08T09:30:05Z"), or None when unreadable."""
    try:
        return datetime.fromisoformat(str(cosecha)).astimezone(UTC).date()
    except ValueError:
        return None


def since(lines: list[dict], desde: date | None) -> list[dict]:
    """The lines of harvests on or after the UTC day `desde` (all without it)."""
    if desde is None:
        return lines
    return [line for line in lines if (harvest_day(line.get("cosecha")) or date.min) >= desde]


def changes_frame(lines: list[dict]) -> pd.DataFrame:
    """The lines as a table with COLUMNS; ids as nullable integers, the rest text."""
    column = {name: [line.get(name) for line in lines] for name in COLUMNS}
    frame = pd.DataFrame(
        {
            name: pd.Series([as_text(v) for v in values], dtype="str")
            for name, values in column.items()
        }
    )
    frame[KEY] = pd.to_numeric(pd.Series(column[KEY], dtype="object"), errors="coerce").astype(
        "Int64"
    )
    return frame


def read_changes(data_dir: Path) -> list[dict]:
    path = data_dir / CHANGES_FILE
    if not path.exists():
        raise CambiosError(
            _(
                "{path}: file not found (the change log starts with the second complete harvest)"
            ).format(path=path)
        )
    try:
        return read_jsonl(path).records
    except JsonLinesError as error:
        raise CambiosError(str(error)) from None


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("expected a day as YYYY-MM-DD, got {text!r}").format(text=text)
        ) from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m postprocess.cambios",
        description=_("The change log (cambios.jsonl) as a CSV or Parquet table."),
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path("data"), help=_("folder holding cambios.jsonl")
    )
    parser.add_argument(
        "--desde", type=_day, help=_("only harvests on or after this UTC day (YYYY-MM-DD)")
    )
    parser.add_argument(
        "--output",
        type=Path,
        help=_("output file, .csv or .parquet (default: DATA_DIR/{default})").format(
            default=DEFAULT_OUTPUT
        ),
    )
    args = parser.parse_args(argv)
    args.output = args.output or args.data_dir / DEFAULT_OUTPUT
    if args.output.suffix.lower() not in OUTPUT_FORMATS:
        parser.error(
            _("--output must end in {formats}: {path}").format(
                formats=", ".join(OUTPUT_FORMATS), path=args.output
            )
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        lines = since(read_changes(args.data_dir), args.desde)
        try:
            write_table(changes_frame(lines), args.output)
        except OSError as error:
            raise CambiosError(
                _("{path}: cannot write ({why})").format(
                    path=args.output, why=error.strerror or error
                )
            ) from None
    except CambiosError as error:
        print(_("error: {why}").format(why=error), file=sys.stderr)
        return 1
    harvests = len({line.get("cosecha") for line in lines})
    print(
        _("Wrote {changes} changes from {harvests} harvests to {path}").format(
            changes=len(lines), harvests=harvests, path=args.output
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
