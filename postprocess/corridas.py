"""The run history as a table on the screen: one row per crawl, oldest first.

    python -m postprocess.corridas [--data-dir data] [--ultimas N]

Reads `historial/corridas.jsonl` from the data folder (one line per `scrapy crawl`, see
lapaz.storage.runs). Each row: when the run started (UTC), how long it took, how it ended,
the features received of those the server counted, the permits new to the layer, the
permit pages asked and how they ended, the requests sent and the megabytes received, and,
for a run that failed, the line it ended on.
"""

import argparse
import sys
from pathlib import Path

from lapaz.i18n import N_, _, number
from lapaz.storage.jsonl import JsonLinesError
from lapaz.storage.runs import read_runs, runs_path

MISSING = "–"
# (header, how a run's line gives the cell); the last column, the reason, is not padded.
PAGE_COLUMNS = (
    # Translators: the columns of the permit pages a run asked and how they ended.
    (N_("asked"), "paginas_pedidas"),
    (N_("ok"), "paginas_ok"),
    (N_("refused"), "paginas_rechazadas"),
    (N_("failed"), "paginas_fallidas"),
    (N_("persisting"), "paginas_persistentes"),
)


class CorridasError(Exception):
    """Why the history cannot be shown; the message is one line."""


def duration_text(seconds: object) -> str:
    """4.2 s, 11 min 13 s, 2 h 05 min."""
    if not isinstance(seconds, int | float):
        return MISSING
    if seconds < 60:
        return f"{number(seconds, 1)} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def number_text(value: object) -> str:
    return number(value) if isinstance(value, int) else MISSING


def features_text(run: dict) -> str:
    """Received of matched: `13,907/13,907` (`13.907/13.907` in Spanish)."""
    received, matched = run.get("features_recibidas"), run.get("features_servidor")
    if received is None and matched is None:
        return MISSING
    return f"{number_text(received)}/{number_text(matched)}"


def megabytes_text(value: object) -> str:
    return number(value / 1e6, 1) if isinstance(value, int) else MISSING


def headers() -> list[str]:
    # Short headers: the rows are long.
    return [
        _("start (UTC)"),
        _("took"),
        _("ended"),
        _("features"),
        _("new"),
        *(_(header) for header, _key in PAGE_COLUMNS),
        _("requests"),
        _("MB"),
        _("why"),
    ]


def run_cells(run: dict) -> list[str]:
    return [
        str(run.get("inicio") or MISSING),
        duration_text(run.get("duracion_s")),
        str(run.get("estado") or MISSING),
        features_text(run),
        number_text(run.get("tramites_nuevos")),
        *(number_text(run.get(key)) for _header, key in PAGE_COLUMNS),
        number_text(run.get("peticiones")),
        megabytes_text(run.get("bytes_recibidos")),
        run.get("motivo") or "",
    ]


def runs_table(runs: list[dict]) -> list[str]:
    """The runs as aligned text lines, a header first: text left, figures right."""
    rows = [headers(), *(run_cells(run) for run in runs)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    left = {0, 2}  # start and ended are words; the rest are figures
    lines = []
    for row in rows:
        cells = [
            cell.ljust(width) if column in left else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return lines


def no_runs_line(path: Path) -> str:
    return _("No runs recorded yet in {path}: each scrapy crawl adds one.").format(path=path)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m postprocess.corridas",
        description=_("The run history (historial/corridas.jsonl) as a table, one crawl a row."),
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path("data"), help=_("the crawl's data folder")
    )
    parser.add_argument(
        "--ultimas", type=int, metavar="N", help=_("only the last N runs (default: every run)")
    )
    args = parser.parse_args(argv)
    if args.ultimas is not None and args.ultimas < 1:
        parser.error(_("--ultimas must be 1 or more: {value}").format(value=args.ultimas))
    return args


def read_history(data_dir: Path) -> list[dict]:
    if not data_dir.is_dir():
        raise CorridasError(
            _("{folder}: no such folder (give the crawl's with --data-dir)").format(folder=data_dir)
        )
    try:
        content = read_runs(data_dir)
    except JsonLinesError as error:
        raise CorridasError(str(error)) from None
    for warning in content.warnings:
        print(_("warning: {why}").format(why=warning), file=sys.stderr)
    return content.records


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        runs = read_history(args.data_dir)
    except CorridasError as error:
        print(_("error: {why}").format(why=error), file=sys.stderr)
        return 1
    if not runs:
        print(no_runs_line(runs_path(args.data_dir)))
        return 0
    print("\n".join(runs_table(runs[-args.ultimas :] if args.ultimas else runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
