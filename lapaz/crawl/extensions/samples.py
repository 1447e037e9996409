"""Sample pages of a changed layout, kept in the data folder for a person to look at."""

import logging
from datetime import UTC, datetime
from pathlib import Path

from lapaz.i18n import _
from lapaz.storage.files import SAMPLES_DIR

logger = logging.getLogger(__name__)


class LayoutSamples:
    """Holds the latest page without sections; `keep()` writes it when pages stop."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.latest: tuple[list[str], bytes] | None = None

    @classmethod
    def from_crawler(cls, crawler):
        return cls(Path(crawler.settings["LAPAZ_DATA_DIR"]))

    def note(self, headings: list[str], body: bytes) -> None:
        self.latest = (headings, body)

    def keep(self) -> tuple[list[str], str | None]:
        """The latest sample's headings, and the path it is saved at (None when it could
        not be written: said in the log, the crawl goes on)."""
        if self.latest is None:
            return [], None
        headings, body = self.latest
        moment = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = self.data_dir / SAMPLES_DIR / f"pagina-sin-secciones-{moment}.html"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
        except OSError as error:
            logger.warning(_("Could not keep a sample page in %s: %s"), path, error)
            return headings, None
        return headings, str(path)
