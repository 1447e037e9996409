"""Charts and a short summary of the merged permit table.

    python -m postprocess.report [--input FILE] [--output-dir DIR]

Reads the table `python -m postprocess.merge` writes (default data/tramites_merge.csv; a
.parquet or .jsonl input is read by its extension) and writes into DIR (default: a folder
`report` next to the input, so data/report for the default input):

- `permits_per_year.png`: permits registered each year, stacked by macro-district; the
  current year, still running, is hatched and labelled partial;
- `permits_map.png`: where the permits are, coloured by year of registration;
- `surface_by_district.png`: built surface of the approved permits per distrito municipal
  (named with its macro-district): the WFS's `superficie_construida`, else the surface the
  permit page states; a parcel with several approved permits counts once, by its latest
  approval (several permits of a parcel are mostly renewals and revisions of one building);
- `summary.md`: the counts (permits, approved, pages fetched and failed, dates, top
  macro-districts) with the three charts embedded.

A permit is a row with API data (`fuente` API or Ambos); a page is a row with a page
record (`fuente` HTML or Ambos), failed when `error_pagina` holds a reason.
"""

import argparse
import math
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from lapaz.i18n import _, number
from lapaz.storage.jsonl import JsonLinesError, read_jsonl
from postprocess.history_report import HistoryReportError, write_history_section
from postprocess.merge import (
    DEFAULT_OUTPUT,
    PAGE_ERROR_COLUMN,
    SOURCE_BY_SIDE,
    SOURCE_COLUMN,
    error_reason,
)
from postprocess.numeric import built_surface

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

YEAR_CHART = "permits_per_year.png"
MAP_CHART = "permits_map.png"
SURFACE_CHART = "surface_by_district.png"
SUMMARY_FILE = "summary.md"
DPI = 120
# The map shows the bulk of the points: a few wrong coordinates would otherwise shrink
# the city to a dot. Points beyond these quantiles (plus a margin) fall outside the view.
MAP_QUANTILES = (0.001, 0.999)
MAP_MARGIN = 0.1


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


def _no_data(axes) -> None:
    axes.text(0.5, 0.5, _("No data"), ha="center", va="center", transform=axes.transAxes)


def permits_per_year_chart(permits: pd.DataFrame, today: date | None = None) -> Figure:
    """Stacked bars: permits per year of registration, one colour per macro-district.

    The year of `today` (default: today, UTC) is still running: its bar is hatched and
    its label says it is partial, up to the last registration date in the table.
    """
    today = today or datetime.now(UTC).date()
    figure = Figure(figsize=(10, 5.5), layout="constrained")
    axes = figure.add_subplot()
    dated = permits[permits["year"].notna()]
    counts = dated.groupby(["year", "macro_distrito"]).size().unstack(fill_value=0)
    title = _("Permits per year by macro-district ({count} permits with a date)").format(
        count=number(len(dated))
    )
    if counts.empty:
        _no_data(axes)
    else:
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
        if today.year in years:
            last = dated["registered"].max()
            title += "\n" + _("{year} is partial (hatched): registrations up to {date}").format(
                year=today.year, date=f"{last:%Y-%m-%d}"
            )
    axes.set_title(title)
    axes.set_xlabel(_("Year of registration (fecha_registro)"))
    axes.set_ylabel(_("Permits"))
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(axis="y", alpha=0.3)
    return figure


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


def permits_map_chart(permits: pd.DataFrame) -> tuple[Figure, int]:
    """A scatter of the permits' coordinates coloured by year; also how many fell outside."""
    figure = Figure(figsize=(8, 8), layout="constrained")
    axes = figure.add_subplot()
    located = permits[
        permits["latitude"].between(-90, 90)
        & permits["longitude"].between(-180, 180)
        & ~((permits["latitude"] == 0) & (permits["longitude"] == 0))
    ]
    outside = 0
    if located.empty:
        _no_data(axes)
    else:
        latitudes = located["latitude"].astype(float)
        longitudes = located["longitude"].astype(float)
        south, north = map_view(latitudes)
        west, east = map_view(longitudes)
        outside = int((~(latitudes.between(south, north) & longitudes.between(west, east))).sum())
        # Newest on top; undated permits in grey beneath everything.
        undated = located["year"].isna()
        axes.scatter(
            longitudes[undated], latitudes[undated], s=4, color="lightgrey", label=_("no date")
        )
        dated = located[~undated].sort_values("year")
        points = axes.scatter(
            dated["longitude"].astype(float),
            dated["latitude"].astype(float),
            c=dated["year"].astype(float),
            s=4,
            alpha=0.7,
            cmap="viridis",
        )
        if not dated.empty:
            colour_bar = figure.colorbar(points, ax=axes, shrink=0.8)
            colour_bar.set_label(_("Year of registration"))
            colour_bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        if undated.any():
            axes.legend(loc="lower right", markerscale=3)
        axes.set_xlim(west, east)
        axes.set_ylim(south, north)
        # A degree of longitude is shorter than one of latitude by cos(latitude).
        axes.set_aspect(1 / math.cos(math.radians((south + north) / 2)))
    note = _(", {count} outside the view").format(count=number(outside)) if outside else ""
    axes.set_title(
        _("Permits on the map ({count} with coordinates{note})").format(
            count=number(len(located)), note=note
        )
    )
    axes.set_xlabel(_("Longitude (°)"))
    axes.set_ylabel(_("Latitude (°)"))
    axes.grid(alpha=0.3)
    return figure, outside


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


def surface_by_district_chart(permits: pd.DataFrame) -> Figure:
    """Bars: built surface of the approved permits per distrito municipal, a parcel once."""
    figure = Figure(figsize=(10, 7), layout="constrained")
    axes = figure.add_subplot()
    approved = permits[(permits["resultado"] == APPROVED) & permits["district"].notna()]
    counted = one_permit_per_parcel(approved)
    with_surface = counted[counted["surface"].notna()]
    from_page = int(with_surface["api_surface"].isna().sum())
    sums = with_surface.groupby("district")["surface"].sum().sort_index() / 1000
    if sums.empty:
        _no_data(axes)
    else:
        labels = [
            district_label(int(district), group["macro_distrito"])
            for district, group in with_surface.groupby("district")
        ]
        # Horizontal bars: the district names stay readable; D1 at the top.
        axes.barh(labels, sums.to_numpy(), color="tab:green")
        axes.invert_yaxis()
    axes.set_title(
        _(
            "Built surface of the approved permits (resultado APROBADO) by distrito municipal\n"
            "{parcels} parcels, each counted once by its latest approved permit\n"
            "({earlier} earlier permits of the same parcels left out)\n"
            "surface from the WFS, else from the permit page ({from_page});"
            " {without} without a surface"
        ).format(
            parcels=number(len(with_surface)),
            earlier=number(len(approved) - len(counted)),
            from_page=number(from_page),
            without=number(len(counted) - len(with_surface)),
        ),
        fontsize="medium",
    )
    axes.set_ylabel(_("Distrito municipal · macro-district"))
    axes.set_xlabel(_("Built surface (thousand m²)"))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _position: number(value)))
    axes.grid(axis="x", alpha=0.3)
    return figure


# -- Summary ---------------------------------------------------------------------------


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "–"


def summary_markdown(data: Permits, source: Path, outside_map: int) -> str:
    """The counts a person wants first, and the charts."""
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

    lines = [
        _("# Building permits of La Paz: summary"),
        "",
        _("From `{source}`: {rows} rows ({by_source} by `fuente`).").format(
            source=source, rows=number(len(data.table)), by_source=by_source
        ),
        "",
        _("- Permits (rows with API data): {count}").format(count=number(len(permits))),
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
        "| {} | {} | {} |".format(_("Macro-distrito"), _("Permits"), _("Share")),
        "|---|---:|---:|",
    ]
    lines += [
        f"| {name} | {number(int(count))} | {_share(int(count), len(permits))} |"
        for name, count in macro_distritos.items()
    ]
    map_note = (
        _(" ({count} permits lie outside the view)").format(count=number(outside_map))
        if outside_map
        else ""
    )
    lines += [
        "",
        _("## Charts"),
        "",
        "![{}]({})".format(_("Permits per year by macro-district"), YEAR_CHART),
        "",
        "![{}]({}){}".format(_("Permits on the map"), MAP_CHART, map_note),
        "",
        "![{}]({})".format(_("Built surface by distrito municipal"), SURFACE_CHART),
        "",
    ]
    return "\n".join(lines)


# -- Command line ----------------------------------------------------------------------


def write_report(data: Permits, source: Path, output_dir: Path) -> list[Path]:
    """Write the charts and the summary into `output_dir`; the files written."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        map_figure, outside_map = permits_map_chart(data.permits)
        figures = {
            YEAR_CHART: permits_per_year_chart(data.permits),
            MAP_CHART: map_figure,
            SURFACE_CHART: surface_by_district_chart(data.permits),
        }
        written = []
        for name, figure in figures.items():
            # A bare Figure draws with the Agg canvas: no display is ever needed.
            figure.savefig(output_dir / name, dpi=DPI)
            written.append(output_dir / name)
        summary = output_dir / SUMMARY_FILE
        summary.write_text(summary_markdown(data, source, outside_map), encoding="utf-8")
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
        default=DEFAULT_INPUT,
        help=_("the merged table, .csv, .parquet or .jsonl (default: {default})").format(
            default=DEFAULT_INPUT
        ),
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
        help=_("the crawl's data folder, for 'since the last harvest' (default: the input's)"),
    )
    args = parser.parse_args(argv)
    args.output_dir = args.output_dir or args.input.parent / REPORT_FOLDER
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        data = Permits.from_merged(read_table(args.input), args.input)
        written = write_report(data, args.input, args.output_dir)
        data_dir = args.data_dir or args.input.parent
        written += write_history_section(data_dir, args.output_dir, args.output_dir / SUMMARY_FILE)
    except (ReportError, HistoryReportError) as error:
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
