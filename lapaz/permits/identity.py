"""A permit's identity: what the crawl needs of a record to ask for its page, and the base64
identifier the page's URL carries."""

import base64
from collections.abc import Mapping
from dataclasses import dataclass

from lapaz.records.schema import PageOutcome
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

    def missing_part(self) -> PageOutcome | None:
        """What the page's address lacks, as the record's outcome; None if nothing."""
        if self.codigo_catastral is None:
            return PageOutcome.NO_CODIGO
        if self.anio is None:
            return PageOutcome.NO_FECHA
        if self.numero_tramite is None:
            return PageOutcome.NO_NUMERO
        return None

    @property
    def identificador(self) -> str | None:
        """The page's identifier (under the UTC year), None without an address."""
        if self.missing_part() is not None:
            return None
        return permit_identifier(self.codigo_catastral, self.numero_tramite, self.anio)

    @property
    def la_paz_identificador(self) -> str | None:
        """The identifier under La Paz's year, where it differs."""
        if self.anio_la_paz is None or self.missing_part() is not None:
            return None
        return permit_identifier(self.codigo_catastral, self.numero_tramite, self.anio_la_paz)

    @classmethod
    def with_year(cls, page_fields: Mapping[str, object], anio: int) -> "Permit":
        """The permit of a page record's fields, under another year."""
        return cls(
            page_fields["id_pc_tramite"],
            page_fields["codigo_catastral"],
            page_fields["numero_tramite"],
            anio,
            None,
        )


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
