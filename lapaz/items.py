"""The two kinds of record the crawl yields.

Both are dicts: a permit page's keys vary from page to page, and the WFS layer may grow
properties; `ItemAdapter` handles them in pipelines and feed exports like any item.
"""


class TramiteItem(dict):
    """One WFS feature: its properties as the server sent them, plus latitude/longitude.

    The pipelines turn it into a record with the keys of `lapaz.schema.TRAMITE_FIELDS`.
    """


class DetalleItem(dict):
    """One permit page requested, or one approved permit that could not get a request.

    Holds the fields of `lapaz.schema.DETALLE_FIELDS`; while it travels through the
    pipelines, the page's rows by section under `secciones`, flattened into prefixed keys.
    """
