"""The WFS half: the layer's requests (GetFeature, hits), its paging plan, the filters,
reading a GeoJSON page and noticing a changed layer.

No Scrapy: the crawl (lapaz.crawl, lapaz.spiders) turns these into requests. May import
lapaz.records only; independent of lapaz.permits and lapaz.storage.
"""
