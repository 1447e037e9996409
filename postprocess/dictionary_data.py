"""What each column of the merged table means: the data behind docs/diccionario.md.

Spanish meanings with the English name of each term. Where a column comes from and its
type are not repeated here: `python -m postprocess.diccionario` takes them from
lapaz.records.schema (WFS property names, integer, decimal and code fields) and from the sets below.
"""

from dataclasses import dataclass

# Dates and times the WFS sends as ISO 8601 in UTC; typed formats hold them as timestamps.
DATE_FIELDS = ("fecha_registro", "fecha_aprobacion", "fecha_registro_arch")
# Every column holding a moment: the WFS dates and when the crawl received each answer.
TIMESTAMP_FIELDS = (*DATE_FIELDS, "fecha_consulta", "fecha_consulta_pagina")
# Columns holding a person's name: left out by `postprocess.merge --sin-nombres`.
# Personal data: the names of applicants and architects, and the architect's registry
# number (it identifies one person as surely as the name does).
PERSONAL_FIELDS = (
    "solicitante",
    "arquitecto_nombre",
    "arquitecto_registro_nacional_cab",
    "otro__arquitecto_reponsable",
)
# A page row whose label has one of these words is about a person too (a new template may
# add "Propietario", a corrected "Arquitecto Responsable" or the architect's registry).
PERSONAL_WORDS = ("solicitante", "propietario", "arquitecto", "reponsable", "responsable")


@dataclass(frozen=True)
class Term:
    english: str
    meaning: str
    example: str
    unit: str = ""


WFS_TERMS = {
    "id_pc_tramite": Term(
        "procedure id", "Identificador único del trámite en el sistema municipal.", "36615"
    ),
    "descripcion": Term(
        "procedure description", "Clase de trámite.", "PERMISO DE CONSTRUCCION-LICENCIA AGIL"
    ),
    "id_tipo_tramite": Term(
        "procedure type id", "Código de la clase de trámite (12 = licencia ágil).", "12"
    ),
    "fecha_registro": Term(
        "registration date",
        "Fecha y hora en que se registró el trámite (UTC; La Paz es UTC−4).",
        "2017-11-14T17:04:40.303Z",
    ),
    "solicitante": Term("applicant", "Nombre de quien solicita el permiso.", "MARÍA PEÑA"),
    "arquitecto_nombre": Term("architect", "Nombre del arquitecto a cargo.", "JOSÉ ÑUFLO"),
    "arquitecto_registro_nacional_cab": Term(
        "architect's CAB registry number",
        "Número de registro nacional del arquitecto en el Colegio de Arquitectos de Bolivia.",
        "018122",
    ),
    "nro_inmueble": Term("property number", "Número del inmueble en el catastro.", "0195973"),
    "id_proyecto_desarrollo": Term(
        "development project id", "Proyecto de desarrollo al que pertenece, si alguno.", "8"
    ),
    "id_tipo_obra": Term("work type id", "Código del tipo de obra (1 o 2).", "1"),
    "tipo_proyecto": Term("project type", "Uso del proyecto.", "VIVIENDA UNIFAMILIAR"),
    "tipo_obra": Term("work type", "Tipo de obra.", "OBRA NUEVA"),
    "numero_tramite": Term(
        "procedure number", "Número del trámite, el que muestra la página del permiso.", "61153"
    ),
    "id_ins_documento": Term("document id", "Documento adjunto al trámite.", "27897"),
    "nombre_archivo": Term(
        "file name", "Nombre del archivo adjunto al trámite.", "informe_tecnico_240.pdf"
    ),
    "fecha_registro_arch": Term(
        "file registration date",
        "Fecha y hora de registro del archivo adjunto (UTC).",
        "2017-02-28T05:00:48.547Z",
    ),
    "estado_tramite": Term("procedure state", "Estado del trámite.", "CONCLUIDO"),
    "resultado": Term(
        "outcome", "Resultado del trámite: APROBADO, OBSERVADO, RECHAZADO, ANULADO…", "APROBADO"
    ),
    "codigo_catastral": Term(
        "cadastral code",
        "Código catastral del predio: 15 dígitos, texto con sus ceros a la izquierda.",
        "044104900070000",
    ),
    "fecha_aprobacion": Term(
        "approval date",
        "Fecha y hora de aprobación (UTC), si fue aprobado.",
        "2025-03-19T23:10:52.547Z",
    ),
    "macro_distrito": Term("macro-district", "Macrodistrito del predio.", "V - SUR"),
    "distrito_municipal": Term(
        "municipal district", "Distrito municipal del predio (1 a 21).", "18"
    ),
    "cantidad_pisos": Term("floors", "Cantidad de pisos aprobados.", "3", "pisos"),
    "superficie_legal": Term(
        "legal (plot) surface", "Superficie legal del terreno.", "300.5", "m²"
    ),
    "nombre_edificio": Term("building name", "Nombre del edificio, si tiene.", "TORRE ILLIMANI"),
    "superficie_construida": Term(
        "built surface", "Superficie construida aprobada.", "712.82", "m²"
    ),
    "latitude": Term("latitude", "Latitud del punto del trámite (WGS 84).", "-16.500009", "°"),
    "longitude": Term("longitude", "Longitud del punto del trámite (WGS 84).", "-68.083611", "°"),
}

# Columns the merge adds: (English, meaning, type, example).
MERGE_TERMS = {
    "anio": (
        Term("year", "Año del identificador de la página: el de fecha_registro.", "2025"),
        "entero",
    ),
    "identificador": (
        Term(
            "page identifier",
            "Base64 de `codigo_catastral|numero_tramite|año`, lo que pide la página.",
            "MDQ0MTA0OTAwMDcwMDAwfDYxMTUzfDIwMjU=",
        ),
        "texto",
    ),
    "url": (
        Term(
            "page address",
            "Dirección de la página del permiso.",
            "https://sitservicios.lapaz.bo/situtiles/pc/?MDQ0MTA0OTAwMDcwMDAwfDYxMTUzfDIwMjU=",
        ),
        "texto",
    ),
    "error_pagina": (
        Term(
            "page error",
            "Vacío si la página dio datos; si no, el motivo: `rechazada` (el sitio no pudo"
            " procesarla), `sin_secciones`, `sin_codigo_catastral`, `sin_fecha_registro`,"
            " `sin_numero_tramite` (no se pidió), `http_<estado>` o `<Excepción>: <mensaje>`.",
            "rechazada",
        ),
        "texto",
    ),
    "fecha_consulta": (
        Term(
            "fetched at (WFS)",
            "Cuándo se recibió la página WFS de la que viene la fila (UTC).",
            "2026-12-04T01:17:02Z",
        ),
        "fecha y hora (UTC)",
    ),
    "fecha_consulta_pagina": (
        Term(
            "fetched at (page)",
            "Cuándo se recibió la página del permiso (UTC): el `WARC-Date` de su"
            " respuesta en el archivo WARC.",
            "2026-12-04T01:18:40Z",
        ),
        "fecha y hora (UTC)",
    ),
    "warc_archivo": (
        Term(
            "WARC file",
            "Archivo WARC de `archivo/` que guarda la respuesta de la página; vacío si el"
            " archivo estaba apagado o no hubo respuesta.",
            "lapaz-20261204T011700Z.warc.gz",
        ),
        "texto",
    ),
    "warc_registro": (
        Term(
            "WARC record id",
            "`WARC-Record-ID` del registro con la respuesta de la página.",
            "<urn:uuid:0b3c9a8e-8f3e-4a5e-9d5c-2f1f8f0f6b1a>",
        ),
        "texto",
    ),
    "fuente": (
        Term(
            "source",
            "De dónde viene la fila: `API` (solo WFS), `HTML` (solo página) o `Ambos`.",
            "Ambos",
        ),
        "texto",
    ),
    "geometry": (
        Term(
            "geometry",
            "Solo en .gpkg, .geojson y .parquet: el punto (longitud, latitud) del trámite;"
            " vacío si no tiene coordenadas. En GeoPackage la columna se llama `geom`.",
            "POINT (-68.083611 -16.500009)",
        ),
        "punto EPSG:4326",
    ),
    "descarga_incompleta": (
        Term(
            "incomplete harvest",
            "Solo con `--parcial`: verdadero en toda la tabla, hecha de una descarga"
            " interrumpida (tramites.jsonl.partial); le pueden faltar trámites.",
            "true",
        ),
        "booleano",
    ),
    "datos_de_demostracion": (
        Term(
            "demo data",
            "Solo en una tabla unida desde la carpeta de `python -m tools.demo`: verdadero en"
            " toda la tabla, cuyos trámites son inventados por una réplica del sitio, no los"
            " de La Paz.",
            "true",
        ),
        "booleano",
    ),
}

# Columns only the Datasette copy has (python -m postprocess.datasette).
DATASETTE_TERMS = {
    "anio_registro": (
        Term(
            "registration year",
            "Año de fecha_registro en la hora de La Paz (UTC−4), para agrupar por año.",
            "2025",
        ),
        "entero",
    ),
}

# Page keys: (section heading, row label as the page writes it) and the term.
PAGE_TERMS = {
    "gral__codigo_catastral": (
        ("Datos Generales", "Código Catastral"),
        Term(
            "cadastral code (page)",
            "El código catastral como lo escribe la página (puede tener guiones o perder"
            " ceros); se compara con codigo_catastral.",
            "044-104-900-070-000",
        ),
    ),
    "gral__fecha_aprobacion": (
        ("Datos Generales", "Fecha Aprobación"),
        Term("approval date (page)", "Fecha de aprobación, día/mes/año.", "19/03/2025"),
    ),
    "gral__informe": (
        ("Datos Generales", "Informe"),
        Term("technical report", "Número del informe técnico.", "INF-DACT-1234/2025"),
    ),
    "gral__normativa_segun_informe": (
        ("Datos Generales", "Normativa según Informe"),
        Term("regulation per report", "Norma de uso de suelo aplicada.", "LUSU 2018"),
    ),
    "gral__patron_de_asentamiento": (
        ("Datos Generales", "Patrón de Asentamiento"),
        Term(
            "settlement pattern", "Patrón de asentamiento del predio.", "VIVIENDA DE DENSIDAD MEDIA"
        ),
    ),
    "gral__zona_referencial": (
        ("Datos Generales", "Zona Referencial"),
        Term("reference zone", "Zona (barrio) de referencia.", "SOPOCACHI"),
    ),
    "par__superficie_del_terreno": (
        ("Parámetros de Construcción", "Superficie del Terreno"),
        Term("plot surface", "Superficie del terreno, con su unidad.", "354,04 m2", "m²"),
    ),
    "par__superficie_construida": (
        ("Parámetros de Construcción", "Superficie Construida"),
        Term("built surface (page)", "Superficie construida aprobada.", "1.234,56 m2", "m²"),
    ),
    "par__numero_de_plantas": (
        ("Parámetros de Construcción", "Número de Plantas"),
        Term("number of storeys", "Número de plantas.", "3 plantas", "plantas"),
    ),
    "par__superficie_sub_construida_sub_planta_baja": (
        ("Parámetros de Construcción", "Superficie › Construida › Planta Baja"),
        Term(
            "ground-floor built surface", "Superficie construida en planta baja.", "129,31 m2", "m²"
        ),
    ),
    "par__superficie_sub_construida_sub_plantas_altas": (
        ("Parámetros de Construcción", "Superficie › Construida › Plantas Altas"),
        Term(
            "upper-floors built surface",
            "Superficie construida en plantas altas.",
            "348,16 m2",
            "m²",
        ),
    ),
    "par__altura_maxima": (
        ("Parámetros de Construcción", "Altura Máxima"),
        Term("maximum height", "Altura máxima permitida.", "14,00 ml", "m"),
    ),
    "par__retiro_sub_frontal": (
        ("Parámetros de Construcción", "Retiro › Frontal"),
        Term("front setback", "Retiro frontal.", "3,00 ml", "m"),
    ),
    "par__retiro_sub_fondo": (
        ("Parámetros de Construcción", "Retiro › Fondo"),
        Term("rear setback", "Retiro de fondo.", "3,00 ml", "m"),
    ),
    "par__lateral_1": (
        ("Parámetros de Construcción", "Lateral 1"),
        Term("side setback 1", "Retiro lateral 1.", "2,00 ml", "m"),
    ),
    "par__lateral_2": (
        ("Parámetros de Construcción", "Lateral 2"),
        Term("side setback 2", "Retiro lateral 2.", "2,00 ml", "m"),
    ),
    "par__mezzanine": (
        ("Parámetros de Construcción", "Mezzanine"),
        Term("mezzanine", "Superficie del mezzanine.", "45,20 m2", "m²"),
    ),
    "par__estacionamientos": (
        ("Parámetros de Construcción", "Estacionamientos"),
        Term("parking spaces", "Número de estacionamientos.", "10 unidades", "unidades"),
    ),
    "par__indice_de_ocupacion": (
        ("Parámetros de Construcción", "Índice de Ocupación"),
        Term("site coverage ratio", "Índice de ocupación del terreno (fracción).", "0,89"),
    ),
    "otro__arquitecto_reponsable": (
        ("Otros datos", "Arquitecto Reponsable (sic)"),
        Term("architect in charge", "Arquitecto responsable.", "SONIA MAMANI"),
    ),
    "otro__tipo_de_obra": (
        ("Otros datos", "Tipo de Obra"),
        Term("work type (page)", "Tipo de obra.", "OBRA NUEVA"),
    ),
    "otro__tipo_de_proyecto": (
        ("Otros datos", "Tipo de Proyecto"),
        Term("project type (page)", "Tipo de proyecto.", "VIVIENDA UNIFAMILIAR"),
    ),
}
