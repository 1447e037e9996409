import base64

import pytest

from lapaz.permits.identity import decode_identifier, permit_identifier
from lapaz.records.keys import label_key, row_key, snake_case
from lapaz.records.schema import TRAMITE_PROPERTIES
from lapaz.records.values import normalize_codigo_catastral, registration_year


def test_every_server_property_gives_the_expected_snake_key():
    assert {name: snake_case(name) for name in TRAMITE_PROPERTIES} == TRAMITE_PROPERTIES


@pytest.mark.parametrize(
    ("label", "key"),
    [
        ("Código Catastral", "codigo_catastral"),
        ("Patrón de   Asentamiento", "patron_de_asentamiento"),
        ("Año de Construcción", "anio_de_construccion"),
        ("PEÑA", "penia"),
        ("Superficie (m2):", "superficie_m2"),
        ("Lateral 2", "lateral_2"),
        ("Arquitecto Reponsable", "arquitecto_reponsable"),
        ("  tab\tand\nnewline ", "tab_and_newline"),
    ],
)
def test_label_key(label, key):
    assert label_key(label) == key


def test_row_key_joins_sub_labels():
    assert row_key(["Retiro", "Frontal"]) == "retiro_sub_frontal"
    assert row_key(["Altura", "Máxima", "Fachada"]) == "altura_sub_maxima_sub_fachada"
    assert row_key(["Mezzanine"]) == "mezzanine"


def test_identifier_matches_the_site_example():
    assert permit_identifier("044104900070000", 61153, 2025) == (
        "MDQ0MTA0OTAwMDcwMDAwfDYxMTUzfDIwMjU="
    )


def test_identifier_is_standard_padded_base64_and_round_trips():
    identifier = permit_identifier("006013400070000", 3, 2017)
    assert base64.b64decode(identifier) == b"006013400070000|3|2017"
    assert decode_identifier(identifier) == ("006013400070000", 3, 2017)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("044104900070000", "044104900070000"),
        (44104900070000, "044104900070000"),
        (44104900070000.0, "044104900070000"),
        ("44104900070000.0", "044104900070000"),
        ("044-104-900-070-000", "044104900070000"),
        (" 6013400070000 ", "006013400070000"),
        ("", None),
        (None, None),
        (float("nan"), None),
        ("S/N", "S/N"),
    ],
)
def test_normalize_codigo_catastral(value, code):
    assert normalize_codigo_catastral(value) == code


@pytest.mark.parametrize(
    ("fecha", "year"),
    [
        ("2017-11-14T17:04:40.303Z", 2017),
        ("2025-03-07T20:58:21Z", 2025),
        ("2019-01-02", 2019),
        ("2019-01-02 10:00:00+00", 2019),
        (None, None),
        ("", None),
        ("sin fecha", None),
    ],
)
def test_registration_year(fecha, year):
    assert registration_year(fecha) == year
