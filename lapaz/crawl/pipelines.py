"""The one pipeline: it owns the data folder (lapaz.storage.store).

It opens (locks, reads) the folder when the crawl opens, appends every record as it
arrives, counts what it writes in the crawl's state, and once the crawl's verdict is in
(lapaz.crawl.state), commits the harvest if the verdict says it is complete, or leaves
the folder's harvest as it was. Records arrive final (built by the spider with
lapaz.records.tramite and lapaz.permits.page).
"""

import logging
from pathlib import Path

from itemadapter import ItemAdapter
from scrapy import signals

from lapaz.crawl import messages, statkeys
from lapaz.crawl.state import CrawlState
from lapaz.items import DetalleItem
from lapaz.storage.store import DataStore

logger = logging.getLogger(__name__)


class DataFolderPipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.store = DataStore(Path(crawler.settings["LAPAZ_DATA_DIR"]))
        # Permits whose finished page of an earlier run this run's record replaces.
        self.replaced_pages: set = set()
        # Opened as the engine is built: a folder that cannot be written or that another
        # crawl holds stops the crawl before it starts, on one line.
        arguments = getattr(crawler.spider, "arguments", None)
        self.store.open(bool(arguments and arguments.full_refresh))
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    @property
    def state(self) -> CrawlState:
        return self.crawler.get_extension(CrawlState)

    @property
    def previous(self):
        return self.store.previous

    def open_spider(self) -> None:
        self.state.previous = self.store.previous

    def process_item(self, item):
        # Shallow: the records are flat, and asdict() would walk every value again. Our
        # items are dicts: copied as such, not key by key through ItemAdapter.
        record = dict(item) if isinstance(item, dict) else dict(ItemAdapter(item))
        permit = record.get("id_pc_tramite")
        if isinstance(item, DetalleItem):
            self.store.write("detalles", record)
            self.state.note_page(record)
            if permit in self.previous.finished_permits:
                self.replaced_pages.add(permit)
        else:
            self.store.write("tramites", record)
            if permit not in self.previous.feature_ids:
                self.state.count(statkeys.TRAMITES_NEW)
        return item

    def close_spider(self) -> None:
        self.store.close_files()

    def spider_closed(self, reason: str) -> None:
        """After the extensions (the state among them) have seen the close: commit a
        complete harvest, or leave the folder's as it was."""
        if not self.store.is_open:
            return  # it could not be opened: the crawl never started
        state = self.state
        try:
            if state.judge(reason).complete:
                self.commit(state)
            else:
                self.store.keep_incomplete()
        finally:
            self.store.release()

    def commit(self, state: CrawlState) -> None:
        try:
            self.store.commit(self.replaced_pages, state.failures, state.layer_record())
        except OSError as error:
            line = messages.not_written(error)
            logger.error(line)
            state.not_written(line)
