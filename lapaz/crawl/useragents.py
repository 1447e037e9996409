"""Rotating user agents: a desktop browser's for every request, a new one on a retry.

scrapy-fake-useragent 1.4.4 is broken on current Scrapy: its retry middleware calls
`RetryMiddleware._retry` with an argument too many and reads an attribute that no longer
exists, so retries never happen; its middlewares take the deprecated `spider` argument.
Its provider chain works: the classes here reuse it, with a provider that passes
fake-useragent 2.x the filters it now takes.
"""

import random

import fake_useragent
from scrapy import Request
from scrapy_fake_useragent.middleware import RandomUserAgentBase
from scrapy_fake_useragent.providers import BaseProvider


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
