"""Middlewares: rotating user agents on top of scrapy-fake-useragent; skipping done pages.

scrapy-fake-useragent 1.4.4 is broken on current Scrapy: its retry middleware calls
`RetryMiddleware._retry` with an argument too many and reads an attribute that no longer
exists, so retries never happen; its middlewares take the deprecated `spider` argument.
Its provider chain works, so these two small classes reuse it and nothing else.
"""

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.settings import BaseSettings
from scrapy_fake_useragent.middleware import RandomUserAgentBase

from lapaz.store import JsonLinesStore


class RandomUserAgentMiddleware(RandomUserAgentBase):
    """Gives every request without one a user agent from the configured providers."""

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        request.headers.setdefault("User-Agent", self._ua_provider.get_random_ua())


class RetryWithFreshUserAgentMiddleware(RetryMiddleware):
    """Scrapy's retries, with a new user agent on each retried request."""

    def __init__(self, settings: BaseSettings, user_agents: RandomUserAgentBase):
        super().__init__(settings)
        self._user_agents = user_agents

    @classmethod
    def from_crawler(cls, crawler):
        middleware = cls(crawler.settings, RandomUserAgentBase(crawler))
        middleware.crawler = crawler
        return middleware

    def _retry(self, request, reason):
        retry = super()._retry(request, reason)
        if retry is not None:
            retry.headers["User-Agent"] = self._user_agents._ua_provider.get_random_ua()
        return retry


class SkipFetchedPagesMiddleware:
    """Spider middleware: drops requests for permit pages that earlier runs fetched.

    `detalles.jsonl` already holds a record for them (see lapaz.store).
    """

    def __init__(self, crawler):
        self.store = JsonLinesStore.for_crawler(crawler)
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def _already_fetched(self, entry) -> bool:
        if not isinstance(entry, Request):
            return False
        identificador = entry.cb_kwargs.get("permit", {}).get("identificador")
        if identificador in self.store.done_identifiers:
            self.stats.inc_value("lapaz/detalles/skipped_done")
            return True
        return False

    def process_spider_output(self, response, result):
        for entry in result:
            if not self._already_fetched(entry):
                yield entry

    async def process_spider_output_async(self, response, result):
        async for entry in result:
            if not self._already_fetched(entry):
                yield entry
