"""The report's "Runs" section, from the run history (lapaz.storage.runs).

How many runs, how they ended, the latest ones as the table `python -m postprocess.corridas`
prints, and, from two runs on, a chart of the runs over time: how long each took, the
requests it sent, the features it received and its failed permit pages, failed runs marked.
Nothing is added when the data folder has no run history.
"""

import math
from collections import Counter
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lapaz.i18n import N_, _, ngettext, number
from lapaz.storage.jsonl import JsonLinesError
from lapaz.storage.runs import SUCCEEDED, read_runs
from postprocess.corridas import runs_table
from postprocess.demo_mark import demo_title, is_demo, mark_as_demo, save_chart

RUNS_CHART = "runs.png"
SECTION_TITLE = N_("## Runs")
LISTED_RUNS = 10
DPI = 120
MAX_TIME_LABELS = 12
# (the run's field, the panel's title, the axis label)
PANELS = (
    ("duracion_s", N_("Duration"), N_("minutes")),
    ("peticiones", N_("Requests sent"), N_("requests")),
    ("features_recibidas", N_("Features received"), N_("features")),
    ("paginas_fallidas", N_("Permit pages failed"), N_("pages")),
)


class RunsReportError(Exception):
    """A run history that cannot be read or a section that cannot be written; one line."""


def panel_values(runs: list[dict], field: str) -> list[float]:
    """The field of each run, NaN where a run has none (drawn as a gap)."""
    values = []
    for run in runs:
        value = run.get(field)
        if not isinstance(value, int | float):
            values.append(math.nan)
        else:
            values.append(value / 60 if field == "duracion_s" else float(value))
    return values


def run_label(run: dict) -> str:
    """`2026-12-07\n07:30` from `inicio`."""
    start = str(run.get("inicio") or "?")
    return f"{start[:10]}\n{start[11:16]}"


def runs_chart(runs: list[dict]) -> Figure:
    """Four panels, one step per run (runs come at uneven intervals); failed runs in red."""
    figure = Figure(figsize=(11, 7), layout="constrained")
    steps = list(range(len(runs)))
    failed = [step for step, run in zip(steps, runs, strict=True) if run.get("estado") != SUCCEEDED]
    every = max(1, math.ceil(len(steps) / MAX_TIME_LABELS))
    for position, (field, title, unit) in enumerate(PANELS, 1):
        axes = figure.add_subplot(2, 2, position)
        values = panel_values(runs, field)
        axes.plot(steps, values, marker="o", color="tab:blue")
        axes.scatter(
            failed,
            [0 if math.isnan(values[step]) else values[step] for step in failed],
            marker="x",
            s=60,
            color="tab:red",
            zorder=3,
            label=_("failed run"),
        )
        axes.set_title(_(title))
        axes.set_ylabel(_(unit))
        axes.set_ylim(bottom=0)
        axes.set_xticks(steps[::every])
        axes.set_xticklabels([run_label(run) for run in runs[::every]], fontsize="small")
        if field != "duracion_s":
            axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        if failed and position == 1:
            axes.legend(loc="upper left")
    figure.suptitle(_("The {count} runs recorded (start, UTC)").format(count=number(len(runs))))
    return figure


def latest_line(run: dict) -> str:
    """When the latest run started and how it ended, with its line if it failed."""
    start, state = run.get("inicio"), run.get("estado")
    if run.get("motivo"):
        return _("The latest started {start} and ended `{state}`: {why}").format(
            start=start, state=state, why=run["motivo"]
        )
    return _("The latest started {start} and ended `{state}`.").format(start=start, state=state)


def section_markdown(runs: list[dict], with_chart: bool, demo: bool = False) -> str:
    ended = Counter(str(run.get("estado")) for run in runs)
    how = ", ".join(f"{state} {number(count)}" for state, count in ended.most_common())
    last = runs[-1]
    listed = min(len(runs), LISTED_RUNS)
    out = [
        "",
        _(SECTION_TITLE),
        "",
        ngettext(
            "{count} run recorded in `historial/corridas.jsonl` ({how}).",
            "{count} runs recorded in `historial/corridas.jsonl` ({how}).",
            len(runs),
        ).format(count=number(len(runs)), how=how),
        latest_line(last),
        "",
        ngettext(
            "The last one (python -m postprocess.corridas shows them all):",
            "The last {count} (python -m postprocess.corridas shows them all):",
            listed,
        ).format(count=number(listed)),
        "",
        "```",
        *runs_table(runs[-LISTED_RUNS:]),
        "```",
    ]
    if with_chart:
        caption = _("The runs over time")
        out += ["", f"![{demo_title(caption) if demo else caption}]({RUNS_CHART})"]
    out.append("")
    return "\n".join(out)


def write_runs_section(data_dir: Path, output_dir: Path, summary: Path) -> list[Path]:
    """Append the section to `summary`, with its chart from two runs on; the files written
    (none when the data folder has no run history)."""
    try:
        runs = read_runs(data_dir).records
    except JsonLinesError as error:
        raise RunsReportError(str(error)) from None
    if not runs:
        return []
    with_chart = len(runs) >= 2
    demo = is_demo(data_dir)
    written = []
    try:
        if with_chart:
            figure = runs_chart(runs)
            if demo:
                mark_as_demo(figure)
            save_chart(figure, output_dir / RUNS_CHART, DPI)
            written.append(output_dir / RUNS_CHART)
        with summary.open("a", encoding="utf-8") as stream:
            stream.write(section_markdown(runs, with_chart, demo))
    except OSError as error:
        raise RunsReportError(
            _("{path}: cannot write ({why})").format(path=output_dir, why=error.strerror or error)
        ) from None
    return written
