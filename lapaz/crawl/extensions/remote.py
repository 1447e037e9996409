"""Scrapy's remote control (an HTTP server to look into a running crawl), imported only
when it is on.

Scrapy lists `scrapy.extensions.remote_control.RemoteControl` among its base extensions
and imports it at every start, on or off (a setting's `None` does not spare the import);
importing it imports aiohttp, a tenth of a second of CPU. The project's EXTENSIONS_BASE
puts this stand-in in its place: with REMOTE_CONTROL_ENABLED (off in the project's
settings) it builds Scrapy's extension, which then works as it always does.
"""

from scrapy.exceptions import NotConfigured


class RemoteControl:
    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("REMOTE_CONTROL_ENABLED"):
            raise NotConfigured
        from scrapy.extensions.remote_control import RemoteControl as ScrapyRemoteControl

        return ScrapyRemoteControl.from_crawler(crawler)
