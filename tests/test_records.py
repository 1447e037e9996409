import pytest

from lapaz.permits.identity import permit_of
from lapaz.records.schema import TRAMITE_FIELDS
from lapaz.records.tramite import tramite_record
from lapaz.records.values import as_int

GEOSERVER_PROPERTIES = {
    "idPCTramite": 33609,
    "descripcion": "PERMISO DE CONSTRUCCION-LICENCIA AGIL",
    "idTipoTramite": 12,
    "fechaRegistro": "2025-03-07T20:58:21.667Z",
    "Solicitante": "MARIA VIRGINIA YAMPASI ZABALA",
    "arquitectoNombre": "CHRISTIAN SERGIO YUJRA HUANCA",
    "arquitectoRegistroNacionalCAB": "18122",
    "nroInmueble": "195973",
    "idProyectoDesarrollo": None,
    "idTipoObra": None,
    "TipoProyecto": None,
    "TipoObra": None,
    "NumeroTramite": 61153,
    "idInsDocumento": None,
    "nombreArchivo": None,
    "fechaRegistroArch": None,
    "estadoTramite": None,
    "resultado": "APROBADO",
    "codigoCatastral": "044104900070000",
    "fechaAprobacion": "2025-03-20T14:00:00Z",
    "macroDistrito": "V - SUR",
    "distritoMunicipal": 18,
    "cantidadPisos": 3.0,
    "superficieLegal": 516.8,
    "nombreEdificio": None,
    "SuperficieConstruida": 354.04,
}


def all_strings(properties):
    return {k: "" if v is None else str(v) for k, v in properties.items()}


def test_record_has_every_field_in_order():
    record = tramite_record({**GEOSERVER_PROPERTIES, "latitude": -16.5, "longitude": -68.08})
    assert list(record) == TRAMITE_FIELDS
    assert record["codigo_catastral"] == "044104900070000"
    assert record["numero_tramite"] == 61153
    assert record["solicitante"] == "MARIA VIRGINIA YAMPASI ZABALA"
    assert record["latitude"] == -16.5


def test_a_server_sending_only_text_gives_the_same_record():
    expected = tramite_record(GEOSERVER_PROPERTIES)
    assert tramite_record(all_strings(GEOSERVER_PROPERTIES)) == expected


def test_left_out_null_properties_come_back_as_null():
    sparse = {k: v for k, v in GEOSERVER_PROPERTIES.items() if v is not None}
    assert tramite_record(sparse) == tramite_record(GEOSERVER_PROPERTIES)


def test_numbers_that_lost_their_form_are_restored():
    record = tramite_record(
        {**GEOSERVER_PROPERTIES, "codigoCatastral": 44104900070000.0, "NumeroTramite": 61153.0}
    )
    assert record["codigo_catastral"] == "044104900070000"
    assert record["numero_tramite"] == 61153
    assert isinstance(record["numero_tramite"], int)


def test_code_like_fields_stay_text():
    record = tramite_record({**GEOSERVER_PROPERTIES, "nroInmueble": 60159.0})
    assert record["nro_inmueble"] == "60159"
    assert record["arquitecto_registro_nacional_cab"] == "18122"


def test_unknown_properties_are_kept_after_the_known_ones():
    record = tramite_record({**GEOSERVER_PROPERTIES, "fechaActualizacion": "2025-04-01"})
    assert list(record)[-1] == "fecha_actualizacion"
    assert record["fecha_actualizacion"] == "2025-04-01"


def test_property_names_in_another_case_are_recognised():
    record = tramite_record({"IDPCTRAMITE": "7", "codigocatastral": "6013400070000"})
    assert record["id_pc_tramite"] == 7
    assert record["codigo_catastral"] == "006013400070000"


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (61153, 61153),
        (61153.0, 61153),
        ("61153", 61153),
        ("61153.0", 61153),
        ("", None),
        (None, None),
        ("12a", None),
        (1.5, None),
        (True, None),
    ],
)
def test_as_int(value, number):
    assert as_int(value) == number


def test_permit_of_gives_what_the_page_request_needs():
    for properties in (GEOSERVER_PROPERTIES, all_strings(GEOSERVER_PROPERTIES)):
        permit = permit_of(tramite_record(properties))
        assert (permit.codigo_catastral, permit.numero_tramite, permit.anio) == (
            "044104900070000",
            61153,
            2025,
        )
        assert permit.resultado == "APROBADO"


def test_permit_without_date_has_no_year():
    for missing in (None, ""):
        record = tramite_record({**GEOSERVER_PROPERTIES, "fechaRegistro": missing})
        assert permit_of(record).anio is None
