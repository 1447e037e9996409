from pathlib import Path

import pytest

from lapaz.permits.page import cell_text, flatten_sections, parse_permit_page, section_prefix

PAGES = Path(__file__).parent / "data" / "pages"


def saved(name: str) -> bytes:
    return (PAGES / name).read_bytes()


@pytest.fixture(scope="module")
def complete():
    page = parse_permit_page(saved("permiso_completo.html"))
    return page, flatten_sections(page.sections)


def test_complete_page_has_three_sections(complete):
    page, _ = complete
    assert not page.refused
    assert list(page.sections) == ["gral__", "par__", "otro__"]


def test_two_cell_rows_give_label_keys(complete):
    _, flat = complete
    assert flat["gral__codigo_catastral"] == "044104900070000"
    assert flat["gral__patron_de_asentamiento"] == "Residencial Multifamiliar"
    assert flat["gral__normativa_segun_informe"] == "LUSU 2018"
    assert flat["otro__arquitecto_reponsable"] == "CHRISTIAN SERGIO YUJRA HUANCA"
    assert flat["par__lateral_2"] == "1,50 ml"


def test_nested_tags_are_joined_with_one_space(complete):
    _, flat = complete
    assert flat["par__superficie_construida"] == "354,04 m2"


def test_rows_of_three_or_more_cells_join_labels_with_sub(complete):
    _, flat = complete
    assert flat["par__retiro_sub_frontal"] == "3,00 ml"
    assert flat["par__retiro_sub_lateral_1"] == "0,00 ml"
    assert flat["par__altura_sub_maxima_sub_fachada"] == "12,00 ml"


def test_header_empty_and_single_cell_rows_are_skipped(complete):
    page, flat = complete
    assert all(len(row) >= 2 and any(row) for rows in page.sections.values() for row in rows)
    assert not any(key.startswith("gral__informacion") for key in flat)
    assert "gral__" not in flat
    assert not any(key.startswith("par__parametro") for key in flat)


def test_repeated_label_keeps_both_values(complete):
    _, flat = complete
    assert flat["par__observacion"] == "primera"
    assert flat["par__observacion__2"] == "segunda"


def test_headings_match_ignoring_case_accents_and_spaces():
    page = parse_permit_page(saved("permiso_variante.html"))
    flat = flatten_sections(page.sections)
    assert flat == {
        "gral__codigo_catastral": "44-104-900-070-000",
        "gral__zona_referencial": "Sopocachi Ñuñoa",
        "par__superficie_construida": "120,5 m2",
    }


def test_refusal_page_is_recognised():
    page = parse_permit_page(saved("rechazada.html"))
    assert page.refused
    assert page.sections == {}


def test_page_without_sections_is_neither_data_nor_refusal():
    page = parse_permit_page(saved("sin_secciones.html"))
    assert not page.refused
    assert page.sections == {}


@pytest.mark.parametrize("body", ["", "   ", b""])
def test_empty_body_gives_an_empty_page(body):
    page = parse_permit_page(body)
    assert not page.refused
    assert page.sections == {}


def test_text_with_replacement_characters_is_kept():
    html = (
        "<h5>Otros datos</h5><table><tr><td>Tipo de Obra</td><td>Ampliaci\ufffdn</td></tr></table>"
    )
    assert flatten_sections(parse_permit_page(html).sections) == {
        "otro__tipo_de_obra": "Ampliaci\ufffdn"
    }


@pytest.mark.parametrize(
    ("heading", "prefix"),
    [
        ("Datos Generales", "gral__"),
        ("PARÁMETROS DE CONSTRUCCIÓN", "par__"),
        ("  otros   datos ", "otro__"),
        ("Ubicación", None),
    ],
)
def test_section_prefix(heading, prefix):
    assert section_prefix(heading) == prefix


def test_cell_text_collapses_white_space():
    import lxml.html

    cell = lxml.html.fromstring("<td> 3 <i>plantas</i>\n\t </td>")
    assert cell_text(cell) == "3 plantas"


@pytest.mark.parametrize("body", ["<!-- mantenimiento -->", "<html></html>", b"\x00\x00"])
def test_bodies_with_nothing_to_parse_give_an_empty_page(body):
    assert parse_permit_page(body) == parse_permit_page("")


def test_an_xhtml_page_with_an_encoding_declaration_is_parsed():
    html = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><body><h5>Otros datos</h5>'
        "<table><tr><td>Tipo de Obra</td><td>Ampliación</td></tr></table></body></html>"
    )
    assert flatten_sections(parse_permit_page(html).sections) == {
        "otro__tipo_de_obra": "Ampliación"
    }


def test_a_section_without_data_rows_counts_as_missing():
    html = "<h5>Datos Generales</h5><table><tr><th>Código</th><th>x</th></tr></table>"
    assert parse_permit_page(html).sections == {}
    refused = html + "<p>No fue posible procesar la solicitud</p>"
    assert parse_permit_page(refused).refused


def test_a_heading_without_a_table_does_not_take_the_next_sections():
    html = (
        "<h5>Datos Generales</h5><p>sin datos</p>"
        "<h5>Parámetros de Construcción</h5>"
        "<div><table><tr><td>Lateral 2</td><td>1,50 ml</td></tr></table></div>"
    )
    assert flatten_sections(parse_permit_page(html).sections) == {"par__lateral_2": "1,50 ml"}
