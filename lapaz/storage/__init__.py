"""The data folder: the JSON-lines files, what earlier runs left there, the snapshots and
the change log, written safely.

No Scrapy: the crawl's writer pipeline (lapaz.crawl.pipelines) and the postprocess scripts
use it. May import lapaz.records only; independent of lapaz.layer and lapaz.permits.
"""
