"""Item pipelines, in the order settings.ITEM_PIPELINES runs them.

Records arrive final (built by the spider with lapaz.records.tramite and lapaz.permits.page): the
pipelines only drop what is already written, and write.
"""

from itemadapter import ItemAdapter
from scrapy.exceptions import DropItem

from lapaz.crawl import statkeys
from lapaz.items import DetalleItem


def record_kind(item) -> str:
    return "detalles" if isinstance(item, DetalleItem) else "tramites"


class _HarvestPipeline:
    def __init__(self, crawler):
        # The spider made the crawl's state before the pipelines were built.
        self.harvest = crawler.spider.harvest

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)


class DropWrittenRecordsPipeline(_HarvestPipeline):
    """Drops a record already written: the same permit twice in the WFS pages, or a page
    that a resumed crawl had queued before it was killed. Each file holds it once."""

    def process_item(self, item):
        kind = record_kind(item)
        if self.harvest.store.is_duplicate(kind, ItemAdapter(item)):
            self.harvest.count(statkeys.DUPLICATES_DROPPED.format(kind=kind))
            raise DropItem(f"already written to {kind}.jsonl")
        return item


class JsonLinesWriterPipeline(_HarvestPipeline):
    """Writes `tramites.jsonl` and `detalles.jsonl`, a flushed line per item as it arrives."""

    def close_spider(self):
        self.harvest.store.close(self.harvest.complete)

    def process_item(self, item):
        kind = record_kind(item)
        # Shallow: the records are flat, and asdict() would walk every value again.
        record = dict(ItemAdapter(item))
        store = self.harvest.store
        if kind == "tramites" and record.get("id_pc_tramite") not in store.previous_feature_ids:
            self.harvest.count(statkeys.TRAMITES_NEW)
        store.write(kind, record)
        return item
