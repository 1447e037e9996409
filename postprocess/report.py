"""Charts and a short summary of the merged table, each saying what it counts.

    python -m postprocess.report [--data-dir DIR] [--input FILE] [--output-dir DIR]

Reads the table `python -m postprocess.merge` writes (default: tramites_merge.csv in the
data folder, `--data-dir`, data by default; a .parquet or .jsonl input is read by its
extension) and writes into a folder `report` next to it (or `--output-dir`):

- `tramites_per_year.png`: every trámite (application, whatever its result) by year of
  registration, stacked by macro-district; the current year, still running, hatched;
- `approved_per_year.png`: the approved permits (`resultado` APROBADO) by year of
  approval (`fecha_aprobacion`), stacked the same way;
- `tramites_map.png`: the trámites at their coordinates, coloured by year of registration,
  each distrito municipal's number at the middle of its trámites (no basemap: no free
  source of La Paz's streets or district outlines works offline);
- `surface_by_district.png`: built surface of the approved permits per distrito municipal
  (named with its macro-district): the WFS's `superficie_construida`, else the surface the
  permit page states; a parcel with several approved permits counts once, by its latest
  approval (several permits of a parcel are mostly renewals and revisions of one building);
- `summary.md`: the counts, then each chart with the notes on what it counts. Titles stay
  short; the notes are here. A chart that would show one point is not drawn, and the
  summary says so.
- from the data folder (`--data-dir`, default the input's folder): "Since the last
  harvest" with `harvests.png` (postprocess.history_report), and "Runs", the run history,
  with `runs.png` once two runs are recorded (postprocess.runs_report).

A trámite is a row with API data (`fuente` API or Ambos); a page is a row with a page
record (`fuente` HTML or Ambos), failed when `error_pagina` holds a reason. When the data
folder holds the demo's marker (`python -m tools.demo` writes it), every chart and the
summary say DATOS DE DEMOSTRACIÓN: the replica's invented permits, not La Paz's.
"""

import argparse
import math
import sys
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from lapaz.i18n import _, number
from lapaz.storage.jsonl import JsonLinesError, read_jsonl
from postprocess.demo_mark import DEMO_MARK, demo_title, is_demo, mark_as_demo, save_chart
from postprocess.history_report import HistoryReportError, write_history_section
from postprocess.merge import (
    DEFAULT_OUTPUT,
    PAGE_ERROR_COLUMN,
    SOURCE_BY_SIDE,
    SOURCE_COLUMN,
    error_reason,
)
from postprocess.numeric import built_surface
from postprocess.runs_report import RunsReportError, write_runs_section

DEFAULT_INPUT = Path("data") / DEFAULT_OUTPUT
REPORT_FOLDER = "report"
INPUT_FORMATS = (".csv", ".parquet", ".jsonl")

NEEDED_COLUMNS = [
    "fecha_registro",
    "resultado",
    "macro_distrito",
    "distrito_municipal",
    "superficie_construida",
    "latitude",
    "longitude",
    PAGE_ERROR_COLUMN,
    SOURCE_COLUMN,
]
PERMIT_SOURCES = {"API", "Ambos"}
PAGE_SOURCES = {"HTML", "Ambos"}
APPROVED = "APROBADO"
UNKNOWN_MACRO_DISTRITO = "(unknown)"
TOP_MACRO_DISTRITOS = 5

TRAMITES_CHART = "tramites_per_year.png"
APPROVALS_CHART = "approved_per_year.png"
MAP_CHART = "tramites_map.png"
SURFACE_CHART = "surface_by_district.png"
SUMMARY_FILE = "summary.md"
DPI = 120
# The map shows the bulk of the points: a few wrong coordinates would otherwise shrink
# the city to a dot. Points beyond these quantiles (plus a margin) fall outside the view.
MAP_QUANTILES = (0.001, 0.999)
MAP_MARGIN = 0.1


# A chart needs at least this many points (years, dots, districts) to show anything.
MIN_POINTS = 2


class ReportError(Exception):
    """Why no report could be made; the message is one line."""


# -- Reading ---------------------------------------------------------------------------


def read_table(path: Path) -> pd.DataFrame:
    """The merged table at `path`, in the format its extension names."""
    suffix = path.suffix.lower()
    if suffix not in INPUT_FORMATS:
        raise ReportError(
            _("{path}: unknown format {suffix!r}, expected one of {formats}").format(
                path=path, suffix=suffix, formats=", ".join(INPUT_FORMATS)
            )
        )
    if not path.is_file():
        raise ReportError(
            _("{path}: file not found (run python -m postprocess.merge first)").format(path=path)
        )
    try:
        if suffix == ".csv":
            # All text, as written: codes keep their leading zeros, numbers are parsed below.
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        if suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.DataFrame.from_records(read_jsonl(path).records)
    except JsonLinesError as error:
        raise ReportError(str(error)) from None
    except (OSError, ValueError) as error:
        # Parser messages may span lines; the error stays on one.
        raise ReportError(
            _("{path}: cannot read ({error})").format(path=path, error=" ".join(str(error).split()))
        ) from None


@dataclass
class Permits:
    """The typed columns the report needs, one row per row of the merged table."""

    table: pd.DataFrame

    @classmethod
    def from_merged(cls, merged: pd.DataFrame, path: Path) -> "Permits":
        missing = [name for name in NEEDED_COLUMNS if name not in merged]
        if missing:
            raise ReportError(
                _(
                    "{path}: missing columns {columns}"
                    " (expected the table python -m postprocess.merge writes)"
                ).format(path=path, columns=", ".join(missing))
            )
        registered = _dates(merged["fecha_registro"])
        macro_distrito = merged["macro_distrito"].astype("str").str.strip()
        return cls(
            pd.DataFrame(
                {
                    "source": merged[SOURCE_COLUMN].astype("str"),
                    "page_error": merged[PAGE_ERROR_COLUMN].astype("str"),
                    "resultado": merged["resultado"].astype("str").str.strip().str.upper(),
                    "registered": registered,
                    "year": registered.dt.year.astype("Int64"),
                    "macro_distrito": macro_distrito.replace("", pd.NA).fillna(
                        UNKNOWN_MACRO_DISTRITO
                    ),
                    "district": _numbers(merged["distrito_municipal"]).round().astype("Int64"),
                    "surface": built_surface(merged),
                    "api_surface": _numbers(merged["superficie_construida"]),
                    "parcel": _optional(merged, "codigo_catastral"),
                    "approved_at": _dates(_optional(merged, "fecha_aprobacion")),
                    "latitude": _numbers(merged["latitude"]),
                    "longitude": _numbers(merged["longitude"]),
                }
            )
        )

    @property
    def permits(self) -> pd.DataFrame:
        return self.table[self.table["source"].isin(PERMIT_SOURCES)]

    @property
    def pages(self) -> pd.DataFrame:
        return self.table[self.table["source"].isin(PAGE_SOURCES)]


def _numbers(column: pd.Series) -> pd.Series:
    return pd.to_numeric(column, errors="coerce").astype("Float64")


def _dates(column: pd.Series) -> pd.Series:
    return pd.to_datetime(column, errors="coerce", utc=True, format="ISO8601")


def _optional(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame:
        return frame[name].astype("str")
    return pd.Series(pd.NA, index=frame.index, dtype="str")


# -- Charts ----------------------------------------------------------------------------


@dataclass
class Chart:
    """A chart of the report: its file, the heading and notes the summary gives it, and
    its figure (None when it is not drawn: the notes say why)."""

    name: str
    heading: str
    figure: Figure | None
    notes: list[str] = field(default_factory=list)


def not_drawn_note(points: int, what: str) -> str:
    return _("Not drawn: {points} {what}, and a chart needs at least {minimum}.").format(
        points=number(points), what=what, minimum=MIN_POINTS
    )


def partial_year_note(year: int, last: datetime, what: str) -> str:
    return _("{year} is still running (its bar is hatched): {what} up to {day}.").format(
        year=year, what=what, day=f"{last:%Y-%m-%d}"
    )


def left_out_note(count: int, why: str) -> str:
    return _("{count} left out: {why}.").format(count=number(count), why=why)


@dataclass(frozen=True)
class YearChartWords:
    """What a per-year chart says: its title, axes, and what its bars count."""

    heading: str
    title: str
    xlabel: str
    ylabel: str
    counted: str


def tramites_words() -> YearChartWords:
    return YearChartWords(
        heading=_("Trámites (applications) per year"),
        title=_("Trámites (applications) per year of registration"),
        xlabel=_("Year of registration (fecha_registro)"),
        ylabel=_("Trámites (applications)"),
        counted=_("registrations"),
    )


def approvals_words() -> YearChartWords:
    return YearChartWords(
        heading=_("Approved permits (permisos aprobados) per year"),
        title=_("Approved permits (permisos aprobados) per year"),
        xlabel=_("Year of approval (fecha_aprobacion)"),
        ylabel=_("Approved permits"),
        counted=_("approvals"),
    )


def per_year_figure(counts: pd.DataFrame, today: date, words: YearChartWords) -> Figure:
    """Stacked bars of `counts` (years × macro-districts); the year of `today` hatched."""
    figure = Figure(figsize=(10, 5.5), layout="constrained")
    axes = figure.add_subplot()
    # The largest macro-districts at the bottom of each bar and first in the legend.
    counts = counts[counts.sum().sort_values(ascending=False).index]
    years = [int(year) for year in counts.index]
    hatches = ["//" if year == today.year else None for year in years]
    colours = _colours(len(counts.columns))
    bottom = pd.Series(0, index=counts.index)
    for colour, macro_distrito in zip(colours, counts.columns, strict=True):
        axes.bar(
            years,
            counts[macro_distrito],
            bottom=bottom,
            label=macro_distrito,
            color=colour,
            hatch=hatches,
            edgecolor="white",
        )
        bottom = bottom + counts[macro_distrito]
    axes.set_xticks(years, [_year_label(year, today) for year in years])
    axes.legend(title=_("Macro-distrito"), loc="upper left", bbox_to_anchor=(1.01, 1))
    axes.set_title(words.title)
    axes.set_xlabel(words.xlabel)
    axes.set_ylabel(words.ylabel)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(axis="y", alpha=0.3)
    return figure


def per_year_chart(
    name: str,
    dated: pd.DataFrame,
    dates: pd.Series,
    words: YearChartWords,
    notes: list[str],
    today: date | None,
) -> Chart:
    """The rows of `dated` by the year of `dates` and macro-district, unless under two years."""
    today = today or datetime.now(UTC).date()
    counts = dated.assign(year=dates.dt.year).groupby(["year", "macro_distrito"]).size()
    counts = counts.unstack(fill_value=0)
    figure = None
    if len(counts) < MIN_POINTS:
        notes.append(
            not_drawn_note(len(counts), _("year(s) with {what}").format(what=words.counted))
        )
    else:
        figure = per_year_figure(counts, today, words)
        if today.year in counts.index:
            notes.append(partial_year_note(today.year, dates.max(), words.counted))
    return Chart(name, words.heading, figure, notes)


def tramites_per_year_chart(permits: pd.DataFrame, today: date | None = None) -> Chart:
    """Every trámite (application) by year of registration, whatever its result."""
    dated = permits[permits["registered"].notna()]
    notes = [
        _(
            "Every trámite (application) of the layer, whatever its `resultado` (approved,"
            " observed, rejected or none), by the year of `fecha_registro`: {count}."
        ).format(count=number(len(dated))),
    ]
    if len(dated) < len(permits):
        notes.append(left_out_note(len(permits) - len(dated), _("without a registration date")))
    words = tramites_words()
    return per_year_chart(TRAMITES_CHART, dated, dated["registered"], words, notes, today)


def approved_per_year_chart(permits: pd.DataFrame, today: date | None = None) -> Chart:
    """The approved permits (resultado APROBADO) by year of approval (fecha_aprobacion)."""
    approved = permits[permits["resultado"] == APPROVED]
    dated = approved[approved["approved_at"].notna()]
    notes = [
        _(
            "Only the permits granted: `resultado` {approved_value}, by the year of"
            " `fecha_aprobacion`: {count} of the {total} trámites."
        ).format(approved_value=APPROVED, count=number(len(dated)), total=number(len(permits))),
    ]
    if len(dated) < len(approved):
        notes.append(
            left_out_note(len(approved) - len(dated), _("approved without an approval date"))
        )
    return per_year_chart(
        APPROVALS_CHART, dated, dated["approved_at"], approvals_words(), notes, today
    )


def _year_label(year: int, today: date) -> str:
    return f"{year}\n" + _("(partial)") if year == today.year else str(year)


def _colours(count: int) -> list:
    # tab20 keeps up to 20 macro-districts apart; La Paz has nine and "(unknown)".
    palette = colormaps["tab10" if count <= 10 else "tab20"]
    return [palette(index % palette.N) for index in range(count)]


def map_view(values: pd.Series) -> tuple[float, float]:
    """The axis limits that hold the bulk of `values`, with a margin."""
    low, high = values.quantile(list(MAP_QUANTILES))
    margin = max(high - low, 0.01) * MAP_MARGIN
    return float(low - margin), float(high + margin)


def located(permits: pd.DataFrame) -> pd.DataFrame:
    """The trámites with plausible coordinates (0,0 is a missing point, not a place)."""
    return permits[
        permits["latitude"].between(-90, 90)
        & permits["longitude"].between(-180, 180)
        & ~((permits["latitude"] == 0) & (permits["longitude"] == 0))
    ]


def map_figure(points: pd.DataFrame) -> tuple[Figure, int]:
    """Dots coloured by year, district numbers at their middle; also how many fell outside."""
    figure = Figure(figsize=(8, 8), layout="constrained")
    axes = figure.add_subplot()
    latitudes = points["latitude"].astype(float)
    longitudes = points["longitude"].astype(float)
    south, north = map_view(latitudes)
    west, east = map_view(longitudes)
    outside = int((~(latitudes.between(south, north) & longitudes.between(west, east))).sum())
    # Newest on top; undated trámites in grey beneath everything.
    undated = points["year"].isna()
    axes.scatter(
        longitudes[undated], latitudes[undated], s=4, color="lightgrey", label=_("no date")
    )
    dated = points[~undated].sort_values("year")
    dots = axes.scatter(
        dated["longitude"].astype(float),
        dated["latitude"].astype(float),
        c=dated["year"].astype(float),
        s=4,
        alpha=0.7,
        cmap="viridis",
    )
    if not dated.empty:
        colour_bar = figure.colorbar(dots, ax=axes, shrink=0.8)
        colour_bar.set_label(_("Year of registration"))
        colour_bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if undated.any():
        axes.legend(loc="lower right", markerscale=3)
    for district, middle in district_middles(points).iterrows():
        axes.annotate(
            f"D{district}",
            (middle["longitude"], middle["latitude"]),
            ha="center",
            va="center",
            fontsize="small",
            fontweight="bold",
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "alpha": 0.7, "lw": 0},
        )
    axes.set_xlim(west, east)
    axes.set_ylim(south, north)
    # A degree of longitude is shorter than one of latitude by cos(latitude).
    axes.set_aspect(1 / math.cos(math.radians((south + north) / 2)))
    axes.set_title(_("Trámites (applications) at their coordinates"))
    axes.set_xlabel(_("Longitude (°)"))
    axes.set_ylabel(_("Latitude (°)"))
    axes.grid(alpha=0.3)
    return figure, outside


def district_middles(points: pd.DataFrame) -> pd.DataFrame:
    """The median position of each distrito municipal's trámites, by district number."""
    known = points[points["district"].notna()]
    middles = known.groupby("district")[["longitude", "latitude"]].median()
    middles.index = middles.index.astype(int)
    return middles.astype(float)


def tramites_map_chart(permits: pd.DataFrame) -> Chart:
    """Where the trámites are; the notes say plainly what the map shows and what it lacks."""
    points = located(permits)
    notes = [
        _(
            "One dot per trámite (application, whatever its result) at its coordinates:"
            " {count} of {total}; colour: year of registration. Each distrito"
            " municipal's number (D1…) stands at the middle of its trámites. No streets and no"
            " district outlines: no free source of them works offline."
        ).format(count=number(len(points)), total=number(len(permits))),
    ]
    figure = None
    if len(points) < MIN_POINTS:
        notes.append(not_drawn_note(len(points), _("trámite(s) with coordinates")))
    else:
        figure, outside = map_figure(points)
        if outside:
            notes.append(
                _("{count} trámites lie outside the view (coordinates far from the rest).").format(
                    count=number(outside)
                )
            )
    return Chart(MAP_CHART, _("Trámites on the map"), figure, notes)


def one_permit_per_parcel(approved: pd.DataFrame) -> pd.DataFrame:
    """The latest approved permit of each parcel; permits without a code each count."""
    latest_first = approved.sort_values(
        ["approved_at", "registered"], ascending=False, na_position="last", kind="stable"
    )
    has_parcel = latest_first["parcel"].notna()
    kept = latest_first[~has_parcel | ~latest_first["parcel"].duplicated()]
    return kept.sort_index()


def district_label(district: int, macro_distritos: pd.Series) -> str:
    """ "D18 · SUR": the district's number and the macro-district most of its permits name."""
    known = macro_distritos[macro_distritos != UNKNOWN_MACRO_DISTRITO]
    if known.empty:
        return f"D{district}"
    name = known.value_counts().index[0]
    # "V - SUR" -> "SUR": the roman numeral repeats what the name says.
    return f"D{district} · {name.split(' - ', 1)[-1]}"


def surface_figure(sums: pd.Series) -> Figure:
    """Horizontal bars, thousand m² per district label; D1 at the top."""
    figure = Figure(figsize=(10, 7), layout="constrained")
    axes = figure.add_subplot()
    axes.barh(list(sums.index), sums.to_numpy(), color="tab:green")
    axes.invert_yaxis()
    axes.set_title(_("Built surface of the approved permits by distrito municipal"))
    axes.set_ylabel(_("Distrito municipal · macro-district"))
    axes.set_xlabel(_("Built surface (thousand m²)"))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _position: number(value)))
    axes.grid(axis="x", alpha=0.3)
    return figure


def surface_by_district(with_surface: pd.DataFrame) -> pd.Series:
    """Thousand m² of built surface per district, labelled "D18 · SUR", by number."""
    groups = with_surface.groupby("district")
    sums = groups["surface"].sum().sort_index() / 1000
    sums.index = [
        district_label(int(district), group["macro_distrito"]) for district, group in groups
    ]
    return sums.astype(float)


def surface_by_district_chart(permits: pd.DataFrame) -> Chart:
    """Built surface of the approved permits per distrito municipal, a parcel once."""
    approved = permits[(permits["resultado"] == APPROVED) & permits["district"].notna()]
    counted = one_permit_per_parcel(approved)
    with_surface = counted[counted["surface"].notna()]
    from_page = int(with_surface["api_surface"].isna().sum())
    sums = surface_by_district(with_surface)
    notes = [
        _(
            "Approved permits only (`resultado` {approved_value}) with a distrito municipal:"
            " {parcels} parcels, each counted once by its latest approved permit"
            " ({earlier} earlier permits of the same parcels left out)."
        ).format(
            approved_value=APPROVED,
            parcels=number(len(with_surface)),
            earlier=number(len(approved) - len(counted)),
        ),
        _(
            "Surface from the WFS (`superficie_construida`), else from the permit page"
            " ({from_page}); {without} without a surface."
        ).format(from_page=number(from_page), without=number(len(counted) - len(with_surface))),
    ]
    figure = None
    if len(sums) < MIN_POINTS:
        notes.append(not_drawn_note(len(sums), _("district(s) with a surface")))
    else:
        figure = surface_figure(sums)
    return Chart(SURFACE_CHART, _("Built surface of the approved permits"), figure, notes)


def report_charts(data: Permits, today: date | None = None, demo: bool = False) -> list[Chart]:
    """The report's charts; with `demo`, each marked DATOS DE DEMOSTRACIÓN: across the drawn
    ones, and in every heading the summary gives them."""
    permits = data.permits
    charts = [
        tramites_per_year_chart(permits, today),
        approved_per_year_chart(permits, today),
        tramites_map_chart(permits),
        surface_by_district_chart(permits),
    ]
    for chart in charts:
        if demo:
            chart.heading = demo_title(chart.heading)
        if demo and chart.figure is not None:
            mark_as_demo(chart.figure)
    return charts


# -- Summary ---------------------------------------------------------------------------


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "–"


def demo_lines() -> list[str]:
    return [
        _(
            "**{mark}**: made by `python -m tools.demo` from a local replica of the site;"
            " the permits are invented, not La Paz's."
        ).format(mark=DEMO_MARK),
        "",
    ]


def chart_lines(chart: Chart) -> list[str]:
    lines = ["", f"### {chart.heading}", ""]
    if chart.figure is not None:
        lines += [f"![{chart.heading}]({chart.name})", ""]
    return lines + [f"- {note}" for note in chart.notes]


def summary_markdown(data: Permits, source: Path, charts: list[Chart], demo: bool) -> str:
    """The counts a person wants first, and the charts with their notes."""
    permits, pages = data.permits, data.pages
    approved = int((permits["resultado"] == APPROVED).sum())
    failed_pages = pages[pages["page_error"].notna()]
    reasons = failed_pages["page_error"].map(error_reason).value_counts()
    sources = data.table["source"].value_counts()
    by_source = ", ".join(
        f"{name} {number(int(sources.get(name, 0)))}" for name in SOURCE_BY_SIDE.values()
    )
    dated = permits["registered"].dropna()
    macro_distritos = permits["macro_distrito"].value_counts().head(TOP_MACRO_DISTRITOS)

    lines = [_("# Building permits of La Paz: summary"), ""]
    if demo:
        lines += demo_lines()
    lines += [
        # The file's name only: a local path says nothing to whoever reads the summary.
        _("From `{source}`: {rows} rows ({by_source} by `fuente`).").format(
            source=source.name, rows=number(len(data.table)), by_source=by_source
        ),
        "",
        _("- Trámites (applications; rows with API data): {count}").format(
            count=number(len(permits))
        ),
        _("- Approved (`resultado` {approved_value}): {count} ({share})").format(
            approved_value=APPROVED, count=number(approved), share=_share(approved, len(permits))
        ),
        _("- Permit pages: {pages}; ok: {ok}; with errors: {failed}").format(
            pages=number(len(pages)),
            ok=number(len(pages) - len(failed_pages)),
            failed=number(len(failed_pages)),
        ),
    ]
    lines += [f"  - {reason}: {number(int(count))}" for reason, count in reasons.items()]
    if dated.empty:
        lines.append(_("- Registered: no dates"))
    else:
        lines.append(
            _("- Registered from {first} to {last}; without a date: {undated}").format(
                first=f"{dated.min():%Y-%m-%d}",
                last=f"{dated.max():%Y-%m-%d}",
                undated=number(len(permits) - len(dated)),
            )
        )
    lines += ["", _("## Top {count} macro-districts").format(count=TOP_MACRO_DISTRITOS), ""]
    lines += [
        "| {} | {} | {} |".format(_("Macro-distrito"), _("Trámites"), _("Share")),
        "|---|---:|---:|",
    ]
    lines += [
        f"| {name} | {number(int(count))} | {_share(int(count), len(permits))} |"
        for name, count in macro_distritos.items()
    ]
    lines += ["", _("## Charts")]
    for chart in charts:
        lines += chart_lines(chart)
    return "\n".join([*lines, ""])


# -- Command line ----------------------------------------------------------------------


def write_report(
    data: Permits, source: Path, output_dir: Path, demo: bool = False, today: date | None = None
) -> list[Path]:
    """Write the charts and the summary into `output_dir`; the files written."""
    charts = report_charts(data, today, demo)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for chart in charts:
            if chart.figure is None:
                # A chart of an earlier report would say what this one does not.
                (output_dir / chart.name).unlink(missing_ok=True)
                continue
            # A bare Figure draws with the Agg canvas: no display is ever needed.
            save_chart(chart.figure, output_dir / chart.name, DPI)
            written.append(output_dir / chart.name)
        summary = output_dir / SUMMARY_FILE
        summary.write_text(summary_markdown(data, source, charts, demo), encoding="utf-8")
    except OSError as error:
        raise ReportError(
            _("{folder}: output folder not writable ({why})").format(
                folder=output_dir, why=error.strerror or error
            )
        ) from None
    return [*written, summary]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m postprocess.report",
        description=_("Charts and a Markdown summary of the merged permit table."),
    )
    parser.add_argument(
        "--input",
        type=Path,
        help=_(
            "the merged table, .csv, .parquet or .jsonl (default: {name} in the data folder,"
            " {default})"
        ).format(name=DEFAULT_OUTPUT, default=DEFAULT_INPUT),
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        help=_(
            "folder for the charts and {summary} (default: a folder {folder} next to the input)"
        ).format(summary=SUMMARY_FILE, folder=REPORT_FOLDER),
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help=_(
            "the crawl's data folder: the merged table's and the history's"
            " (default: the input's folder, else data)"
        ),
    )
    args = parser.parse_args(argv)
    # `--data-dir demo-data` alone reads the demo's table, as the merge's option writes it.
    args.input = args.input or (args.data_dir / DEFAULT_OUTPUT if args.data_dir else DEFAULT_INPUT)
    args.output_dir = args.output_dir or args.input.parent / REPORT_FOLDER
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        data = Permits.from_merged(read_table(args.input), args.input)
        data_dir = args.data_dir or args.input.parent
        written = write_report(data, args.input, args.output_dir, is_demo(data_dir))
        summary = args.output_dir / SUMMARY_FILE
        written += write_history_section(data_dir, args.output_dir, summary)
        written += write_runs_section(data_dir, args.output_dir, summary)
    except (ReportError, HistoryReportError, RunsReportError) as error:
        print(_("error: {why}").format(why=error), file=sys.stderr)
        return 1
    print(
        _("Wrote {files} to {folder}").format(
            files=", ".join(path.name for path in written), folder=args.output_dir
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
