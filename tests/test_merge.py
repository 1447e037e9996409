import csv
import subprocess
import sys
from pathlib import Path

import orjson
import pandas as pd
import pytest

from lapaz.permits.identity import permit_identifier
from lapaz.records.schema import DETALLE_FIELDS, TRAMITE_FIELDS
from lapaz.storage.jsonl import JsonLinesError, parse_jsonl, read_jsonl
from postprocess.merge import (
    error_reason,
    identifier_identity,
    main,
    merge,
    permit_identity,
    records_to_frame,
)
from postprocess.numeric import Measure, add_numeric_columns, parse_measure, parse_number

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PARCEL = "044104900070000"
PAGE_URL = "https://sitservicios.lapaz.bo/situtiles/pc/"


def tramite(id_pc_tramite: int, numero_tramite: int, codigo: str | None, **values) -> dict:
    record = dict.fromkeys(TRAMITE_FIELDS)
    record.update(
        id_pc_tramite=id_pc_tramite,
        descripcion="PERMISO DE CONSTRUCCION",
        fecha_registro="2025-03-07T20:58:21.667Z",
        solicitante="MARÍA VIRGINIA PEÑA",
        arquitecto_registro_nacional_cab="018122",
        numero_tramite=numero_tramite,
        resultado="APROBADO",
        codigo_catastral=codigo,
        distrito_municipal=18,
        superficie_construida=354.04,
        latitude=-16.500009,
        longitude=-68.083611,
    )
    record.update(values)
    return record


def detalle(
    id_pc_tramite: int, numero_tramite: int, codigo: str | None, error: str | None = None, **page
) -> dict:
    return {
        "id_pc_tramite": id_pc_tramite,
        "codigo_catastral": codigo,
        "numero_tramite": numero_tramite,
        "anio": 2025 if codigo else None,
        "identificador": f"id-{numero_tramite}" if codigo else None,
        "url": f"https://sitservicios.lapaz.bo/situtiles/pc/?id-{numero_tramite}"
        if codigo
        else None,
        "error": error,
        **page,
    }


TRAMITES = [
    tramite(1, 61153, PARCEL, nro_inmueble="0195973"),
    tramite(2, 61160, PARCEL),  # a second permit on the same parcel
    tramite(3, 70, "001002003004005"),
    tramite(4, 71, None),
    tramite(5, 72, "020051900250000", id_proyecto_desarrollo=8),  # never requested
    tramite(6, 73, "009008700130000"),
    tramite(7, 74, "044018700330000"),
    tramite(8, 75, "044041500140000"),
]
DETALLES = [
    detalle(
        1,
        61153,
        PARCEL,
        gral__codigo_catastral="44104900070000",
        par__superficie_construida="1.234,56 m2",
        par__numero_de_plantas="3 plantas",
    ),
    detalle(
        2,
        61160,
        PARCEL,
        gral__codigo_catastral=PARCEL,
        par__superficie_construida="354,04 m2",
        par__retiro_sub_frontal="3,00 ml",
        otro__arquitecto_reponsable="JOSÉ ÑUFLO",
    ),
    detalle(3, 70, "001002003004005", error="rechazada"),
    detalle(4, 71, None, error="sin_codigo_catastral"),
    detalle(6, 73, "009008700130000", error="TimeoutError: took longer than 180.0 seconds"),
    detalle(
        7,
        74,
        "044018700330000",
        gral__codigo_catastral="044-018-700-330-000",
        par__superficie_construida="S/D",
    ),
    detalle(8, 75, "044041500140000", gral__codigo_catastral="044041500140001"),
    detalle(99, 999, "030000000000000", gral__codigo_catastral="030000000000000"),  # no permit
]


def frames(tramites=TRAMITES, detalles=DETALLES) -> tuple[pd.DataFrame, pd.DataFrame]:
    return records_to_frame(tramites, TRAMITE_FIELDS), records_to_frame(detalles, DETALLE_FIELDS)


def jsonl(records: list[dict]) -> bytes:
    return b"".join(orjson.dumps(record) + b"\n" for record in records)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    (tmp_path / "tramites.jsonl").write_bytes(jsonl(TRAMITES))
    (tmp_path / "detalles.jsonl").write_bytes(jsonl(DETALLES))
    return tmp_path


def row_of(merged: pd.DataFrame, numero_tramite: int) -> pd.Series:
    rows = merged[merged["numero_tramite"] == numero_tramite]
    assert len(rows) == 1
    return rows.iloc[0]


def row_of_permit(merged: pd.DataFrame, id_pc_tramite: int) -> pd.Series:
    rows = merged[merged["id_pc_tramite"] == id_pc_tramite]
    assert len(rows) == 1
    return rows.iloc[0]


# -- merge ----------------------------------------------------------------------------


def test_one_row_per_permit_and_per_orphan_page():
    merged, report = merge(*frames())

    assert list(merged["numero_tramite"]) == [61153, 61160, 70, 71, 72, 73, 74, 75, 999]
    assert list(merged["fuente"]) == ["Ambos"] * 4 + ["API"] + ["Ambos"] * 3 + ["HTML"]
    assert report.rows_by_source == {"API": 1, "HTML": 1, "Ambos": 7}


def test_a_parcel_with_several_permits_gets_each_page_on_its_own_permit():
    merged, _ = merge(*frames())

    first, second = row_of(merged, 61153), row_of(merged, 61160)
    assert first["codigo_catastral"] == second["codigo_catastral"] == PARCEL
    assert first["par__superficie_construida"] == "1.234,56 m2"
    assert second["par__superficie_construida"] == "354,04 m2"
    assert pd.isna(first["otro__arquitecto_reponsable"])


def test_failed_pages_join_their_permit():
    merged, _ = merge(*frames())

    assert row_of(merged, 70)["error_pagina"] == "rechazada"
    without_code = row_of(merged, 71)
    assert without_code["error_pagina"] == "sin_codigo_catastral"
    assert without_code["fuente"] == "Ambos"
    assert without_code["id_pc_tramite"] == 4


def test_page_without_permit_keeps_its_permit_fields():
    merged, _ = merge(*frames())

    orphan = row_of(merged, 999)
    assert orphan["fuente"] == "HTML"
    assert orphan["id_pc_tramite"] == 99
    assert orphan["codigo_catastral"] == "030000000000000"
    assert pd.isna(orphan["solicitante"])


def test_columns_have_no_duplicates_and_a_stable_order():
    merged, _ = merge(*frames())

    assert list(merged.columns) == [
        *TRAMITE_FIELDS,
        "anio",
        "identificador",
        "url",
        "error_pagina",
        "fecha_consulta_pagina",
        "warc_archivo",
        "warc_registro",
        "gral__codigo_catastral",
        "par__superficie_construida",
        "par__numero_de_plantas",
        "par__retiro_sub_frontal",
        "otro__arquitecto_reponsable",
        "fuente",
    ]


def test_page_codes_in_another_form_are_not_mismatches():
    _, report = merge(*frames())

    assert report.codigo_mismatches == 1
    assert report.mismatch_examples == [
        {
            "id_pc_tramite": 8,
            "numero_tramite": 75,
            "codigo_catastral": "044041500140000",
            "gral__codigo_catastral": "044041500140001",
        }
    ]


def test_page_errors_are_counted_by_reason():
    _, report = merge(*frames())

    assert report.page_errors == {"rechazada": 1, "sin_codigo_catastral": 1, "TimeoutError": 1}


def test_duplicates_are_kept_once_preferring_a_successful_page():
    tramites = [*TRAMITES, TRAMITES[0]]
    detalles = [
        detalle(1, 61153, PARCEL, error="http_503"),
        *DETALLES,
        detalle(1, 61153, PARCEL, error="rechazada"),
    ]

    merged, report = merge(*frames(tramites, detalles))

    assert len(merged) == 9
    assert pd.isna(row_of(merged, 61153)["error_pagina"])
    assert (report.duplicate_permits, report.duplicate_pages) == (1, 2)


def test_a_permit_without_number_joins_its_unrequested_page():
    tramites = [tramite(10, None, PARCEL)]
    detalles = [
        {
            "id_pc_tramite": 10,
            "codigo_catastral": PARCEL,
            "numero_tramite": None,
            "anio": 2025,
            "identificador": None,
            "url": None,
            "error": "sin_numero_tramite",
        }
    ]

    merged, report = merge(*frames(tramites, detalles))

    assert len(merged) == 1
    row = row_of_permit(merged, 10)
    assert (row["fuente"], row["error_pagina"]) == ("Ambos", "sin_numero_tramite")
    assert report.rows_by_source == {"API": 0, "HTML": 0, "Ambos": 1}


def test_permits_with_the_same_code_and_number_in_other_years_keep_their_pages():
    tramites = [
        tramite(20, 500, PARCEL, fecha_registro="2019-05-02T10:00:00Z"),
        tramite(21, 500, PARCEL),
    ]
    older = {**detalle(20, 500, PARCEL, par__superficie_construida="100 m2"), "anio": 2019}
    detalles = [older, detalle(21, 500, PARCEL, par__superficie_construida="200 m2")]

    merged, report = merge(*frames(tramites, detalles))

    assert list(merged["fuente"]) == ["Ambos", "Ambos"]
    assert row_of_permit(merged, 20)["par__superficie_construida"] == "100 m2"
    assert row_of_permit(merged, 20)["anio"] == 2019
    assert row_of_permit(merged, 21)["par__superficie_construida"] == "200 m2"
    assert row_of_permit(merged, 21)["anio"] == 2025
    assert report.duplicate_pages == 0


def test_permits_without_code_sharing_a_number_keep_their_pages():
    tramites = [tramite(30, 800, None), tramite(31, 800, None)]
    detalles = [
        detalle(30, 800, None, error="sin_codigo_catastral"),
        detalle(31, 800, None, error="sin_codigo_catastral"),
    ]

    merged, report = merge(*frames(tramites, detalles))

    assert list(merged["id_pc_tramite"]) == [30, 31]
    assert list(merged["fuente"]) == ["Ambos", "Ambos"]
    assert list(merged["error_pagina"]) == ["sin_codigo_catastral"] * 2
    assert report.duplicate_pages == 0


def test_a_page_record_without_id_joins_the_permit_with_its_identity():
    tramites = [
        tramite(40, 900, PARCEL, fecha_registro="2019-05-02T10:00:00Z"),
        tramite(41, 900, PARCEL),
        tramite(42, 901, "001002003004005"),
    ]
    by_fields = {  # the code in another form, the year telling the permits apart
        **detalle(None, 900, 44104900070000, par__superficie_construida="2019 m2"),
        "anio": 2019,
    }
    identificador = permit_identifier("001002003004005", 901, 2025)
    by_identifier = {
        **dict.fromkeys(DETALLE_FIELDS),
        "identificador": identificador,
        "par__superficie_construida": "901 m2",
    }
    unknown = detalle(None, 902, PARCEL, par__superficie_construida="902 m2")

    merged, _ = merge(*frames(tramites, [by_fields, by_identifier, unknown]))

    assert list(merged["fuente"]) == ["Ambos", "API", "Ambos", "HTML"]
    assert row_of_permit(merged, 40)["par__superficie_construida"] == "2019 m2"
    assert row_of_permit(merged, 42)["par__superficie_construida"] == "901 m2"
    assert row_of(merged, 902)["par__superficie_construida"] == "902 m2"


def test_page_records_of_one_permit_with_and_without_id_are_duplicates():
    detalles = [
        detalle(1, 61153, PARCEL, par__superficie_construida="1 m2"),
        detalle(None, 61153, PARCEL, error="http_503"),
    ]

    merged, report = merge(*frames([tramite(1, 61153, PARCEL)], detalles))

    assert len(merged) == 1
    assert row_of_permit(merged, 1)["par__superficie_construida"] == "1 m2"
    assert report.duplicate_pages == 1


def test_merge_of_empty_inputs_has_the_schema_columns():
    merged, report = merge(*frames([], []))

    assert merged.empty
    assert list(merged.columns[: len(TRAMITE_FIELDS)]) == TRAMITE_FIELDS
    assert report.rows_by_source == {"API": 0, "HTML": 0, "Ambos": 0}


@pytest.mark.parametrize(
    ("codigo", "numero", "anio", "identity"),
    [
        ("044104900070000", 61153, 2025, "044104900070000|61153|2025"),
        (44104900070000, 61153.0, 2025.0, "044104900070000|61153|2025"),
        (None, 71, 2025, None),
        (PARCEL, None, 2025, None),
        (PARCEL, 61153, pd.NA, None),
        (pd.NA, pd.NA, pd.NA, None),
    ],
)
def test_permit_identity(codigo, numero, anio, identity):
    assert permit_identity(codigo, numero, anio) == identity


@pytest.mark.parametrize(
    ("identificador", "identity"),
    [
        (permit_identifier(PARCEL, 61153, 2025), f"{PARCEL}|61153|2025"),
        ("id-61153", None),
        ("aGVsbG8=", None),  # "hello": base64, but not an identifier
        (None, None),
        (pd.NA, None),
    ],
)
def test_identifier_identity(identificador, identity):
    assert identifier_identity(identificador) == identity


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        ("rechazada", "rechazada"),
        ("http_503", "http_503"),
        ("TimeoutError: took longer than 180.0 seconds", "TimeoutError"),
    ],
)
def test_error_reason(error, reason):
    assert error_reason(error) == reason


def test_records_to_frame_types_columns():
    frame = records_to_frame(
        [
            {"id_pc_tramite": 1, "nro_inmueble": 195973, "superficie_legal": 300, "x": 1},
            {"id_pc_tramite": None, "nro_inmueble": "0195973", "superficie_legal": None, "x": "a"},
        ],
        ["id_pc_tramite", "anio"],
    )

    assert list(frame.columns) == ["id_pc_tramite", "anio", "nro_inmueble", "superficie_legal", "x"]
    assert str(frame["id_pc_tramite"].dtype) == "Int64"
    assert str(frame["anio"].dtype) == "Int64"
    assert list(frame["nro_inmueble"]) == ["195973", "0195973"]
    assert str(frame["superficie_legal"].dtype) == "Float64"
    assert list(frame["x"]) == ["1", "a"]


# -- JSON lines -----------------------------------------------------------------------


def test_truncated_last_line_is_dropped_with_a_warning():
    result = parse_jsonl(b'{"a": 1}\n\n{"a": 2}\n{"a": 3, "b', "tramites.jsonl")

    assert result.records == [{"a": 1}, {"a": 2}]
    assert result.warnings == ["tramites.jsonl: line 4 is incomplete (interrupted crawl?), ignored"]


def test_bad_middle_line_names_file_and_line():
    with pytest.raises(JsonLinesError, match=r"^detalles.jsonl: line 2 is not valid JSON$"):
        parse_jsonl(b'{"a": 1}\n{"a": \n{"a": 3}\n', "detalles.jsonl")


@pytest.mark.parametrize(
    "content",
    [b"id_pc_tramite,codigo_catastral\n", b"[1, 2]\n", b'{"a": 1}\n"text"\n'],
    ids=["csv", "array", "string"],
)
def test_not_json_lines_is_an_error(content):
    with pytest.raises(JsonLinesError):
        parse_jsonl(content, "x.jsonl")


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(JsonLinesError, match="file not found"):
        read_jsonl(tmp_path / "tramites.jsonl")


# -- numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("354,04", 354.04),
        ("1.234,56", 1234.56),
        ("1.234.567,89", 1234567.89),
        ("3", 3),
        ("3,00", 3.0),
        ("354.04", 354.04),
        ("1,234.56", 1234.56),
        ("1.234", 1234),
        ("0.500", 0.5),
        ("1,234,567", 1234567),
        ("1.23.4", None),
        ("1,2,3", None),
        ("-2,5", -2.5),
    ],
)
def test_parse_number(text, number):
    parsed = parse_number(text)

    assert parsed == number
    assert type(parsed) is type(number)


@pytest.mark.parametrize(
    ("value", "measure"),
    [
        ("354,04 m2", Measure(354.04, "m2")),
        ("1.234,56 m2", Measure(1234.56, "m2")),
        ("3 plantas", Measure(3, "plantas")),
        ("3,00 ml", Measure(3.0, "ml")),
        ("2 unidades", Measure(2, "unidades")),
        ("354.04 m2", Measure(354.04, "m2")),
        ("354,04m2", Measure(354.04, "m2")),
        (" 12,5 M² ", Measure(12.5, "m2")),
        ("7", Measure(7, None)),
        ("S/D", None),
        ("-", None),
        ("", None),
        ("3 x 4", None),
        ("3 plantas + 1 sótano", None),
        (None, None),
    ],
)
def test_parse_measure(value, measure):
    assert parse_measure(value) == measure


def test_numeric_columns_follow_their_value():
    pages = pd.DataFrame(
        {
            "par__superficie": pd.Series(["1.234,56 m2", "S/D", None], dtype="str"),
            "par__plantas": pd.Series(["3 plantas", "2 plantas", "1 planta"], dtype="str"),
            "par__uso": pd.Series(["vivienda", None, "comercio"], dtype="str"),
            "otro__x": pd.Series(["1", "2", "3"], dtype="str"),
        }
    )

    numeric = add_numeric_columns(pages)

    assert list(numeric.columns) == [
        "par__superficie",
        "par__superficie_num",
        "par__superficie_unidad",
        "par__plantas",
        "par__plantas_num",
        "par__plantas_unidad",
        "par__uso",
        "otro__x",
    ]
    assert numeric["par__superficie_num"].tolist()[0] == 1234.56
    assert numeric["par__superficie_num"].isna().tolist() == [False, True, True]
    assert str(numeric["par__plantas_num"].dtype) == "Int64"
    assert numeric["par__plantas_unidad"].tolist() == ["plantas", "plantas", "planta"]


# -- the command ----------------------------------------------------------------------


def test_csv_keeps_zeros_accents_and_whole_numbers(data_dir, capsys):
    assert main(["--data-dir", str(data_dir)]) == 0

    output = data_dir / "tramites_merge.csv"
    as_text = pd.read_csv(output, dtype=str, keep_default_na=False)
    assert as_text.loc[0, "codigo_catastral"] == PARCEL
    assert as_text.loc[0, "nro_inmueble"] == "0195973"
    assert as_text.loc[0, "arquitecto_registro_nacional_cab"] == "018122"
    assert as_text.loc[0, "gral__codigo_catastral"] == "44104900070000"
    assert as_text.loc[0, "solicitante"] == "MARÍA VIRGINIA PEÑA"
    assert as_text.loc[8, "id_pc_tramite"] == "99"
    assert as_text.loc[8, "distrito_municipal"] == ""
    assert as_text.loc[4, "id_proyecto_desarrollo"] == "8"
    assert as_text.loc[0, "anio"] == "2025"
    with output.open(encoding="utf-8", newline="") as csv_file:
        rows = list(csv.DictReader(csv_file))
    assert rows[1]["otro__arquitecto_reponsable"] == "JOSÉ ÑUFLO"
    assert rows[1]["codigo_catastral"] == PARCEL

    printed = capsys.readouterr().out
    assert "Rows by fuente: API 1, HTML 1, Ambos 7" in printed
    assert "Pages with errors: 3 (rechazada 1, sin_codigo_catastral 1, TimeoutError 1)" in printed
    assert "Page code differs from permit code: 1 rows" in printed
    assert "044041500140001" in printed


def test_excel_option_sends_spreadsheet_users_to_the_workbook(data_dir, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--data-dir", str(data_dir), "--output", str(data_dir / "x.csv"), "--excel"])

    assert exit_info.value.code == 2
    assert "--excel is gone: spreadsheets open the .xlsx" in capsys.readouterr().err
    assert not (data_dir / "x.csv").exists()


def test_parquet_round_trip_keeps_types(data_dir):
    output = data_dir / "merge.parquet"

    assert main(["--data-dir", str(data_dir), "--output", str(output)]) == 0

    table = pd.read_parquet(output)
    for name in ["codigo_catastral", "nro_inmueble", "gral__codigo_catastral", "identificador"]:
        assert pd.api.types.is_string_dtype(table[name]), name
    assert str(table["id_pc_tramite"].dtype) == "Int64"
    assert table.loc[0, "codigo_catastral"] == PARCEL
    assert table.loc[0, "solicitante"] == "MARÍA VIRGINIA PEÑA"


def test_jsonl_output(data_dir):
    output = data_dir / "merge.jsonl"

    assert main(["--data-dir", str(data_dir), "--output", str(output)]) == 0

    records = [orjson.loads(line) for line in output.read_bytes().splitlines()]
    assert len(records) == 9
    assert records[0]["codigo_catastral"] == PARCEL
    assert records[0]["id_pc_tramite"] == 1
    assert records[0]["superficie_construida"] == 354.04
    assert records[8]["solicitante"] is None


def test_numeric_option_in_csv(data_dir):
    assert main(["--data-dir", str(data_dir), "--numeric"]) == 0

    rows = pd.read_csv(data_dir / "tramites_merge.csv", dtype=str, keep_default_na=False)
    columns = list(rows.columns)
    position = columns.index("par__superficie_construida")
    assert columns[position : position + 3] == [
        "par__superficie_construida",
        "par__superficie_construida_num",
        "par__superficie_construida_unidad",
    ]
    numbers = dict(zip(rows["numero_tramite"], rows["par__superficie_construida_num"], strict=True))
    assert numbers["61153"] == "1234.56"
    assert numbers["61160"] == "354.04"
    assert numbers["74"] == ""  # "S/D"
    assert rows.loc[0, "par__numero_de_plantas_num"] == "3"
    assert rows.loc[1, "par__retiro_sub_frontal_num"] == "3.0"
    assert rows.loc[1, "par__retiro_sub_frontal_unidad"] == "ml"


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (
            "es_BO.UTF-8",
            [
                "Se leyeron 8 trámites (tramites.jsonl) y ",
                "Filas por fuente: API 1, HTML 1, Ambos 7\n",
                "Páginas con errores: 3 (rechazada 1, sin_codigo_catastral 1, TimeoutError 1)\n",
                "Filas con el código de la página distinto del del trámite: 1\n",
            ],
        ),
        (
            "en_US.UTF-8",
            ["Read 8 permits (tramites.jsonl) and ", "Rows by fuente: API 1, HTML 1, Ambos 7\n"],
        ),
    ],
)
def test_the_merge_reports_in_the_users_language(data_dir, capsys, user_locale, locale, expected):
    user_locale(locale)
    assert main(["--data-dir", str(data_dir)]) == 0

    printed = capsys.readouterr().out
    for line in expected:
        assert line in printed


def test_a_spanish_warning_and_error_under_a_bolivian_locale(tmp_path, capsys, user_locale):
    user_locale("es_BO.UTF-8")
    (tmp_path / "tramites.jsonl.partial").write_bytes(jsonl(TRAMITES))

    assert main(["--data-dir", str(tmp_path)]) == 1

    assert capsys.readouterr().err == (
        f"error: {tmp_path / 'tramites.jsonl'}: no existe el archivo, pero"
        f" {tmp_path / 'tramites.jsonl.partial'} tiene una descarga interrumpida: ejecute de"
        " nuevo la descarga para completarla, o una lo que tiene con --parcial\n"
    )


def test_truncated_last_line_is_a_warning(data_dir, capsys):
    with (data_dir / "detalles.jsonl").open("ab") as detalles:
        detalles.write(b'{"id_pc_tramite": 5, "codigo_cata')

    assert main(["--data-dir", str(data_dir)]) == 0

    captured = capsys.readouterr()
    assert "warning:" in captured.err
    assert f"line {len(DETALLES) + 1} is incomplete" in captured.err
    assert "Rows by fuente: API 1, HTML 1, Ambos 7" in captured.out


def test_bad_middle_line_fails(data_dir, capsys):
    lines = jsonl(TRAMITES).splitlines(keepends=True)
    lines[2] = b"{oops\n"
    (data_dir / "tramites.jsonl").write_bytes(b"".join(lines))

    assert main(["--data-dir", str(data_dir)]) == 1

    error = capsys.readouterr().err
    assert error == f"error: {data_dir / 'tramites.jsonl'}: line 3 is not valid JSON\n"
    assert not (data_dir / "tramites_merge.csv").exists()


def test_missing_input_fails(tmp_path, capsys):
    (tmp_path / "tramites.jsonl").write_bytes(jsonl(TRAMITES))

    assert main(["--data-dir", str(tmp_path)]) == 1

    assert capsys.readouterr().err == f"error: {tmp_path / 'detalles.jsonl'}: file not found\n"


@pytest.mark.parametrize(
    "arguments",
    [
        ["--output", "out.txt"],
        ["--blds", "--output", "b.gpkg"],
    ],
)
def test_bad_options_are_usage_errors(arguments):
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)

    assert exit_info.value.code == 2


def run_merge(data_dir: Path, *arguments: str) -> subprocess.CompletedProcess:
    """`python -m postprocess.merge --data-dir DATA_DIR ...` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "postprocess.merge", "--data-dir", str(data_dir), *arguments],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_command_line_end_to_end(data_dir):
    output = data_dir / "out" / "merge.csv"

    finished = run_merge(data_dir, "--output", str(output), "--numeric")

    assert finished.returncode == 0, finished.stderr
    assert "wrote 9 rows" in finished.stdout
    with output.open(encoding="utf-8", newline="") as csv_file:
        rows = list(csv.DictReader(csv_file))
    assert [row["fuente"] for row in rows].count("Ambos") == 7
    assert rows[0]["codigo_catastral"] == PARCEL


def test_command_line_missing_input(tmp_path):
    finished = run_merge(tmp_path)

    assert finished.returncode == 1
    assert finished.stderr.strip().count("\n") == 0
    assert "tramites.jsonl: file not found" in finished.stderr
