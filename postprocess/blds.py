"""The permits as Building & Land Development Specification (BLDS) core permit records.

BLDS is the open permit-data format several cities publish in; mapping La Paz's permits to
its field names lets them be compared. One BLDS record per permit (a row with WFS data);
pages without a permit are left out. BLDS dates are days (YYYY-MM-DD): here the day in
La Paz (UTC−4, no daylight saving), not in UTC. Surfaces go in square feet, as BLDS asks.
The mapping, field by field, is in docs/diccionario.md (BLDS_MAPPING below is its source).
"""

from datetime import timedelta, timezone

import pandas as pd

from postprocess.numeric import built_surface

LA_PAZ = timezone(timedelta(hours=-4))
SQUARE_FEET_PER_SQUARE_METRE = 10.7639
PUBLISHER = "Gobierno Autónomo Municipal de La Paz"
PERMIT_SOURCES = ("API", "Ambos")

STATUS_MAPPED = {
    "APROBADO": "Permit Issued",
    "OBSERVADO": "In Review",
    "EN REVISION": "In Review",
    "RECHAZADO": "Permit Cancelled",
    "ANULADO": "Permit Cancelled",
}
WORK_CLASS_MAPPED = {"OBRA NUEVA": "New", "AMPLIACION": "Existing", "REMODELACION": "Existing"}

# BLDS field -> how it is made from the merged table (Spanish, for the dictionary).
BLDS_MAPPING = {
    "PermitNum": "`id_pc_tramite` (único por trámite)",
    "Description": "`descripcion`, `tipo_obra` y `tipo_proyecto` unidos por « — »",
    "AppliedDate": "día de `fecha_registro` en La Paz (UTC−4), AAAA-MM-DD",
    "IssuedDate": "día de `fecha_aprobacion` en La Paz (UTC−4), AAAA-MM-DD",
    "CompletedDate": "vacío: el municipio no publica el fin de obra",
    "StatusCurrent": "`resultado`",
    "StatusCurrentMapped": "`resultado`: APROBADO → Permit Issued; OBSERVADO, EN REVISION →"
    " In Review; RECHAZADO, ANULADO → Permit Cancelled; otro → vacío",
    "OriginalAddress1": "`gral__zona_referencial` (la página no da calle ni número)",
    "OriginalCity": "«La Paz»",
    "OriginalState": "«La Paz» (departamento)",
    "Jurisdiction": f"«{PUBLISHER}»",
    "PermitType": "`descripcion`",
    "PermitTypeMapped": "«Building» (todos son permisos de construcción)",
    "WorkClass": "`tipo_obra`",
    "WorkClassMapped": "`tipo_obra`: OBRA NUEVA → New; AMPLIACION, REMODELACION → Existing",
    "PermitClass": "`tipo_proyecto`",
    "StatusDate": "día de `fecha_aprobacion`, si no de `fecha_registro`",
    "TotalSqFt": "superficie construida (`superficie_construida`, si falta la de la página)"
    " × 10,7639, en pies²",
    "Link": "`url` (la página del permiso)",
    "Latitude": "`latitude`",
    "Longitude": "`longitude`",
    "PIN": "`codigo_catastral` (texto, 15 dígitos)",
    "ContractorLicNum": "`arquitecto_registro_nacional_cab`",
    "ContractorFullName": "`arquitecto_nombre` (no con `--sin-nombres`)",
    "ProjectName": "`nombre_edificio`",
    "Publisher": f"«{PUBLISHER}»",
}


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame:
        return frame[name]
    return pd.Series(pd.NA, index=frame.index, dtype="str")


def la_paz_day(values: pd.Series) -> pd.Series:
    """ISO timestamps (UTC) as the day they fell on in La Paz, "YYYY-MM-DD"."""
    moments = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    days = moments.dt.tz_convert(LA_PAZ).dt.strftime("%Y-%m-%d")
    return pd.Series(days, index=values.index, dtype="str")


def description(frame: pd.DataFrame) -> pd.Series:
    parts = [_column(frame, name) for name in ("descripcion", "tipo_obra", "tipo_proyecto")]
    joined = [
        " — ".join(str(part) for part in row if not pd.isna(part)) or None
        for row in zip(*parts, strict=True)
    ]
    return pd.Series(joined, index=frame.index, dtype="str")


def blds_records(merged: pd.DataFrame) -> pd.DataFrame:
    """One BLDS record per permit of the merged table, in BLDS_MAPPING's field order."""
    permits = merged[merged["fuente"].isin(PERMIT_SOURCES)].reset_index(drop=True)
    resultado = _column(permits, "resultado").str.strip().str.upper()
    tipo_obra = _column(permits, "tipo_obra").str.strip().str.upper()
    applied = la_paz_day(_column(permits, "fecha_registro"))
    issued = la_paz_day(_column(permits, "fecha_aprobacion"))
    surface = built_surface(permits) * SQUARE_FEET_PER_SQUARE_METRE
    constant = {
        name: pd.Series(value, index=permits.index, dtype="str")
        for name, value in (
            ("OriginalCity", "La Paz"),
            ("OriginalState", "La Paz"),
            ("Jurisdiction", PUBLISHER),
            ("PermitTypeMapped", "Building"),
            ("Publisher", PUBLISHER),
        )
    }
    fields = {
        "PermitNum": _column(permits, "id_pc_tramite").astype("str"),
        "Description": description(permits),
        "AppliedDate": applied,
        "IssuedDate": issued,
        "CompletedDate": pd.Series(pd.NA, index=permits.index, dtype="str"),
        "StatusCurrent": _column(permits, "resultado"),
        "StatusCurrentMapped": resultado.map(STATUS_MAPPED).astype("str"),
        "OriginalAddress1": _column(permits, "gral__zona_referencial"),
        "PermitType": _column(permits, "descripcion"),
        "WorkClass": _column(permits, "tipo_obra"),
        "WorkClassMapped": tipo_obra.map(WORK_CLASS_MAPPED).astype("str"),
        "PermitClass": _column(permits, "tipo_proyecto"),
        "StatusDate": issued.fillna(applied),
        "TotalSqFt": surface.round(1),
        "Link": _column(permits, "url"),
        "Latitude": _column(permits, "latitude"),
        "Longitude": _column(permits, "longitude"),
        "PIN": _column(permits, "codigo_catastral"),
        "ContractorLicNum": _column(permits, "arquitecto_registro_nacional_cab"),
        "ContractorFullName": _column(permits, "arquitecto_nombre"),
        "ProjectName": _column(permits, "nombre_edificio"),
        **constant,
    }
    return pd.DataFrame({name: fields[name] for name in BLDS_MAPPING})
