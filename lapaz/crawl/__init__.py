"""The Scrapy plumbing around the spider: the crawl's state and verdict, retries that wait
outside the downloader, the page gate, robots.txt, the WARC archive, the writer pipeline,
feed exporters, messages for a person, and the extensions (extensions/).

May import lapaz.layer, lapaz.permits, lapaz.storage and lapaz.records; never the spider.
"""
