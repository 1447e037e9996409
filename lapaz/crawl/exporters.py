"""A CSV feed exporter whose header holds every key of every item.

Scrapy's CsvItemExporter takes its header from the first item, so a feed mixing permits
and permit pages (whose keys vary from page to page) loses columns. UnionCsvItemExporter
spools the rows to a temporary file, learns the union of the keys on the way and writes
header and rows when the feed closes. Register it with
FEED_EXPORTERS = {"csv": "lapaz.crawl.exporters.UnionCsvItemExporter"}.
"""

import json
import tempfile
from collections.abc import Iterable, Mapping
from typing import Any

from itemadapter import ItemAdapter
from scrapy.exporters import CsvItemExporter
from scrapy.utils.python import to_unicode

from lapaz.records.schema import DETALLE_FIELDS, TRAMITE_FIELDS, order_keys

KIND_FIELD = "tipo"
UNION_LEADING_FIELDS = [KIND_FIELD, *TRAMITE_FIELDS, *DETALLE_FIELDS]


def field_pairs(fields: Mapping[str, str] | Iterable[Any]) -> list[tuple[str, str]]:
    """(item field, output column) pairs of a feed's `fields` option, read as Scrapy does."""
    if isinstance(fields, Mapping):
        return list(fields.items())
    return [(field, field) if isinstance(field, str) else tuple(field) for field in fields]


def item_kind(item: Any) -> str:
    """The kind of an item from its class name: TramiteItem -> "tramite"."""
    name = type(item).__name__
    return name.removesuffix("Item").lower() or name.lower()


class UnionCsvItemExporter(CsvItemExporter):
    """CSV with a `tipo` column (the item kind) and the union of all item keys as header.

    Header order: `tipo`, the TRAMITE_FIELDS, the DETALLE_FIELDS not among them, the page
    keys by section, then any other key in first-seen order; every row has every column,
    empty where its item lacks the key. An item's own `tipo` key wins over its kind.

    When the feed names its fields (`fields`, FEED_EXPORT_FIELDS) the header is exactly
    those and rows are written as items come, as Scrapy does; `tipo` may be among them.
    """

    def __init__(self, file: Any, **kwargs: Any):
        super().__init__(file, **kwargs)
        # Scrapy reads empty `fields` as "not given".
        self.fields_to_export = self.fields_to_export or None
        self._keys: dict[str, None] = {}
        if self.fields_to_export is None:
            self._fixed_header = None
            self._kind_column = KIND_FIELD
            # Open across calls, closed in finish_exporting: no context manager fits.
            self._spool = tempfile.TemporaryFile("w+", encoding="utf-8", newline="\n")  # noqa: SIM115
        else:
            pairs = field_pairs(self.fields_to_export)
            self._fixed_header = [output for _, output in pairs]
            self._kind_column = next((out for name, out in pairs if name == KIND_FIELD), None)
            self._spool = None

    def export_item(self, item: Any) -> None:
        row = self._row(item)
        if self._spool is None:
            if self._headers_not_written:
                self._headers_not_written = False
                if self.include_headers_line:
                    self.csv_writer.writerow(self._fixed_header)
            self.csv_writer.writerow([row.get(name, "") for name in self._fixed_header])
            return
        self._keys.update(dict.fromkeys(row))
        self._spool.write(json.dumps(row, ensure_ascii=False) + "\n")

    def finish_exporting(self) -> None:
        if self._spool is not None:
            self._write_spooled_rows()
            self._spool.close()
        super().finish_exporting()

    def _write_spooled_rows(self) -> None:
        if not self._keys:
            return
        header = order_keys(self._keys, UNION_LEADING_FIELDS)
        if self.include_headers_line:
            self.csv_writer.writerow(header)
        self._spool.seek(0)
        for line in self._spool:
            row = json.loads(line)
            self.csv_writer.writerow([row.get(key, "") for key in header])

    def _row(self, item: Any) -> dict[str, str]:
        """The item's cells by column name, serialized as Scrapy's CSV exporter does."""
        include_empty = self.fields_to_export is not None or self.export_empty_fields
        row = dict(self.get_serialized_fields(item, include_empty=include_empty))
        if self._kind_column is not None and KIND_FIELD not in ItemAdapter(item):
            row = {self._kind_column: item_kind(item)} | {
                name: value for name, value in row.items() if name != self._kind_column
            }
        return {name: self._cell(value) for name, value in row.items()}

    def _cell(self, value: Any) -> str:
        """A value as the csv module would write it, so that it survives the spool."""
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, bytes):
            return to_unicode(value, self.encoding)
        return str(value)
