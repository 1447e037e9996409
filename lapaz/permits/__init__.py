"""The permit pages half: a permit's identity and page identifier, reading a permit page,
and noticing that the pages changed.

No Scrapy. May import lapaz.records only; independent of lapaz.layer and lapaz.storage.
"""
