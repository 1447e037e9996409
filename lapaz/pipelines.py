"""Item pipelines, in the order settings.ITEM_PIPELINES runs them."""

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem

from lapaz.items import DetalleItem, TramiteItem
from lapaz.pages import flatten_sections
from lapaz.records import tramite_record
from lapaz.store import JsonLinesStore


class NormaliseTramiteKeysPipeline:
    """Server property names to snake case, and values to their types."""

    def process_item(self, item):
        if isinstance(item, TramiteItem):
            record = tramite_record(item)
            item.clear()
            item.update(record)
        return item


class NormaliseDetalleKeysPipeline:
    """Page rows to keys prefixed by section: `gral__`, `par__`, `otro__`."""

    def process_item(self, item):
        if isinstance(item, DetalleItem):
            item.update(flatten_sections(item.pop("secciones", None) or {}))
        return item


class JsonLinesWriterPipeline:
    """Writes `tramites.jsonl` and `detalles.jsonl`, a flushed line per item as it arrives.

    A record already written (the same permit twice in the WFS pages, or a page a resumed
    crawl had queued before it was killed) is dropped, so each file holds it once.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.store = JsonLinesStore.for_crawler(crawler)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def open_spider(self):
        self.store.open(full_refresh=getattr(self.crawler.spider, "full_refresh", False))

    def close_spider(self):
        self.store.close(self.crawler.stats.get_value("lapaz/harvest_complete", False))

    def process_item(self, item):
        kind = "detalles" if isinstance(item, DetalleItem) else "tramites"
        # Shallow: the records are flat, and asdict() would walk every value again.
        record = dict(ItemAdapter(item))
        if self.store.is_duplicate(kind, record):
            self.crawler.stats.inc_value(f"lapaz/{kind}/duplicates_dropped")
            raise DropItem(f"already written to {kind}.jsonl")
        if (
            kind == "tramites"
            and record.get("id_pc_tramite") not in self.store.previous_feature_ids
        ):
            self.crawler.stats.inc_value("lapaz/tramites/new")
        self.store.write(kind, record)
        return item
