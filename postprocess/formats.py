"""Writing the merged table in the format its file's extension names.

- `.csv`: UTF-8 text for programs, dates as ISO text as the WFS sent them (spreadsheets
  open the `.xlsx`);
- `.jsonl`: one JSON object a row;
- `.parquet`: GeoParquet: the columns typed (dates and the times of each answer,
  `fecha_consulta`, as UTC timestamps, whole numbers as
  integers) plus `geometry`, the permit's point as WKB with the `geo` metadata; plain
  pandas reads it as a table whose `geometry` column is bytes;
- `.gpkg`: GeoPackage 1.3 (read without warnings by the GDAL of Debian stable and QGIS
  LTR), layer `tramites`, points in EPSG:4326, typed columns (`python -m
  postprocess.datasette` serves it);
- `.geojson`: RFC 7946 (longitude, latitude in WGS 84);
- `.xlsx`: a workbook (see postprocess.xlsx).

A row without coordinates keeps its place with an empty (null) geometry.
"""

from pathlib import Path

import geopandas
import orjson
import pandas as pd

from postprocess.demo_mark import DEMO_NOTE, demo_title, is_demo_table
from postprocess.dictionary_data import TIMESTAMP_FIELDS
from postprocess.xlsx import write_xlsx

GEO_FORMATS = (".parquet", ".gpkg", ".geojson")
OUTPUT_FORMATS = (".csv", ".jsonl", *GEO_FORMATS, ".xlsx")
LAYER = "tramites"
CRS = "EPSG:4326"
GEOMETRY_COLUMN = "geometry"
# GDAL writes GeoPackage 1.4 by default, which GDAL 3.6 (Debian 12, QGIS LTR there) only
# partly supports; 1.3 holds everything the table needs.
GEOPACKAGE_VERSION = "1.3"


def typed_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with its date and time columns as UTC timestamps.

    A column with a value that is no date stays text: nothing is lost to a conversion.
    """
    converted = {}
    for name in TIMESTAMP_FIELDS:
        if name not in frame:
            continue
        column = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            continue
        parsed = pd.to_datetime(column, errors="coerce", utc=True, format="ISO8601")
        if parsed.notna().sum() == column.notna().sum():
            converted[name] = parsed
    return frame.assign(**converted)


def point_geometry(frame: pd.DataFrame) -> geopandas.GeoSeries:
    """Each row's point from `longitude` and `latitude`; None where either is missing."""
    longitude = pd.to_numeric(frame["longitude"], errors="coerce").astype("float64")
    latitude = pd.to_numeric(frame["latitude"], errors="coerce").astype("float64")
    points = geopandas.points_from_xy(longitude, latitude, crs=CRS)
    located = (longitude.notna() & latitude.notna()).to_numpy()
    geometry = geopandas.GeoSeries(points, index=frame.index, crs=CRS)
    return geometry.where(located, None)


def geo_frame(frame: pd.DataFrame) -> geopandas.GeoDataFrame:
    """The typed table with its points, ready for a GIS format."""
    if GEOMETRY_COLUMN in frame:
        raise ValueError(f"the table has a column {GEOMETRY_COLUMN!r} already")
    typed = typed_dates(frame)
    return geopandas.GeoDataFrame(typed, geometry=point_geometry(typed), crs=CRS)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write `frame` in the format its extension names (see OUTPUT_FORMATS)."""
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise ValueError(f"unknown output format {suffix!r}, expected one of {OUTPUT_FORMATS}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.to_csv(path, index=False, encoding="utf-8")
    elif suffix == ".jsonl":
        write_jsonl(frame, path)
    elif suffix == ".xlsx":
        write_xlsx(typed_dates(frame), path)
    elif suffix == ".parquet" and not {"latitude", "longitude"} <= set(frame.columns):
        frame.to_parquet(path, index=False)  # a table without places: plain Parquet
    elif suffix == ".parquet":
        geo_frame(frame).to_parquet(path, index=False)
    else:
        write_gis(geo_frame(frame), path)


def write_gis(frame: geopandas.GeoDataFrame, path: Path) -> None:
    """A GeoPackage or RFC 7946 GeoJSON file, replaced if it exists; a table merged from
    the demo says so in the layer's title and description (what QGIS shows of a layer)."""
    path.unlink(missing_ok=True)  # GDAL would add a layer to an existing GeoPackage
    about = {}
    if is_demo_table(frame.columns):
        about = {"DESCRIPTION": DEMO_NOTE}
    if path.suffix.lower() == ".gpkg":
        if about:
            about["IDENTIFIER"] = demo_title(LAYER)
        frame.to_file(
            path,
            driver="GPKG",
            layer=LAYER,
            engine="pyogrio",
            VERSION=GEOPACKAGE_VERSION,
            **about,
        )
    else:
        frame.to_file(path, driver="GeoJSON", layer=LAYER, engine="pyogrio", RFC7946="YES", **about)


def write_jsonl(frame: pd.DataFrame, path: Path) -> None:
    """One JSON object a row, nulls for empty cells, numbers exactly as held."""
    plain = frame.astype(object).where(frame.notna(), None)
    with path.open("wb") as output:
        for record in plain.to_dict("records"):
            output.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
