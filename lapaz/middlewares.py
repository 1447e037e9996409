"""Downloader middlewares: rotating user agents, retries with backoff.

scrapy-fake-useragent 1.4.4 is broken on current Scrapy: its retry middleware calls
`RetryMiddleware._retry` with an argument too many and reads an attribute that no longer
exists, so retries never happen; its middlewares take the deprecated `spider` argument.
Its provider chain works: the classes here reuse it, with a provider that passes
fake-useragent 2.x the filters it now takes.
"""

import asyncio
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import fake_useragent
from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.settings import BaseSettings
from scrapy_fake_useragent.middleware import RandomUserAgentBase
from scrapy_fake_useragent.providers import BaseProvider, FakeUserAgentProvider


class DesktopBrowserUserAgentProvider(FakeUserAgentProvider):
    """fake-useragent's data, kept to current desktop browsers.

    fake-useragent 2.x filters with constructor arguments, which the package's own
    provider does not pass (its FAKE_USERAGENT_RANDOM_UA_TYPE no longer filters).
    """

    def __init__(self, settings):
        BaseProvider.__init__(self, settings)
        self._ua_type = "random"
        self._ua = fake_useragent.UserAgent(
            browsers=settings.getlist("FAKEUSERAGENT_BROWSERS"),
            platforms=settings.getlist("FAKEUSERAGENT_PLATFORMS"),
            min_version=settings.getfloat("FAKEUSERAGENT_MIN_VERSION"),
            fallback=settings["FAKEUSERAGENT_FALLBACK"],
        )


class RandomUserAgentMiddleware(RandomUserAgentBase):
    """Gives every request without one a user agent from the configured providers."""

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        request.headers.setdefault("User-Agent", self._ua_provider.get_random_ua())


def retry_delay(
    attempt: int,
    retry_after: bytes | str | None,
    backoff_base: float,
    backoff_max: float,
    now: datetime | None = None,
) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, ...).

    The server's `Retry-After` (seconds, or an HTTP date) when it gives one, else an
    exponential backoff; both capped at `backoff_max`.
    """
    if isinstance(retry_after, bytes):
        retry_after = retry_after.decode("latin-1")
    if retry_after and retry_after.strip():
        text = retry_after.strip()
        if text.isdigit():
            return min(float(text), backoff_max)
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            now = now or datetime.now(UTC)
            return min(max((moment - now).total_seconds(), 0.0), backoff_max)
    return min(backoff_base * 2 ** (attempt - 1), backoff_max)


class RetryWithFreshUserAgentMiddleware(RetryMiddleware):
    """Scrapy's retries, with a backoff, `Retry-After` honoured and a new user agent.

    The wait happens before the retried request is handed back: it holds one of the
    crawl's CONCURRENT_REQUESTS, so a server in trouble sees fewer requests meanwhile.
    """

    def __init__(self, settings: BaseSettings, user_agents: RandomUserAgentBase):
        super().__init__(settings)
        self._user_agents = user_agents
        self.backoff_base = settings.getfloat("LAPAZ_RETRY_BACKOFF_BASE")
        self.backoff_max = settings.getfloat("LAPAZ_RETRY_BACKOFF_MAX")

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

    async def _after_backoff(self, outcome, retry_after=None):
        if isinstance(outcome, Request):
            attempt = outcome.meta.get("retry_times", 1)
            delay = retry_delay(attempt, retry_after, self.backoff_base, self.backoff_max)
            self.crawler.stats.inc_value("lapaz/retries/waited_seconds", delay)
            await asyncio.sleep(delay)
        return outcome

    async def process_response(self, request, response):
        outcome = super().process_response(request, response)
        return await self._after_backoff(outcome, response.headers.get("Retry-After"))

    async def process_exception(self, request, exception):
        return await self._after_backoff(super().process_exception(request, exception))
