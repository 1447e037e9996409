"""From what a WFS server sent to the record users get: keys and value types.

WFS servers differ: GeoServer sends numbers as numbers, others send every property as
text, write a null text as "" or leave a null property out. Every record comes out the
same: all of TRAMITE_FIELDS, whole numbers as int, codes as text with leading zeros.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from lapaz.identifiers import la_paz_year, normalize_codigo_catastral, registration_year
from lapaz.keys import snake_case
from lapaz.schema import (
    FLOAT_FIELDS,
    INTEGER_FIELDS,
    TEXT_CODE_FIELDS,
    TRAMITE_FIELDS,
    TRAMITE_PROPERTIES,
)

_KEY_BY_LOWER_NAME = {name.lower(): key for name, key in TRAMITE_PROPERTIES.items()}
_KEY_BY_LOWER_NAME.update({key: key for key in TRAMITE_FIELDS})


def field_key(name: str) -> str:
    """The record key of a server property, whatever case the server spells it in."""
    return _KEY_BY_LOWER_NAME.get(name.lower()) or snake_case(name)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def as_int(value: object) -> int | None:
    """61153, 61153.0, "61153" and "61153.0" all give 61153; anything else None."""
    if _blank(value) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def as_float(value: object) -> float | None:
    if _blank(value) or isinstance(value, bool):
        return None
    try:
        return float(str(value).replace(",", ".")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None


def as_code_text(value: object) -> str | None:
    """A code as text: numbers lose no digits and gain no ".0"."""
    if _blank(value):
        return None
    whole = as_int(value) if not isinstance(value, str) else None
    return str(whole) if whole is not None else str(value).strip()


def coerce_value(key: str, value: object) -> object:
    if key == "codigo_catastral":
        return normalize_codigo_catastral(value)
    if key in INTEGER_FIELDS:
        whole = as_int(value)
        # A value that is no whole number is kept as given rather than lost.
        return value if whole is None and not _blank(value) else whole
    if key in FLOAT_FIELDS:
        return as_float(value)
    if key in TEXT_CODE_FIELDS:
        return as_code_text(value)
    if _blank(value):
        return None
    return value.strip() if isinstance(value, str) else value


def tramite_record(raw: Mapping[str, object]) -> dict[str, object]:
    """A feature's properties (plus latitude/longitude) as a complete, typed record.

    Properties the schema does not know are kept, snake-cased, after the known ones.
    """
    record: dict[str, object] = dict.fromkeys(TRAMITE_FIELDS)
    for name, value in raw.items():
        key = field_key(name)
        record[key] = value if key in ("latitude", "longitude") else coerce_value(key, value)
    return record


@dataclass(frozen=True, slots=True)
class Permit:
    """What the crawl needs of a feature to follow it to its page."""

    id_pc_tramite: int | None
    codigo_catastral: str | None
    numero_tramite: int | None
    anio: int | None
    resultado: str | None
    # The registration year in La Paz's time, where it is not the UTC year `anio`.
    anio_la_paz: int | None = None


def permit_of(record: Mapping[str, object]) -> Permit:
    """What the crawl needs of a tramites record (see `tramite_record`) to follow it."""
    resultado = record.get("resultado")
    anio = registration_year(record.get("fecha_registro"))
    anio_la_paz = la_paz_year(record.get("fecha_registro"))
    return Permit(
        id_pc_tramite=as_int(record.get("id_pc_tramite")),
        codigo_catastral=record.get("codigo_catastral"),
        numero_tramite=as_int(record.get("numero_tramite")),
        anio=anio,
        resultado=resultado.strip().upper() if isinstance(resultado, str) else None,
        anio_la_paz=anio_la_paz if anio_la_paz != anio else None,
    )
