"""A deterministic, realistic stand-in for the `sit:tramitesterritoriales` layer.

Every quirk docs/SITE.md reports is reproduced on purpose: gaps between ids, cadastral codes
with leading zeros, parcels shared by several permits, a few missing dates, codes and
geometries (some of them on approved permits), accents and Ñ in names, an absurd floor
count. `page_rows` gives what the permit page of a feature shows, in the site's words.
"""

import base64
import random
from datetime import UTC, datetime, timedelta

DEFAULT_SEED = 20251128
APROBADO = "APROBADO"

DATOS_GENERALES = "Datos Generales"
PARAMETROS = "Parámetros de Construcción"
OTROS_DATOS = "Otros datos"

# The first registration and the last day of the generated history.
HISTORY_START = datetime(2017, 1, 3, 8, 0, tzinfo=UTC)
HISTORY_END = datetime(2025, 11, 27, 18, 0, tzinfo=UTC)
# Permits added later (`extend_features`) are registered within this span after the last.
REFRESH_SPAN = timedelta(days=45)

# Positions (index modulo period == remainder) with a missing value. Positional rather than
# random so that even a dataset of a few hundred features has some of each.
NULL_CODIGO = (250, 125)
NULL_FECHA = (200, 31)
NULL_GEOMETRY = (333, 7)
# Index of the record whose floor count is the real data's outlier.
FLOORS_OUTLIER = 1476

SHARED_PARCEL_SHARE = 0.10

# macroDistrito -> (districts, centre (lon, lat), share of permits)
MACRODISTRITOS = {
    "I - COTAHUMA": ((3, 4, 5, 6), (-68.140, -16.515), 0.16),
    "II - MAX PAREDES": ((7, 8, 9, 10), (-68.152, -16.488), 0.15),
    "III - PERIFERICA": ((11, 12, 13), (-68.120, -16.472), 0.15),
    "IV - SAN ANTONIO": ((14, 15, 16, 17), (-68.100, -16.505), 0.17),
    "V - SUR": ((18, 19, 21), (-68.080, -16.537), 0.21),
    "VI - MALLASA": ((20,), (-68.092, -16.568), 0.04),
    "VII - CENTRO": ((1, 2), (-68.134, -16.497), 0.12),
}
LATITUDE_RANGE = (-16.60, -16.44)
LONGITUDE_RANGE = (-68.18, -68.03)

TIPOS_TRAMITE = {
    1: "PERMISO DE CONSTRUCCION",
    2: "PERMISO DE CONSTRUCCION - AMPLIACION",
    3: "REGULARIZACION DE CONSTRUCCION",
    4: "PERMISO DE REMODELACION",
    5: "PERMISO DE DEMOLICION",
    6: "CAMBIO DE USO DE SUELO",
    7: "PROPIEDAD HORIZONTAL",
    8: "PERMISO DE MURO PERIMETRAL",
    9: "REGULARIZACION DE AMPLIACION",
    10: "PERMISO DE CONSTRUCCION - OBRA MENOR",
    11: "RENOVACION DE PERMISO DE CONSTRUCCION",
    12: "PERMISO DE CONSTRUCCION-LICENCIA AGIL",
}
TIPO_TRAMITE_WEIGHTS = [52, 8, 9, 3, 2, 2, 3, 2, 2, 2, 1, 14]
RESULTADOS = [APROBADO, "OBSERVADO", "EN REVISION", "RECHAZADO", "ANULADO"]
RESULTADO_WEIGHTS = [23, 59, 9, 6, 3]
TIPOS_OBRA = {1: "OBRA NUEVA", 2: "AMPLIACION"}
TIPOS_PROYECTO = [
    "VIVIENDA UNIFAMILIAR",
    "VIVIENDA MULTIFAMILIAR",
    "EDIFICIO DE DEPARTAMENTOS",
    "COMERCIO Y VIVIENDA",
    "OFICINAS",
    "EQUIPAMIENTO",
    "GALPÓN",
]

NOMBRES = [
    "JUAN", "JOSÉ", "MARÍA", "LUIS", "ANA", "CARLOS", "ROSA", "JORGE", "PATRICIA",
    "FERNANDO", "SONIA", "RENÉ", "VÍCTOR", "NÉSTOR", "GLADYS", "MARTÍN", "RAÚL", "IVÁN",
    "ROCÍO", "BEATRIZ", "WILLY", "FREDDY", "MAGDALENA", "ÁNGEL", "INÉS", "RUBÉN", "EFRAÍN",
    "HÉCTOR", "SEBASTIÁN", "LUCÍA", "NOEMÍ", "ÓSCAR", "TERESA", "EDUARDO", "JHONNY",
]  # fmt: skip
APELLIDOS = [
    "MAMANI", "QUISPE", "CHOQUE", "CONDORI", "FLORES", "LIMACHI", "APAZA", "TICONA",
    "GUTIÉRREZ", "PEÑARANDA", "ÑUFLO", "PÉREZ", "RODRÍGUEZ", "FERNÁNDEZ", "LÓPEZ", "VARGAS",
    "CÁCERES", "MUÑOZ", "YUJRA", "HUANCA", "CALLISAYA", "ALANOCA", "NÚÑEZ", "IBÁÑEZ",
    "ZÚÑIGA", "ORDÓÑEZ", "VILLCA", "POMA", "RAMÍREZ", "SÁNCHEZ", "CASTAÑETA", "MONTAÑO",
]  # fmt: skip
EMPRESAS = [
    "INMOBILIARIA ILLIMANI S.R.L.",
    "CONSTRUCTORA LOS ÁLAMOS LTDA.",
    "EMPRESA CONSTRUCTORA ÑANDÚ S.A.",
    "INVERSIONES SOPOCACHI S.R.L.",
    "DESARROLLOS CALACOTO S.A.",
    "CONSTRUCCIONES ACHUMANI LTDA.",
]
EDIFICIOS = ["TORRE", "EDIFICIO", "CONDOMINIO", "RESIDENCIAL"]
NOMBRES_EDIFICIO = ["ILLIMANI", "MURURATA", "SAJAMA", "HUAYNA POTOSÍ", "CHACALTAYA", "ÑUÑOA"]
ZONAS = [
    "SOPOCACHI", "MIRAFLORES", "OBRAJES", "CALACOTO", "VILLA FÁTIMA", "ACHUMANI", "IRPAVI",
    "ALTO SAN PEDRO", "VILLA COPACABANA", "SEÑOR DE MAYO", "SAN MIGUEL", "CHASQUIPAMPA",
    "PAMPAHASI", "VILLA ARMONÍA", "LLOJETA", "COTA COTA", "BAJO SEGUENCOMA", "TEMBLADERANI",
]  # fmt: skip
PATRONES = [
    "VIVIENDA DE DENSIDAD BAJA",
    "VIVIENDA DE DENSIDAD MEDIA",
    "VIVIENDA DE DENSIDAD ALTA",
    "ÁREA DE USO MIXTO",
    "CORREDOR COMERCIAL",
]
NORMATIVAS = ["LUSU 2018", "USPA 2006", "LUSU 2018 - LEY MUNICIPAL 296", "LUSU 2018 (RÉGIMEN)"]
UNIDADES_INFORME = ["DACT", "UAT", "DAU", "SMGT"]

ARCHITECT_POOL_SIZE = 140


def _iso_timestamp(moment: datetime) -> str:
    """GeoServer's form: milliseconds and a `Z`."""
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _architects(rng: random.Random) -> list[tuple[str, str]]:
    """Name and CAB registry number: a city has a few hundred architects, not thousands."""
    return [
        (
            f"{rng.choice(NOMBRES)} {rng.choice(APELLIDOS)} {rng.choice(APELLIDOS)}",
            str(rng.randint(180, 9999)),
        )
        for _ in range(ARCHITECT_POOL_SIZE)
    ]


def _new_parcel(rng: random.Random) -> tuple[str, str, int, tuple[float, float]]:
    """A cadastral code (15 digits, most with a leading zero), its district and location."""
    macro = rng.choices(list(MACRODISTRITOS), weights=[m[2] for m in MACRODISTRITOS.values()])[0]
    districts, (centre_lon, centre_lat), _ = MACRODISTRITOS[macro]
    unit = "000" if rng.random() < 0.85 else f"{rng.randint(1, 120):03d}"
    codigo = (
        f"{rng.randint(1, 140):03d}{rng.randint(0, 999):03d}{rng.randint(0, 999):03d}"
        f"{rng.randint(0, 120):03d}{unit}"
    )
    lon = min(max(rng.gauss(centre_lon, 0.012), LONGITUDE_RANGE[0]), LONGITUDE_RANGE[1])
    lat = min(max(rng.gauss(centre_lat, 0.010), LATITUDE_RANGE[0]), LATITUDE_RANGE[1])
    return codigo, macro, rng.choice(districts), (round(lon, 7), round(lat, 7))


def _at(position: int, rule: tuple[int, int]) -> bool:
    period, remainder = rule
    return position % period == remainder


def _make_features(
    rng: random.Random,
    count: int,
    *,
    first_position: int,
    first_id: int,
    first_numero: int,
    start: datetime,
    end: datetime,
    parcels: list[tuple[str, str, int, tuple[float, float]]],
) -> list[dict]:
    architects = _architects(rng)
    span = (end - start).total_seconds()
    # Ids follow registration order, as a database sequence does.
    offsets = sorted(rng.random() * span for _ in range(count))
    tipo_ids = rng.choices(list(TIPOS_TRAMITE), weights=TIPO_TRAMITE_WEIGHTS, k=count)
    resultados = rng.choices(RESULTADOS, weights=RESULTADO_WEIGHTS, k=count)
    features = []
    id_pc, numero = first_id, first_numero
    for offset_index in range(count):
        position = first_position + offset_index
        registered = start + timedelta(seconds=offsets[offset_index])
        resultado = resultados[offset_index]
        if parcels and rng.random() < SHARED_PARCEL_SHARE:
            parcel = rng.choice(parcels)
        else:
            parcel = _new_parcel(rng)
            parcels.append(parcel)
        codigo, macro, distrito, coordinates = parcel

        codigo_value: str | None = codigo
        if _at(position, NULL_CODIGO):
            codigo_value = None
            # Half of these are approved permits: their page cannot even be addressed.
            resultado = APROBADO if position % 2 else "OBSERVADO"
        fecha_value: str | None = _iso_timestamp(registered)
        if _at(position, NULL_FECHA):
            fecha_value = None
            resultado = APROBADO if position % 2 else resultado
        geometry = None if _at(position, NULL_GEOMETRY) else coordinates

        tipo_tramite = tipo_ids[offset_index]
        arquitecto, registro_cab = rng.choice(architects)
        if rng.random() < 0.06:
            solicitante = rng.choice(EMPRESAS)
        else:
            solicitante = f"{rng.choice(NOMBRES)} {rng.choice(APELLIDOS)} {rng.choice(APELLIDOS)}"
        id_tipo_obra = rng.choices([1, 2, None], weights=[70, 20, 10])[0]
        pisos: int | None = rng.choices(
            [1, 2, 3, 4, 5, 6, 8, 10, 12, None], weights=[10, 24, 22, 15, 9, 7, 5, 3, 2, 3]
        )[0]
        if position == FLOORS_OUTLIER:
            pisos = 1476
        superficie_legal = None if rng.random() < 0.05 else round(rng.uniform(90, 900), 2)
        superficie_construida = None
        if superficie_legal is not None and rng.random() > 0.05:
            factor = rng.uniform(0.45, 0.9) * min(pisos or 1, 12)
            superficie_construida = round(superficie_legal * factor, 2)
        has_archivo = rng.random() < 0.3
        archivo_date = registered + timedelta(
            days=rng.randint(1, 60), seconds=rng.randint(0, 86399)
        )
        aprobado = resultado == APROBADO
        approval_date = registered + timedelta(
            days=rng.randint(5, 150), seconds=rng.randint(0, 86399)
        )
        nombre_edificio = None
        if (pisos or 0) >= 6 and rng.random() < 0.5:
            nombre_edificio = f"{rng.choice(EDIFICIOS)} {rng.choice(NOMBRES_EDIFICIO)}"

        properties = {
            "idPCTramite": id_pc,
            "descripcion": TIPOS_TRAMITE[tipo_tramite],
            "idTipoTramite": tipo_tramite,
            "fechaRegistro": fecha_value,
            "Solicitante": solicitante,
            "arquitectoNombre": arquitecto,
            "arquitectoRegistroNacionalCAB": registro_cab,
            "nroInmueble": None if rng.random() < 0.2 else str(rng.randint(1, 99999)),
            "idProyectoDesarrollo": rng.randint(100, 9000) if rng.random() < 0.1 else None,
            "idTipoObra": id_tipo_obra,
            "TipoProyecto": None if rng.random() < 0.15 else rng.choice(TIPOS_PROYECTO),
            "TipoObra": TIPOS_OBRA.get(id_tipo_obra),
            "NumeroTramite": numero,
            "idInsDocumento": rng.randint(10_000, 99_999) if has_archivo else None,
            "nombreArchivo": f"informe_tecnico_{numero}.pdf" if has_archivo else None,
            "fechaRegistroArch": _iso_timestamp(archivo_date) if has_archivo else None,
            "estadoTramite": None
            if rng.random() < 0.4
            else ("CONCLUIDO" if resultado in (APROBADO, "RECHAZADO") else "EN CURSO"),
            "resultado": resultado,
            "codigoCatastral": codigo_value,
            "fechaAprobacion": _iso_timestamp(approval_date) if aprobado else None,
            "macroDistrito": macro,
            "distritoMunicipal": distrito,
            "cantidadPisos": pisos,
            "superficieLegal": superficie_legal,
            "nombreEdificio": nombre_edificio,
            "SuperficieConstruida": superficie_construida,
        }
        features.append(
            {
                "type": "Feature",
                "id": f"tramitesterritoriales.{id_pc}",
                "geometry": None
                if geometry is None
                else {"type": "Point", "coordinates": list(geometry)},
                "geometry_name": "geom",
                "properties": properties,
            }
        )
        # Gaps: procedures deleted or never published leave holes in both sequences.
        id_pc += rng.choice((1, 1, 1, 2, 2, 3, 5))
        numero += rng.randint(1, 8)
    return features


def generate_features(count: int, seed: int = DEFAULT_SEED) -> list[dict]:
    """`count` GeoJSON features registered between 2017 and 2025, in id order."""
    rng = random.Random(seed)
    return _make_features(
        rng,
        count,
        first_position=0,
        first_id=rng.randint(1, 40),
        first_numero=rng.randint(1, 400),
        start=HISTORY_START,
        end=HISTORY_END,
        parcels=[],
    )


def extend_features(existing: list[dict], count: int, seed: int = DEFAULT_SEED) -> list[dict]:
    """`count` new permits registered after `existing`, some on parcels it already has."""
    rng = random.Random(seed * 7919 + len(existing))
    last = max(
        (f["properties"]["fechaRegistro"] for f in existing if f["properties"]["fechaRegistro"]),
        default=_iso_timestamp(HISTORY_END),
    )
    start = datetime.fromisoformat(last.replace("Z", "+00:00")) + timedelta(minutes=5)
    parcels = [
        (
            f["properties"]["codigoCatastral"],
            f["properties"]["macroDistrito"],
            f["properties"]["distritoMunicipal"],
            tuple(f["geometry"]["coordinates"]),
        )
        for f in existing
        if f["properties"]["codigoCatastral"] and f["geometry"]
    ]
    return _make_features(
        rng,
        count,
        first_position=len(existing),
        first_id=max((f["properties"]["idPCTramite"] for f in existing), default=0) + 2,
        first_numero=max((f["properties"]["NumeroTramite"] for f in existing), default=0) + 3,
        start=start,
        end=start + REFRESH_SPAN,
        parcels=parcels,
    )


def page_identifier(feature: dict, year_clock: str = "utc") -> str | None:
    """The permit page's identifier, or None when the code or the date is missing.

    Computed here the plain way, as the site does, not with the crawler's code: a bug
    there must show as pages the replica does not know. year_clock: the year of
    fechaRegistro as written (UTC), or in La Paz's time ("la_paz", UTC-4).
    """
    properties = feature["properties"]
    registered = properties["fechaRegistro"]
    if not properties["codigoCatastral"] or not registered:
        return None
    year = registered[:4]
    if year_clock == "la_paz":
        moment = datetime.fromisoformat(registered.replace("Z", "+00:00"))
        year = str((moment - timedelta(hours=4)).year)
    plain = f"{properties['codigoCatastral']}|{properties['NumeroTramite']}|{year}"
    return base64.b64encode(plain.encode("utf-8")).decode("ascii")


def identifier_key(identifier: str) -> tuple[str, int, int]:
    """What an identifier says: (codigo catastral, numero de tramite, year).

    Raises ValueError for one that is not base64 of three fields.
    """
    codigo, numero, year = base64.b64decode(identifier, validate=True).decode("utf-8").split("|")
    return codigo, int(numero), int(year)


def _decimal(value: float, places: int = 2) -> str:
    """Bolivian notation: a dot between thousands, a comma before decimals."""
    return f"{value:,.{places}f}".translate(str.maketrans(",.", ".,"))


def _count(amount: int, singular: str, plural: str) -> str:
    return f"{amount} {singular if amount == 1 else plural}"


def _codigo_as_page_writes_it(codigo: str, rng: random.Random) -> str:
    """One page in ten shows the code in another form than the layer's."""
    roll = rng.random()
    if roll < 0.05:
        return codigo.lstrip("0") or "0"
    if roll < 0.10:
        return "-".join(codigo[start : start + 3] for start in range(0, len(codigo), 3))
    return codigo


def _date_dmy(iso: str | None) -> str:
    if not iso:
        return ""
    return f"{iso[8:10]}/{iso[5:7]}/{iso[0:4]}"


def page_rows(feature: dict) -> dict[str, list[list[str]]]:
    """Section heading -> data rows of the permit page of `feature`, as a parser should read.

    Rows are `[label, value]` or `[label, sub-label, ..., value]`. Some pages have no
    "Otros datos" section and a few repeat a label within a section.
    """
    properties = feature["properties"]
    rng = random.Random(properties["idPCTramite"] * 104_729 + 17)
    codigo = properties["codigoCatastral"] or ""
    year = (properties["fechaRegistro"] or properties["fechaAprobacion"] or "2020")[:4]
    generales = [
        ["Código Catastral", _codigo_as_page_writes_it(codigo, rng)],
        ["Fecha Aprobación", _date_dmy(properties["fechaAprobacion"])],
        ["Informe", f"INF-{rng.choice(UNIDADES_INFORME)}-{rng.randint(100, 9999)}/{year}"],
        ["Normativa según Informe", rng.choice(NORMATIVAS)],
        ["Patrón de Asentamiento", rng.choice(PATRONES)],
        ["Zona Referencial", rng.choice(ZONAS)],
    ]

    pisos = properties["cantidadPisos"] or rng.randint(1, 4)
    terreno = properties["superficieLegal"] or round(rng.uniform(90, 900), 2)
    construida = properties["SuperficieConstruida"] or round(terreno * rng.uniform(0.5, 2), 2)
    parametros = [
        ["Superficie del Terreno", f"{_decimal(terreno)} m2"],
        ["Superficie Construida", f"{_decimal(construida)} m2"],
        ["Número de Plantas", _count(pisos, "planta", "plantas")],
    ]
    if rng.random() < 0.4:
        planta_baja = round(min(construida, terreno * rng.uniform(0.5, 0.8)), 2)
        parametros += [
            ["Superficie", "Construida", "Planta Baja", f"{_decimal(planta_baja)} m2"],
            [
                "Superficie",
                "Construida",
                "Plantas Altas",
                f"{_decimal(construida - planta_baja)} m2",
            ],
        ]
    parametros += [
        ["Altura Máxima", f"{_decimal(min(pisos, 40) * 2.8)} ml"],
        ["Retiro", "Frontal", f"{_decimal(rng.choice((0, 2, 3, 3, 5)))} ml"],
        ["Retiro", "Fondo", f"{_decimal(rng.choice((2, 3, 3, 4)))} ml"],
    ]
    if rng.random() < 0.6:
        lateral = rng.choice((1.5, 2, 3))
        parametros += [
            ["Lateral 1", f"{_decimal(lateral)} ml"],
            ["Lateral 2", f"{_decimal(lateral)} ml"],
        ]
    if rng.random() < 0.25:
        parametros.append(["Mezzanine", f"{_decimal(rng.uniform(20, 120))} m2"])
    parametros += [
        ["Estacionamientos", _count(rng.randint(1, 12), "unidad", "unidades")],
        ["Índice de Ocupación", _decimal(rng.uniform(0.4, 0.9))],
    ]
    if rng.random() < 0.04:
        # The site occasionally lists a surface twice (e.g. before and after a revision).
        parametros.append(["Superficie Construida", f"{_decimal(construida * 1.1)} m2"])

    sections = {DATOS_GENERALES: generales, PARAMETROS: parametros}
    if rng.random() >= 0.08:
        sections[OTROS_DATOS] = [
            ["Arquitecto Reponsable", properties["arquitectoNombre"] or ""],
            ["Tipo de Obra", properties["TipoObra"] or "NO ESPECIFICADO"],
            ["Tipo de Proyecto", properties["TipoProyecto"] or "NO ESPECIFICADO"],
        ]
    return sections
