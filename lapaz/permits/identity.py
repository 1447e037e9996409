"""A permit's identity: what the crawl needs of a record to ask for its page, and the base64
identifier the page's URL carries."""

import base64
from collections.abc import Mapping
from dataclasses import dataclass

from lapaz.records.values import as_int, la_paz_year, registration_year


def permit_identifier(codigo_catastral: str, numero_tramite: int, anio: int) -> str:
    """The page identifier: base64 of `<codigo>|<numero>|<year>` (UTF-8, padded)."""
    plain = f"{codigo_catastral}|{numero_tramite}|{anio}"
    return base64.b64encode(plain.encode("utf-8")).decode("ascii")


def decode_identifier(identificador: str) -> tuple[str, int, int]:
    """The inverse of `permit_identifier`: the permit a page record was requested for."""
    codigo, numero, anio = base64.b64decode(identificador).decode("utf-8").split("|")
    return codigo, int(numero), int(anio)


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
