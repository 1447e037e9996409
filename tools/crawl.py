"""Running `scrapy crawl tramites` as a user does, pointed at a local site: for the tests,
the benchmark and the demo."""

import sys
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


# Short enough that a test with an unanswerable server ends; long enough for a busy CI.
CRAWL_TIMEOUT = 240


def crawl_settings(replica, data_dir: Path, **overrides) -> dict[str, object]:
    """Settings pointing the spider at the replica, fast where politeness is not at stake."""
    return {
        "LAPAZ_WFS_URL": replica.wfs_url,
        "LAPAZ_DETALLE_URL": replica.detalle_url,
        "LAPAZ_DATA_DIR": str(data_dir),
        "AUTOTHROTTLE_ENABLED": False,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
        "LOG_LEVEL": "INFO",
        **overrides,
    }


def crawl_command(settings: dict, arguments: dict | None = None, extra: tuple = ()) -> list[str]:
    command = [sys.executable, "-m", "scrapy", "crawl", "tramites", *extra]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    for name, value in (arguments or {}).items():
        command += ["-a", f"{name}={value}"]
    return command


@dataclass(frozen=True)
class Site:
    """Where a crawl finds the WFS and the permit pages, when two servers share the site
    (a real MapServer's WFS, the replica's pages): what run_crawl takes as its `replica`."""

    wfs_url: str
    detalle_url: str
