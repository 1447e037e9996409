"""The records the crawl writes: field names and their order, and how a page ended."""

from collections.abc import Iterable
from enum import StrEnum

# WFS property name (as GeoServer spells it) -> key in tramites.jsonl, in SITE order.
TRAMITE_PROPERTIES = {
    "idPCTramite": "id_pc_tramite",
    "descripcion": "descripcion",
    "idTipoTramite": "id_tipo_tramite",
    "fechaRegistro": "fecha_registro",
    "Solicitante": "solicitante",
    "arquitectoNombre": "arquitecto_nombre",
    "arquitectoRegistroNacionalCAB": "arquitecto_registro_nacional_cab",
    "nroInmueble": "nro_inmueble",
    "idProyectoDesarrollo": "id_proyecto_desarrollo",
    "idTipoObra": "id_tipo_obra",
    "TipoProyecto": "tipo_proyecto",
    "TipoObra": "tipo_obra",
    "NumeroTramite": "numero_tramite",
    "idInsDocumento": "id_ins_documento",
    "nombreArchivo": "nombre_archivo",
    "fechaRegistroArch": "fecha_registro_arch",
    "estadoTramite": "estado_tramite",
    "resultado": "resultado",
    "codigoCatastral": "codigo_catastral",
    "fechaAprobacion": "fecha_aprobacion",
    "macroDistrito": "macro_distrito",
    "distritoMunicipal": "distrito_municipal",
    "cantidadPisos": "cantidad_pisos",
    "superficieLegal": "superficie_legal",
    "nombreEdificio": "nombre_edificio",
    "SuperficieConstruida": "superficie_construida",
}
# Where a record comes from (see lapaz.crawl.archive): when the answer was received, and the
# WARC file and record that hold it (null when archiving is off or nothing answered).
PROVENANCE_FIELDS = ["fecha_consulta", "warc_archivo", "warc_registro"]
# A tramites record carries the time of its WFS page (one page holds thousands of them).
TRAMITE_PROVENANCE_FIELDS = ["fecha_consulta"]
TRAMITE_FIELDS = [*TRAMITE_PROPERTIES.values(), "latitude", "longitude", *TRAMITE_PROVENANCE_FIELDS]

# Keys whose values are whole numbers; the identifier needs their integer form.
INTEGER_FIELDS = {
    "id_pc_tramite",
    "id_tipo_tramite",
    "id_proyecto_desarrollo",
    "id_tipo_obra",
    "numero_tramite",
    "id_ins_documento",
    "distrito_municipal",
}
FLOAT_FIELDS = {"cantidad_pisos", "superficie_legal", "superficie_construida"}
# Code-like keys: always text, never numbers (leading zeros matter).
TEXT_CODE_FIELDS = {"codigo_catastral", "nro_inmueble", "arquitecto_registro_nacional_cab"}

# Every detalles record starts with these, whatever the page held.
DETALLE_FIELDS = [
    "id_pc_tramite",
    "codigo_catastral",
    "numero_tramite",
    "anio",
    "identificador",
    "url",
    "error",
    *PROVENANCE_FIELDS,
]

# Page section heading (compared without case or accents) -> key prefix.
SECTIONS = {
    "datos generales": "gral__",
    "parametros de construccion": "par__",
    "otros datos": "otro__",
}
SECTION_PREFIXES = list(SECTIONS.values())


class PageOutcome(StrEnum):
    """How the page of a wanted permit ended in a run: the one vocabulary of the crawl's
    counts (stats `lapaz/detalles/<outcome>`), its verdict, its summary and its monitors.

    Except OK and FAILED, the value is also the `error` of the page's detalles record; a
    failed page's `error` says why (`http_500`, `TimeoutError: ...`).
    """

    OK = "ok"
    # The site's refusal page ("No fue posible procesar la solicitud").
    REFUSED = "rechazada"
    # Answered, but without any of the page's tables.
    NO_SECTIONS = "sin_secciones"
    # The crawl stopped asking for pages before this one (see the run's log for why).
    NOT_REQUESTED = "no_solicitada"
    FAILED = "failed"
    # The permit lacks what its page's address is made of; the record says which.
    NO_CODIGO = "sin_codigo_catastral"
    NO_FECHA = "sin_fecha_registro"
    NO_NUMERO = "sin_numero_tramite"

    @classmethod
    def of_error(cls, error: str | None) -> "PageOutcome":
        """The outcome a page record's `error` says."""
        if error is None:
            return cls.OK
        try:
            return cls(error)
        except ValueError:
            return cls.FAILED

    @property
    def finished(self) -> bool:
        """A page that answered (with data or with the site's refusal): not asked again."""
        return self in (PageOutcome.OK, PageOutcome.REFUSED)

    @property
    def error(self) -> str | None:
        """The `error` of a record with this outcome (FAILED records say why instead)."""
        return None if self is PageOutcome.OK else self.value


# Outcomes of a permit whose page cannot be asked for: its address lacks a part.
NOT_REQUESTABLE = (PageOutcome.NO_CODIGO, PageOutcome.NO_FECHA, PageOutcome.NO_NUMERO)


def order_keys(keys: Iterable[str], leading: Iterable[str]) -> list[str]:
    """`keys` in reading order, each once.

    First the `leading` keys that are present, in that order; then the page keys section
    by section (`gral__`, `par__`, `otro__`), each section in first-seen order so a page's
    layout is kept; then everything else in first-seen order.
    """
    remaining = list(dict.fromkeys(keys))
    present = set(remaining)
    ordered = [key for key in dict.fromkeys(leading) if key in present]
    for prefix in SECTION_PREFIXES:
        ordered += [key for key in remaining if key.startswith(prefix) and key not in ordered]
    placed = set(ordered)
    return ordered + [key for key in remaining if key not in placed]


# The `resultado` of the permits whose page the crawl asks for, unless told otherwise.
DEFAULT_RESULTS = "APROBADO"
