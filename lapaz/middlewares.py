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
    """A user agent from the configured providers for every request; a new one on a retry."""

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if request.meta.get("retry_times"):
            request.headers["User-Agent"] = self._ua_provider.get_random_ua()
        else:
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


class RetryWithBackoffMiddleware(RetryMiddleware):
    """Scrapy's retries, each sent after a backoff or the server's `Retry-After`.

    The wait is in `process_request`, so that it applies to every retried request: those
    of this middleware and those a callback makes (a page that came back without data).
    A waiting request holds one of the crawl's CONCURRENT_REQUESTS, not a place among the
    pages in flight: the spider's page window keeps the server's load in check.
    """

    def __init__(self, settings: BaseSettings):
        super().__init__(settings)
        self.backoff_base = settings.getfloat("LAPAZ_RETRY_BACKOFF_BASE")
        self.backoff_max = settings.getfloat("LAPAZ_RETRY_BACKOFF_MAX")

    async def process_request(self, request: Request) -> None:
        attempt = request.meta.get("retry_times", 0)
        if attempt:
            retry_after = request.meta.get("lapaz_retry_after")
            delay = retry_delay(attempt, retry_after, self.backoff_base, self.backoff_max)
            self.crawler.stats.inc_value("lapaz/retries/waited_seconds", delay)
            await asyncio.sleep(delay)

    def process_response(self, request, response):
        outcome = super().process_response(request, response)
        if isinstance(outcome, Request):
            outcome.meta["lapaz_retry_after"] = response.headers.get("Retry-After")
        return outcome
