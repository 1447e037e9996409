"""The report's "since the last harvest" section, from the harvests the crawl kept.

Reads `cambios.jsonl` and the snapshots in `historial/` of the data folder (see
lapaz.storage.history): the changes of the latest harvest counted by kind, the permits it newly
approved (a `resultado` that became APROBADO, or a new permit already APROBADO), and a
chart of the layer's size and of its approved permits over the harvests kept (from the
second harvest on: one harvest would be a chart of one point). A harvest that changed
nothing is said to have no changes. Nothing is added when the folder keeps no history.
"""

import math
from collections import Counter
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lapaz.i18n import N_, _, number
from lapaz.records.diff import KEY, MODIFIED, NEW, REMOVED, id_order
from lapaz.storage.history import CHANGES_FILE, harvest_label, read_snapshot, snapshots
from lapaz.storage.jsonl import JsonLinesError, read_jsonl
from postprocess.demo_mark import demo_title, is_demo, mark_as_demo, save_chart

HISTORY_CHART = "harvests.png"
APPROVED = "APROBADO"
SECTION_TITLE = N_("## Since the last harvest")
# The table of newly approved permits stops here; the count says how many there were.
MAX_LISTED = 50
LISTED_FIELDS = ["codigo_catastral", "numero_tramite", "fecha_aprobacion", "macro_distrito"]
DPI = 120
MAX_TIME_LABELS = 12


class HistoryReportError(Exception):
    """A history file that cannot be read; the message is one line."""


def latest_harvest(lines: list[dict]) -> tuple[str | None, list[dict]]:
    """The latest `cosecha` of the change log and its lines."""
    if not lines:
        return None, []
    cosecha = max(str(line.get("cosecha")) for line in lines)
    return cosecha, [line for line in lines if str(line.get("cosecha")) == cosecha]


def change_counts(lines: list[dict]) -> dict[str, int]:
    """Permits by kind of change (a permit with three changed fields counts once)."""
    permits = {(line.get("tipo"), line.get(KEY)) for line in lines}
    counts = Counter(tipo for tipo, _ in permits)
    return {tipo: counts.get(tipo, 0) for tipo in (NEW, REMOVED, MODIFIED)}


def newly_approved(lines: list[dict], current: list[dict]) -> list[dict]:
    """The permits the harvest approved, with their current record, by id."""
    records = {record.get(KEY): record for record in current}
    how: dict[object, str] = {}
    for line in lines:
        key = line.get(KEY)
        if line.get("tipo") == NEW and (records.get(key) or {}).get("resultado") == APPROVED:
            how[key] = "nuevo"
        elif (
            line.get("tipo") == MODIFIED
            and line.get("campo") == "resultado"
            and line.get("despues") == APPROVED
        ):
            how[key] = f"{line.get('antes')} → {APPROVED}"
    return [
        {
            KEY: key,
            "cambio": how[key],
            **{f: (records.get(key) or {}).get(f) for f in LISTED_FIELDS},
        }
        for key in sorted(how, key=id_order)
    ]


def harvest_sizes(data_dir: Path) -> pd.DataFrame:
    """One row per kept harvest: its time, its permits and how many were APROBADO."""
    rows = []
    for time, path in snapshots(data_dir):
        records = read_snapshot(path)
        approved = sum(record.get("resultado") == APPROVED for record in records)
        rows.append({"time": time, "permits": len(records), "approved": approved})
    return pd.DataFrame(rows, columns=["time", "permits", "approved"])


def harvests_chart(sizes: pd.DataFrame) -> Figure:
    """Lines: the layer's permits and approved permits at each kept harvest."""
    figure = Figure(figsize=(10, 4.5), layout="constrained")
    axes = figure.add_subplot()
    # One step per harvest, labelled by its time: harvests come at uneven intervals, and a
    # time axis would squeeze two harvests of one day into a dot.
    steps = list(range(len(sizes)))
    axes.plot(steps, sizes["permits"], marker="o", label=_("permits in the layer"))
    axes.plot(steps, sizes["approved"], marker="o", label=APPROVED, color="tab:green")
    every = max(1, math.ceil(len(steps) / MAX_TIME_LABELS))
    axes.set_xticks(steps[::every])
    axes.set_xticklabels([f"{time:%Y-%m-%d}\n{time:%H:%M}" for time in sizes["time"].iloc[::every]])
    axes.set_title(_("The layer over the {count} harvests kept").format(count=number(len(sizes))))
    axes.set_xlabel(_("Harvest (UTC)"))
    axes.set_ylabel(_("Permits"))
    axes.set_ylim(bottom=0)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend()
    axes.grid(alpha=0.3)
    return figure


def _cell(value: object) -> str:
    return "" if value is None else str(value).replace("|", "\\|")


def first_harvest_lines(label: str) -> list[str]:
    return [
        _(
            "One harvest kept so far ({label}): changes are counted from the second one on,"
            " and `{chart}` is drawn from then on too."
        ).format(label=label, chart=HISTORY_CHART),
    ]


def no_changes_lines(label: str) -> list[str]:
    return [_("Harvest of {harvest} against the one before: no changes.").format(harvest=label)]


def changes_lines(cosecha: str, lines: list[dict], approved: list[dict]) -> list[str]:
    counts = change_counts(lines)
    out = [
        _("Harvest of {harvest} against the one before:").format(harvest=cosecha),
        "",
        _("- New permits (`nuevo`): {count}").format(count=number(counts[NEW])),
        _("- Permits that left the layer (`retirado`): {count}").format(
            count=number(counts[REMOVED])
        ),
        _("- Permits with changed fields (`modificado`): {count} ({fields} fields)").format(
            count=number(counts[MODIFIED]),
            fields=number(sum(line.get("tipo") == MODIFIED for line in lines)),
        ),
        _("- Newly approved: {count}").format(count=number(len(approved))),
    ]
    if approved:
        columns = [KEY, "cambio", *LISTED_FIELDS]
        out += ["", "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        out += [
            "| " + " | ".join(_cell(row[c]) for c in columns) + " |"
            for row in approved[:MAX_LISTED]
        ]
        if len(approved) > MAX_LISTED:
            out.append(
                "\n"
                + _("…and {count} more (python -m postprocess.cambios)").format(
                    count=number(len(approved) - MAX_LISTED)
                )
            )
    return out


def section_markdown(
    cosecha: str | None,
    lines: list[dict],
    approved: list[dict],
    sizes: pd.DataFrame,
    demo: bool = False,
) -> str:
    """The section: the latest harvest's changes, "no changes" when it logged none, or
    that there is one harvest so far; the chart once there are two harvests to draw (its
    caption marked when the data folder is the demo's)."""
    latest = harvest_label(sizes["time"].iloc[-1]) if not sizes.empty else cosecha
    out = ["", _(SECTION_TITLE), ""]
    if len(sizes) < 2 and cosecha is None:
        out += first_harvest_lines(latest)
    elif cosecha != latest:
        # The log has a line per change only: a harvest that changed nothing leaves none.
        out += no_changes_lines(latest)
    else:
        out += changes_lines(cosecha, lines, approved)
    if len(sizes) >= 2:
        caption = _("The layer over the harvests kept")
        out += ["", f"![{demo_title(caption) if demo else caption}]({HISTORY_CHART})"]
    out.append("")
    return "\n".join(out)


def write_history_section(data_dir: Path, output_dir: Path, summary: Path) -> list[Path]:
    """Append the section to `summary` and write its chart; the files written (none when
    the data folder keeps no history)."""
    log = data_dir / CHANGES_FILE
    try:
        sizes = harvest_sizes(data_dir)
        lines = read_jsonl(log).records if log.exists() else []
    except (OSError, JsonLinesError) as error:
        raise HistoryReportError(str(error)) from None
    if sizes.empty and not lines:
        return []
    cosecha, latest = latest_harvest(lines)
    kept = dict(snapshots(data_dir))
    current_path = next(
        (path for time, path in kept.items() if harvest_label(time) == cosecha),
        max(kept.items())[1] if kept else None,
    )
    try:
        current = read_snapshot(current_path) if current_path else []
    except OSError as error:
        raise HistoryReportError(str(error)) from None
    approved = newly_approved(latest, current)
    written = []
    try:
        # One harvest would be a chart of one point.
        if len(sizes) >= 2:
            figure = harvests_chart(sizes)
            if is_demo(data_dir):
                mark_as_demo(figure)
            save_chart(figure, output_dir / HISTORY_CHART, DPI)
            written.append(output_dir / HISTORY_CHART)
        else:
            # A chart of an earlier report would contradict this one.
            (output_dir / HISTORY_CHART).unlink(missing_ok=True)
        with summary.open("a", encoding="utf-8") as stream:
            stream.write(section_markdown(cosecha, latest, approved, sizes, is_demo(data_dir)))
    except OSError as error:
        raise HistoryReportError(
            _("{path}: cannot write ({why})").format(path=output_dir, why=error.strerror or error)
        ) from None
    return written
