"""Downloader middlewares: rotating user agents, retries.

scrapy-fake-useragent 1.4.4 is broken on current Scrapy: its retry middleware calls
`RetryMiddleware._retry` with an argument too many and reads an attribute that no longer
exists, so retries never happen; its middlewares take the deprecated `spider` argument.
Its provider chain works: the classes here reuse it, with a provider that passes
fake-useragent 2.x the filters it now takes.
"""

import random

import fake_useragent
from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy_fake_useragent.middleware import RandomUserAgentBase
from scrapy_fake_useragent.providers import BaseProvider

from lapaz.scheduler import RETRY_AFTER_META


def matching_user_agents(
    entries: list[dict], browsers: list[str], platforms: list[str], min_version: float
) -> list[str]:
    """The user-agent strings of fake-useragent's data entries that pass the filters."""
    return [
        entry["useragent"]
        for entry in entries
        if entry.get("browser") in browsers
        and entry.get("type") in platforms
        and (entry.get("browser_version_major_minor") or 0) >= min_version
    ]


class DesktopBrowserUserAgentProvider(BaseProvider):
    """fake-useragent's data, kept to current desktop browsers, filtered once.

    fake-useragent 2.x filters its ~7,000 entries again on every `UserAgent.random`, a few
    milliseconds a request: here the filter runs once and each request draws from its
    result. The package's own provider passes none of the filters (its
    FAKE_USERAGENT_RANDOM_UA_TYPE no longer filters).
    """

    def __init__(self, settings):
        super().__init__(settings)
        self.fallback = settings["FAKEUSERAGENT_FALLBACK"]
        self.user_agents = matching_user_agents(
            fake_useragent.UserAgent(fallback=self.fallback).data_browsers,
            browsers=settings.getlist("FAKEUSERAGENT_BROWSERS"),
            platforms=settings.getlist("FAKEUSERAGENT_PLATFORMS"),
            min_version=settings.getfloat("FAKEUSERAGENT_MIN_VERSION"),
        )

    def get_random_ua(self) -> str:
        return random.choice(self.user_agents) if self.user_agents else self.fallback


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


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries; the server's `Retry-After` is kept for the scheduler's wait.

    The wait itself is the scheduler's (lapaz.scheduler): a retry waiting there holds no
    place in the downloader. robots.txt is asked once: a site whose robots.txt fails is
    crawled as Scrapy does (allowed), and its retries would only delay the first requests.
    """

    def process_response(self, request, response):
        outcome = super().process_response(request, response)
        if isinstance(outcome, Request):
            outcome.meta[RETRY_AFTER_META] = response.headers.get("Retry-After")
        return outcome

    def _retry(self, request, reason):
        if request.meta.get("dont_obey_robotstxt") and request.url.endswith("/robots.txt"):
            return None
        return super()._retry(request, reason)


# Why a page request was dropped before it went out (see StoppedPagesMiddleware).
PAGES_STOPPED = "the crawl stopped asking for permit pages"


class StoppedPagesMiddleware:
    """Once the crawl stops asking for permit pages (lapaz.harvest's `pages_stopped`), the
    page requests already handed to Scrapy but never sent are dropped here, before any
    other middleware: the spider records them as not requested. A retry goes on: its page
    was asked, and its record says how that went."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        harvest = getattr(self.crawler.spider, "harvest", None)
        stopped = harvest is not None and harvest.pages_stopped is not None
        first_try = not request.meta.get("retry_times")
        if stopped and first_try and "permit" in request.cb_kwargs:
            raise IgnoreRequest(PAGES_STOPPED)
