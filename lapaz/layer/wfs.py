"""WFS 2.0 GetFeature requests and GeoJSON decoding, as small pure functions.

Lessons from GDAL's and OWSLib's WFS clients: a server may cap `count`, so a short page
is not the end; paging without `sortBy` is not stable; an OGC ExceptionReport is an error,
never "no more features"; the total received is checked against `numberMatched` at the end.
"""

import re
from dataclasses import dataclass, replace
from urllib.parse import urlencode

import orjson

from lapaz.i18n import _
from lapaz.layer.paging import LIMIT_PARAMETER, OFFSET_PARAMETER, PageRequest

# La Paz lies at about lat -16.60 … -16.44, lon -68.18 … -68.03; these windows are wide
# enough for the whole municipality and far enough apart to tell the axis order.
LATITUDE_WINDOW = (-17.5, -15.5)
LONGITUDE_WINDOW = (-69.5, -67.0)


UTF8_BOM = b"\xef\xbb\xbf"
# OGC exception codes that mean "this request is wrong", as opposed to a passing failure
# of the server (NoApplicableCode), which is worth a retry of the same request.
REQUEST_REJECTED = {
    "InvalidParameterValue",
    "MissingParameterValue",
    "OperationParsingFailed",
    "OptionNotSupported",
}
_EXCEPTION_CODE = re.compile(rb'exceptionCode="([^"]*)"')
_EXCEPTION_TEXT = re.compile(rb"<(?:\w+:)?(?:ExceptionText|ServiceException)[^>]*>(.*?)</", re.S)


def ogc_exception(body: bytes) -> tuple[str, str]:
    """The code and the text of an OGC ExceptionReport (or a WMS-style ServiceException)."""
    code = _EXCEPTION_CODE.search(body)
    text = _EXCEPTION_TEXT.search(body)
    return (
        code.group(1).decode("utf-8", "replace") if code else "",
        " ".join(text.group(1).decode("utf-8", "replace").split()) if text else _preview(body),
    )


class WfsError(Exception):
    """The server answered something that is not a page of features."""


class WfsRejected(WfsError):
    """The server said the request itself is wrong (an OGC exception such as
    InvalidParameterValue): asking the same again is pointless."""


class WfsBroken(WfsError):
    """An answer that broke on the way (truncated JSON, an HTML error page, a passing
    NoApplicableCode): worth a retry of the same request."""


@dataclass(frozen=True)
class FeaturePage:
    features: list[dict]
    number_matched: int | None
    number_returned: int


def _getfeature(base_url: str, params: dict[str, object]) -> str:
    query = {"service": "WFS", "version": "2.0.0", "request": "GetFeature", **params}
    separator = "&" if "?" in base_url else "?"
    return f"{base_url}{separator}{urlencode(query)}"


@dataclass(frozen=True)
class WfsQuery:
    """What every GetFeature request of a crawl asks: the layer, its order, its filter."""

    url: str
    typename: str
    sort_by: str | None = None
    # ECQL, sent as GeoServer's CQL_FILTER vendor parameter.
    cql_filter: str | None = None

    def _params(self) -> dict[str, object]:
        params: dict[str, object] = {"typeNames": self.typename}
        if self.cql_filter:
            params["CQL_FILTER"] = self.cql_filter
        return params

    def hits_url(self) -> str:
        """The count alone (`resultType=hits`), in the WFS XML answer every server gives.

        No outputFormat: MapServer fails on hits asked as GeoJSON (its issue #6403).
        """
        return _getfeature(self.url, {**self._params(), "resultType": "hits"})

    def page_url(self, page: PageRequest) -> str:
        """A page of GeoJSON in EPSG:4326, in a stable order when there is one."""
        params = {
            **self._params(),
            "outputFormat": "application/json",
            "srsName": "EPSG:4326",
            LIMIT_PARAMETER: page.count,
            OFFSET_PARAMETER: page.start_index,
        }
        if self.sort_by:
            params["sortBy"] = self.sort_by
        return _getfeature(self.url, params)

    def fallback(self) -> "WfsQuery | None":
        """The query to try when the server rejects this one: vendor parameters first.

        Without CQL_FILTER the filters still apply on our side; without sortBy paging
        may be unstable, which the extra passes make up for.
        """
        if self.cql_filter:
            return replace(self, cql_filter=None)
        if self.sort_by:
            return replace(self, sort_by=None)
        return None


def _preview(body: bytes) -> str:
    return body[:200].decode("utf-8", errors="replace").strip()


def _as_count(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def parse_feature_page(body: bytes) -> FeaturePage:
    """Decode one GetFeature answer; anything but a FeatureCollection raises WfsError."""
    body = body.removeprefix(UTF8_BOM)
    head = body[:500].lstrip()
    if head.startswith(b"<"):
        if b"ExceptionReport" in head or b"ServiceException" in head:
            code, text = ogc_exception(body)
            kind = WfsRejected if code in REQUEST_REJECTED else WfsBroken
            raise kind(
                _("the server answered an OGC exception {code}: {text}").format(
                    code=code, text=text
                )
            )
        raise WfsBroken(
            _("the server answered XML or HTML, not GeoJSON: {preview}").format(
                preview=_preview(body)
            )
        )
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise WfsBroken(
            _("invalid JSON ({error}): {preview}").format(error=error, preview=_preview(body))
        ) from error
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise WfsBroken(
            _("not a GeoJSON FeatureCollection: {preview}").format(preview=_preview(body))
        )
    features = document.get("features")
    if not isinstance(features, list):
        raise WfsBroken(_("the FeatureCollection has no list of features"))
    # GeoServer gives numberMatched, or "unknown" with totalFeatures; others may give neither.
    matched = _as_count(document.get("numberMatched"))
    if matched is None:
        matched = _as_count(document.get("totalFeatures"))
    return FeaturePage(features=features, number_matched=matched, number_returned=len(features))


_NUMBER_MATCHED_XML = re.compile(rb'\bnumber(?:Matched|OfFeatures)="(\d+)"')


def parse_hits(body: bytes) -> int | None:
    """The count of a hits answer, in WFS XML (or GeoJSON); None when it gives none.

    `numberMatched="unknown"`, an ExceptionReport or anything else is no count.
    """
    body = body.removeprefix(UTF8_BOM)
    if body[:500].lstrip().startswith(b"<"):
        match = _NUMBER_MATCHED_XML.search(body[:4000])
        return int(match.group(1)) if match else None
    try:
        return parse_feature_page(body).number_matched
    except WfsError:
        return None


def _within(value: float, window: tuple[float, float]) -> bool:
    return window[0] <= value <= window[1]


def point_lat_lon(geometry: object) -> tuple[float | None, float | None, bool]:
    """Latitude and longitude of a Point, and whether the server wrote them lat,lon.

    GeoJSON says lon,lat, but WFS servers answering EPSG:4326 sometimes follow the EPSG
    axis order. In La Paz the two are unambiguous, so the order is read off the values.
    """
    if not isinstance(geometry, dict):
        return None, None, False
    coordinates = geometry.get("coordinates")
    if geometry.get("type") == "MultiPoint" and coordinates:
        coordinates = coordinates[0]
    if not isinstance(coordinates, list | tuple) or len(coordinates) < 2:
        return None, None, False
    try:
        first, second = float(coordinates[0]), float(coordinates[1])
    except (TypeError, ValueError):
        return None, None, False
    if _within(first, LATITUDE_WINDOW) and _within(second, LONGITUDE_WINDOW):
        return first, second, True
    return second, first, False
