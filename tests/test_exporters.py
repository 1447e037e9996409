import csv
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lapaz.crawl.exporters import UnionCsvItemExporter, field_pairs, item_kind, order_keys
from lapaz.records.schema import TRAMITE_FIELDS

PROJECT_ROOT = Path(__file__).resolve().parents[1]


# Stand-ins for lapaz.items: dict subclasses named like the real item classes.
class TramiteItem(dict):
    pass


class DetalleItem(dict):
    pass


def tramite(id_pc_tramite: int, numero_tramite: int, **values) -> TramiteItem:
    item = TramiteItem.fromkeys(TRAMITE_FIELDS)
    item.update(
        id_pc_tramite=id_pc_tramite,
        numero_tramite=numero_tramite,
        codigo_catastral="044104900070000",
        solicitante="MARÍA PEÑA ÑUFLO",
        superficie_construida=354.04,
        **values,
    )
    return item


def detalle(id_pc_tramite: int, numero_tramite: int, error=None, **page) -> DetalleItem:
    return DetalleItem(
        id_pc_tramite=id_pc_tramite,
        codigo_catastral="044104900070000",
        numero_tramite=numero_tramite,
        anio=2025,
        identificador="MDQ0MTA0OTAwMDcwMDAwfDYxMTUzfDIwMjU=",
        url="https://sitservicios.lapaz.bo/situtiles/pc/?MDQ0MTA0OTAwMDcwMDAwfDYxMTUzfDIwMjU=",
        error=error,
        **page,
    )


def export(items, **options) -> list[list[str]]:
    """The CSV rows the exporter writes for `items`, header first."""
    output = io.BytesIO()
    exporter = UnionCsvItemExporter(output, **options)
    exporter.start_exporting()
    for item in items:
        exporter.export_item(item)
    exporter.finish_exporting()
    return list(csv.reader(io.StringIO(output.getvalue().decode("utf-8"), newline="")))


def as_dicts(rows: list[list[str]]) -> list[dict[str, str]]:
    header, *body = rows
    return [dict(zip(header, row, strict=True)) for row in body]


MIXED_ITEMS = [
    tramite(1, 61153),
    detalle(
        1,
        61153,
        gral__codigo_catastral="44104900070000",
        par__superficie_construida="354,04 m2",
        par__retiro_sub_frontal="3,00 ml",
    ),
    detalle(
        2,
        61154,
        error="rechazada",
        otro__arquitecto_reponsable="JOSÉ ÑUFLO",
        par__lateral_2="1.234,56 m2",
        extra="x",
    ),
    tramite(2, 61154, nro_inmueble="0195973"),
    detalle(3, 61155, gral__fecha_aprobacion="12/03/2025"),
]


def test_header_is_the_union_of_all_keys_in_reading_order():
    header = export(MIXED_ITEMS)[0]

    assert header == [
        "tipo",
        *TRAMITE_FIELDS,
        "anio",
        "identificador",
        "url",
        "error",
        "gral__codigo_catastral",
        "gral__fecha_aprobacion",
        "par__superficie_construida",
        "par__retiro_sub_frontal",
        "par__lateral_2",
        "otro__arquitecto_reponsable",
        "extra",
    ]


def test_every_row_keeps_every_value_of_its_item():
    rows = as_dicts(export(MIXED_ITEMS))

    assert len(rows) == len(MIXED_ITEMS)
    for row, item in zip(rows, MIXED_ITEMS, strict=True):
        expected = {key: "" if value is None else str(value) for key, value in item.items()}
        assert {key: row[key] for key in item} == expected
        assert all(row[key] == "" for key in row.keys() - item.keys() - {"tipo"})


def test_kind_column_comes_from_the_item_class():
    rows = as_dicts(export(MIXED_ITEMS))

    assert [row["tipo"] for row in rows] == ["tramite", "detalle", "detalle", "tramite", "detalle"]


def test_accents_and_leading_zeros_survive():
    rows = as_dicts(export(MIXED_ITEMS))

    assert rows[0]["solicitante"] == "MARÍA PEÑA ÑUFLO"
    assert rows[2]["otro__arquitecto_reponsable"] == "JOSÉ ÑUFLO"
    assert rows[0]["codigo_catastral"] == "044104900070000"
    assert rows[3]["nro_inmueble"] == "0195973"
    assert rows[1]["par__superficie_construida"] == "354,04 m2"


def test_configured_fields_are_the_header_as_in_scrapy():
    rows = export(
        MIXED_ITEMS[:3], fields_to_export=["tipo", "id_pc_tramite", "par__superficie_construida"]
    )

    assert rows == [
        ["tipo", "id_pc_tramite", "par__superficie_construida"],
        ["tramite", "1", ""],
        ["detalle", "1", "354,04 m2"],
        ["detalle", "2", ""],
    ]


def test_configured_fields_may_rename_columns():
    rows = export(MIXED_ITEMS[:2], fields_to_export={"tipo": "kind", "error": "error_pagina"})

    assert rows == [["kind", "error_pagina"], ["tramite", ""], ["detalle", ""]]


def test_empty_configured_fields_mean_all_fields():
    assert export(MIXED_ITEMS, fields_to_export=[]) == export(MIXED_ITEMS)


def test_without_header_line_rows_keep_the_union_order():
    with_header = export(MIXED_ITEMS)

    assert export(MIXED_ITEMS, include_headers_line=False) == with_header[1:]


def test_no_items_write_nothing():
    assert export([]) == []


def test_lists_are_joined_as_scrapy_does():
    rows = as_dicts(export([DetalleItem(id_pc_tramite=1, par__usos=["vivienda", "comercio"])]))

    assert rows[0]["par__usos"] == "vivienda,comercio"


def test_an_items_own_tipo_wins():
    rows = as_dicts(export([DetalleItem(tipo="especial", id_pc_tramite=1)]))

    assert rows[0]["tipo"] == "especial"


@pytest.mark.parametrize(
    ("item", "kind"),
    [(TramiteItem(), "tramite"), (DetalleItem(), "detalle"), ({}, "dict")],
)
def test_item_kind(item, kind):
    assert item_kind(item) == kind


def test_order_keys_groups_page_keys_by_section():
    keys = ["otro__a", "par__z", "extra", "gral__b", "par__a", "anio", "id_pc_tramite"]

    assert order_keys(keys, ["id_pc_tramite", "missing", "anio"]) == [
        "id_pc_tramite",
        "anio",
        "gral__b",
        "par__z",
        "par__a",
        "otro__a",
        "extra",
    ]


def test_field_pairs_reads_lists_mappings_and_pairs():
    assert field_pairs(["a", ("b", "B")]) == [("a", "a"), ("b", "B")]
    assert field_pairs({"a": "A"}) == [("a", "A")]


SPIDER = textwrap.dedent(
    """
    import scrapy


    class TramiteItem(dict):
        pass


    class DetalleItem(dict):
        pass


    class MixedSpider(scrapy.Spider):
        name = "mixed"

        async def start(self):
            yield TramiteItem(id_pc_tramite=1, codigo_catastral="044104900070000")
            yield DetalleItem(id_pc_tramite=1, par__superficie_construida="354,04 m2")
            yield DetalleItem(id_pc_tramite=2, otro__arquitecto_reponsable="JOSÉ ÑUFLO")
    """
)


def test_registered_as_the_csv_feed_exporter_in_a_crawl(tmp_path):
    (tmp_path / "spider.py").write_text(SPIDER, encoding="utf-8")
    output = tmp_path / "items.csv"

    subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "runspider",
            "spider.py",
            "-O",
            str(output),
            "-s",
            'FEED_EXPORTERS={"csv": "lapaz.crawl.exporters.UnionCsvItemExporter"}',
            "-s",
            "LOG_LEVEL=WARNING",
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(PROJECT_ROOT), "PATH": "/usr/bin:/bin"},
        check=True,
        timeout=60,
    )

    with output.open(encoding="utf-8", newline="") as csv_file:
        rows = list(csv.DictReader(csv_file))
    assert list(rows[0]) == [
        "tipo",
        "id_pc_tramite",
        "codigo_catastral",
        "par__superficie_construida",
        "otro__arquitecto_reponsable",
    ]
    assert rows[0]["codigo_catastral"] == "044104900070000"
    assert rows[1]["par__superficie_construida"] == "354,04 m2"
    assert rows[2]["otro__arquitecto_reponsable"] == "JOSÉ ÑUFLO"
