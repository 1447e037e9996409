"""GeoServer's side of WFS 2.0 GetFeature: parameters, sortBy, CQL_FILTER, answers."""

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape

import orjson

TYPE_NAMES = {"sit:tramitesterritoriales", "tramitesterritoriales"}
JSON_FORMATS = {"application/json", "json", "application/json;charset=utf-8"}
CRS = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::4326"}}

# Properties that hold text: with `empty_string_nulls` their nulls become "".
TEXT_PROPERTIES = {
    "descripcion", "fechaRegistro", "Solicitante", "arquitectoNombre",
    "arquitectoRegistroNacionalCAB", "nroInmueble", "TipoProyecto", "TipoObra",
    "nombreArchivo", "fechaRegistroArch", "estadoTramite", "resultado", "codigoCatastral",
    "fechaAprobacion", "macroDistrito", "nombreEdificio",
}  # fmt: skip


class WfsError(Exception):
    """A request GeoServer would answer with an OGC ExceptionReport."""

    def __init__(self, code: str, locator: str, text: str, status: int = 400):
        super().__init__(text)
        self.code, self.locator, self.text, self.status = code, locator, text, status


def exception_report(code: str, locator: str, text: str) -> bytes:
    """An OWS 1.1 ExceptionReport, as GeoServer writes it for WFS 2.0."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ows:ExceptionReport xmlns:xs="http://www.w3.org/2001/XMLSchema" '
        'xmlns:ows="http://www.opengis.net/ows/1.1" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" version="2.0.0">\n'
        f'<ows:Exception exceptionCode="{escape(code)}" locator="{escape(locator)}">\n'
        f"<ows:ExceptionText>{escape(text)}</ows:ExceptionText>\n"
        "</ows:Exception>\n</ows:ExceptionReport>\n"
    ).encode()


SortKey = tuple[str, bool]  # property name, descending
Condition = tuple[str, Callable[[object, object], bool], str | float]


@dataclass(frozen=True)
class GetFeature:
    start_index: int
    count: int | None
    sort_by: tuple[SortKey, ...]
    cql_filter: str | None
    hits: bool = False  # resultType=hits: the count, no features
    # GeoJSON asked for; without outputFormat GeoServer answers GML 3.2, and so does the
    # replica for hits (it writes no GML features).
    json: bool = True


def _non_negative(params: dict[str, str], name: str) -> int | None:
    text = params.get(name.lower())
    if text is None or text == "":
        return None
    if not text.strip().isdigit():
        raise WfsError("InvalidParameterValue", name, f"{name} must be a non-negative integer")
    return int(text)


def parse_get_feature(params: dict[str, str], property_names: set[str]) -> GetFeature:
    """Validate a GetFeature request; `params` has lower-cased names, as GeoServer's are."""
    service = params.get("service")
    if service is not None and service.upper() != "WFS":
        raise WfsError("InvalidParameterValue", "service", f"No service: ( {service} )")
    request = params.get("request", "")
    if request.lower() != "getfeature":
        raise WfsError(
            "OperationNotSupported", "request", f"Operation not supported by the replica: {request}"
        )
    type_name = params.get("typenames") or params.get("typename")
    if not type_name:
        raise WfsError("MissingParameterValue", "typeNames", "The query should specify typeNames")
    if type_name not in TYPE_NAMES:
        raise WfsError("InvalidParameterValue", "typeName", f"Feature type {type_name} unknown")
    output_format = params.get("outputformat", "").replace(" ", "").lower()
    hits = params.get("resulttype", "").lower() == "hits"
    if output_format not in JSON_FORMATS and not (hits and not output_format):
        raise WfsError(
            "InvalidParameterValue",
            "outputFormat",
            f"The replica only answers outputFormat=application/json, not '{output_format}'",
        )
    count = _non_negative(params, "count")
    if count is None:
        count = _non_negative(params, "maxFeatures")
    return GetFeature(
        start_index=_non_negative(params, "startIndex") or 0,
        count=count,
        sort_by=parse_sort_by(params.get("sortby", ""), property_names),
        cql_filter=params.get("cql_filter") or None,
        hits=hits,
        json=output_format in JSON_FORMATS,
    )


_SORT_KEY = re.compile(r"^\s*([A-Za-z_]\w*)(?:[\s+]+(ASC|DESC|A|D))?\s*$", re.IGNORECASE)


def parse_sort_by(text: str, property_names: set[str]) -> tuple[SortKey, ...]:
    """`idPCTramite`, `idPCTramite ASC`, `idPCTramite+D`, comma separated."""
    keys = []
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        match = _SORT_KEY.match(part)
        if not match:
            raise WfsError("InvalidParameterValue", "sortBy", f"Invalid sortBy: {part}")
        name, direction = match.groups()
        if name not in property_names:
            raise WfsError("InvalidParameterValue", "sortBy", f"Illegal property name: {name}")
        keys.append((name, (direction or "A").upper()[0] == "D"))
    return tuple(keys)


_COMPARISONS = {
    "=": operator.eq,
    "<>": operator.ne,
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}
_CONDITION = re.compile(
    r"\s*([A-Za-z_]\w*)\s*(>=|<=|<>|=|<|>)\s*('(?:[^']|'')*'|[-+]?\d+(?:\.\d+)?)\s*"
)
_AND = re.compile(r"AND\b", re.IGNORECASE)


def parse_cql(text: str, property_names: set[str]) -> list[Condition]:
    """The subset of ECQL the replica understands: comparisons joined by AND."""
    conditions: list[Condition] = []
    position = 0
    while True:
        match = _CONDITION.match(text, position)
        if not match:
            raise WfsError(
                "InvalidParameterValue", "cql_filter", f"Could not parse CQL filter list: {text}"
            )
        name, symbol, literal = match.groups()
        if name not in property_names:
            raise WfsError("InvalidParameterValue", "cql_filter", f"Illegal property name: {name}")
        value = literal[1:-1].replace("''", "'") if literal.startswith("'") else float(literal)
        conditions.append((name, _COMPARISONS[symbol], value))
        position = match.end()
        if position == len(text):
            return conditions
        conjunction = _AND.match(text, position)
        if not conjunction:
            raise WfsError(
                "InvalidParameterValue", "cql_filter", f"Could not parse CQL filter list: {text}"
            )
        position = conjunction.end()


def _holds(actual: object, compare: Callable[[object, object], bool], expected: object) -> bool:
    """One comparison with SQL's manners: null matches nothing, text converts to numbers."""
    if actual is None:
        return False
    try:
        if isinstance(expected, float) and isinstance(actual, str):
            actual = float(actual)
        elif isinstance(expected, str) and isinstance(actual, int | float):
            expected = float(expected)
    except ValueError:
        return False
    return compare(actual, expected)


def matches(properties: dict, conditions: list[Condition]) -> bool:
    return all(_holds(properties.get(name), compare, value) for name, compare, value in conditions)


def sort_positions(features: list[dict], positions: list[int], keys: tuple[SortKey, ...]) -> None:
    """Sort feature positions in place by `keys`; nulls last ascending, as in PostgreSQL."""
    for name, descending in reversed(keys):

        def null_last(position: int, name: str = name) -> tuple[bool, object]:
            value = features[position]["properties"].get(name)
            return (value is None, 0 if value is None else value)

        positions.sort(key=null_last, reverse=descending)


def served_feature(
    feature: dict,
    *,
    all_strings: bool,
    empty_string_nulls: bool,
    omit_null_properties: bool,
    lat_lon_order: bool,
) -> dict:
    """A feature as a differently configured server would write it."""
    properties = {}
    for name, value in feature["properties"].items():
        if value is None:
            if omit_null_properties:
                continue
            if empty_string_nulls and (all_strings or name in TEXT_PROPERTIES):
                value = ""
        elif all_strings and not isinstance(value, str):
            value = str(value)
        properties[name] = value
    geometry = feature["geometry"]
    if lat_lon_order and geometry is not None:
        lon, lat = geometry["coordinates"]
        geometry = {"type": "Point", "coordinates": [lat, lon]}
    return {**feature, "geometry": geometry, "properties": properties}


def hits_collection_xml(number_matched: int | None) -> bytes:
    """A WFS 2.0 hits answer in XML; a server that cannot count says "unknown"."""
    now = datetime.now(UTC)
    matched = "unknown" if number_matched is None else number_matched
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<wfs:FeatureCollection xmlns:wfs="http://www.opengis.net/wfs/2.0" '
        f'numberMatched="{matched}" numberReturned="0" '
        f'timeStamp="{now:%Y-%m-%dT%H:%M:%S}Z"/>\n'
    ).encode()


def feature_collection(features: list[dict], number_matched: int | None) -> bytes:
    """GeoServer's GeoJSON answer; without `number_matched`, no counts at all."""
    now = datetime.now(UTC)
    collection: dict = {"type": "FeatureCollection", "features": features}
    if number_matched is not None:
        collection["totalFeatures"] = number_matched
        collection["numberMatched"] = number_matched
        collection["numberReturned"] = len(features)
    collection["timeStamp"] = f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z"
    collection["crs"] = CRS
    return orjson.dumps(collection)
