"""A real MapServer 8 WFS serving the replica's dataset, for tests and benchmarks.

Debian's `cgi-mapserver` runs as CGI (one `mapserv` process a request) behind a small HTTP
server on 127.0.0.1, reading a GeoPackage that `ogr2ogr` writes from the replica's features.
The permit pages still come from the replica (tools.replica), built with the same features
and seed.

    with MapServer(MapServerConfig(features=500)) as server:
        fetch(server.wfs_url + "?service=WFS&...")
        server.exchanges  # every request it answered, with timestamps

MapServer answers differently from GeoServer (checked on 8.0.0): no `totalFeatures`,
`numberReturned` or feature `id` in its GeoJSON; `numberMatched` only with
`wfs_compute_number_matched`; timestamps to the second; without `gml_types auto` every
property as text and null as ""; features without a geometry never served;
`resultType=hits` with `outputFormat=application/json` writes nothing at all, which a CGI
gateway answers with HTTP 500 (MapServer issue #6403).
"""

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import orjson

from tools.replica import ReplicaConfig, generate_features
from tools.replica.dataset import DEFAULT_SEED

MAPSERV = Path("/usr/lib/cgi-bin/mapserv")
OGR2OGR = "ogr2ogr"
WFS_PATH = "/cgi-bin/mapserv"
LAYER = "tramitesterritoriales"
TYPENAME = f"sit:{LAYER}"
# One mapserv run reads the GeoPackage and writes at most a few MB.
CGI_TIMEOUT = 60.0
OGR2OGR_TIMEOUT = 120.0
# What the log keeps of each body: enough to tell an answer from an error.
BODY_HEAD = 400
IDLE_TIMEOUT = 30.0
SHUTDOWN_JOIN_SECONDS = 5.0


def mapserver_available() -> bool:
    """Whether the Debian packages are installed (`.ci/run` installs them)."""
    return MAPSERV.exists() and shutil.which(OGR2OGR) is not None


@dataclass(frozen=True)
class MapServerConfig:
    """The dataset (as the replica's) and the map's WFS metadata."""

    features: int = 3000
    seed: int = DEFAULT_SEED
    gml_types_auto: bool = True  # False: every property written as text
    compute_number_matched: bool = True  # False: numberMatched only on the last page
    max_features: int | None = None  # wfs_maxfeatures: no page is longer

    def replica_config(self, **changes) -> ReplicaConfig:
        """The replica serving the permit pages of the same features."""
        return ReplicaConfig(features=self.features, seed=self.seed, **changes)


@dataclass(frozen=True)
class Exchange:
    """One request the server answered."""

    arrival: float  # time.monotonic()
    answered: float
    query: str
    status: int
    content_type: str
    body_head: bytes
    length: int


def geojson_for_ogr(features: list[dict]) -> bytes:
    """The features as plain GeoJSON: GeoServer's feature `id` and `geometry_name` are not
    properties of the table, and ogr2ogr would make `id` a column."""
    plain = [
        {"type": "Feature", "geometry": f["geometry"], "properties": f["properties"]}
        for f in features
    ]
    return orjson.dumps({"type": "FeatureCollection", "features": plain})


def write_geopackage(features: list[dict], folder: Path) -> Path:
    source = folder / f"{LAYER}.geojson"
    source.write_bytes(geojson_for_ogr(features))
    target = folder / f"{LAYER}.gpkg"
    command = [OGR2OGR, "-f", "GPKG", str(target), str(source), "-nln", LAYER]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=OGR2OGR_TIMEOUT, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"ogr2ogr failed: {completed.stderr.strip()}")
    return target


def mapfile_text(config: MapServerConfig, geopackage: Path, online_resource: str) -> str:
    web = {
        "wfs_title": "sit",
        "wfs_onlineresource": online_resource,
        "wfs_srs": "EPSG:4326",
        "wfs_enable_request": "*",
        "wfs_getfeature_formatlist": "geojson",
        "wfs_namespace_prefix": "sit",
    }
    if config.max_features is not None:
        web["wfs_maxfeatures"] = str(config.max_features)
    # A map-level setting: in the layer's metadata MapServer ignores it.
    if config.compute_number_matched:
        web["wfs_compute_number_matched"] = "true"
    layer = {
        "wfs_title": LAYER,
        "gml_include_items": "all",
        "gml_featureid": "idPCTramite",
    }
    if config.gml_types_auto:
        layer["gml_types"] = "auto"
    return f"""MAP
  NAME "sit"
  EXTENT -180 -90 180 90
  PROJECTION "init=epsg:4326" END
  OUTPUTFORMAT
    NAME "geojson"
    DRIVER "OGR/GEOJSON"
    MIMETYPE "application/json"
    FORMATOPTION "FORM=SIMPLE"
    FORMATOPTION "STORAGE=memory"
  END
  WEB
    METADATA
{_metadata(web, "      ")}
    END
  END
  LAYER
    NAME "{LAYER}"
    TYPE POINT
    STATUS ON
    CONNECTIONTYPE OGR
    CONNECTION "{geopackage}"
    DATA "{LAYER}"
    PROJECTION "init=epsg:4326" END
    METADATA
{_metadata(layer, "      ")}
    END
  END
END
"""


def _metadata(entries: dict[str, str], indent: str) -> str:
    return "\n".join(f'{indent}"{name}" "{value}"' for name, value in entries.items())


def config_file_text(mapfile: Path) -> str:
    """MapServer 8 refuses to run without a config file naming the maps it may open."""
    return f'CONFIG\n  MAPS\n    SIT "{mapfile}"\n  END\nEND\n'


@dataclass(frozen=True)
class CgiReply:
    status: int
    content_type: str
    body: bytes


def parse_cgi_output(output: bytes) -> CgiReply:
    """A CGI script's output as a gateway reads it: headers, a blank line, the body.

    Output without a header block (MapServer writes nothing on some errors) is what
    Apache answers with 500, "malformed header from script".
    """
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, body = output.partition(separator)
        if found:
            break
    else:
        return CgiReply(500, "text/plain", b"malformed header from script\n")
    status, content_type = 200, "application/octet-stream"
    for line in head.decode("latin-1").splitlines():
        name, _, value = line.partition(":")
        if name.strip().lower() == "status":
            status = int(value.split()[0])
        elif name.strip().lower() == "content-type":
            content_type = value.strip()
    return CgiReply(status, content_type, body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT
    server: "_HttpServer"

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the exchanges are the log."""

    def do_GET(self) -> None:
        mapserver = self.server.mapserver
        url = urlsplit(self.path)
        arrival = time.monotonic()
        with mapserver.tracking():
            if url.path == WFS_PATH:
                reply = mapserver.run_cgi(url.query)
            else:
                reply = CgiReply(404, "text/plain", b"not found\n")
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        # Logged before the body goes out: once the client has it, it may look at the log.
        # list.append is atomic: the connection threads share the log without a lock.
        mapserver.exchanges.append(
            Exchange(
                arrival,
                time.monotonic(),
                url.query,
                reply.status,
                reply.content_type,
                reply.body[:BODY_HEAD],
                len(reply.body),
            )
        )
        self.wfile.write(reply.body)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, mapserver: "MapServer"):
        self.mapserver = mapserver
        super().__init__(("127.0.0.1", 0), _Handler)


class MapServer:
    """MapServer's WFS on 127.0.0.1 (a free port), as a context manager."""

    def __init__(self, config: MapServerConfig | None = None):
        self.config = config or MapServerConfig()
        self.features = generate_features(self.config.features, self.config.seed)
        self.exchanges: list[Exchange] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._folder: tempfile.TemporaryDirectory | None = None
        self._httpd: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._environment: dict[str, str] = {}

    @property
    def served_features(self) -> list[dict]:
        """The features MapServer serves: those with a geometry."""
        return [f for f in self.features if f["geometry"] is not None]

    def start(self) -> "MapServer":
        if not mapserver_available():
            raise RuntimeError(
                f"MapServer is not installed ({MAPSERV}, {OGR2OGR}): "
                "apt-get install cgi-mapserver gdal-bin"
            )
        self._folder = tempfile.TemporaryDirectory(prefix="mapserver-")
        folder = Path(self._folder.name)
        geopackage = write_geopackage(self.features, folder)
        self._httpd = _HttpServer(self)
        mapfile = folder / "sit.map"
        mapfile.write_text(mapfile_text(self.config, geopackage, self.wfs_url + "?"))
        config_file = folder / "mapserver.conf"
        config_file.write_text(config_file_text(mapfile))
        self._environment = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "MAPSERVER_CONFIG_FILE": str(config_file),
            "MS_MAPFILE": str(mapfile),
            "REQUEST_METHOD": "GET",
            "GATEWAY_INTERFACE": "CGI/1.1",
        }
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="mapserver-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            if self._thread is not None:
                self._thread.join(SHUTDOWN_JOIN_SECONDS)
            self._httpd = self._thread = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def __enter__(self) -> "MapServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the MapServer has not been started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def wfs_url(self) -> str:
        return self.url + WFS_PATH

    def run_cgi(self, query: str) -> CgiReply:
        environment = {**self._environment, "QUERY_STRING": query}
        completed = subprocess.run(
            [str(MAPSERV)], env=environment, capture_output=True, timeout=CGI_TIMEOUT, check=False
        )
        return parse_cgi_output(completed.stdout)

    @contextmanager
    def tracking(self) -> Iterator[None]:
        """Counts a request in flight at the server while it is being answered."""
        with self._lock:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
