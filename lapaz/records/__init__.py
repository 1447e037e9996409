"""The ground floor: what a record is, whatever the crawl or the files do with it.

The schema (field names, their order, the outcome of a page), values as users get them,
the tramites record built from a WFS feature, the comparison of two harvests and the rule
that picks a permit's page record. Pure Python: imports nothing of lapaz but this package,
and neither Scrapy nor Twisted (checked by import-linter, see pyproject.toml).
"""
