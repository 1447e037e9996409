"""The two kinds of record the crawl yields.

Both are dicts: a permit page's keys vary from page to page, and the WFS layer may grow
properties; `ItemAdapter` handles them in pipelines and feed exports like any item.
"""


class TramiteItem(dict):
    """One WFS feature as its final record: the keys of `lapaz.records.schema.TRAMITE_FIELDS`
    (see `lapaz.records.tramite_record`), then any property the layer gained."""


class DetalleItem(dict):
    """One permit page requested, or one approved permit that could not get a request.

    Holds the fields of `lapaz.records.schema.DETALLE_FIELDS`, then the page's rows as keys
    prefixed by section (see `lapaz.permits.page.page_fields`).
    """
