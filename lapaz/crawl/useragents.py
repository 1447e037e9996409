"""Rotating user agents: a desktop browser's for every request, a new one on a retry.

scrapy-fake-useragent 1.4.4 is broken on current Scrapy: its retry middleware calls
`RetryMiddleware._retry` with an argument too many and reads an attribute that no longer
exists, so retries never happen; its middlewares take the deprecated `spider` argument.
Its provider chain works: the classes here reuse it, with a provider that passes
fake-useragent 2.x the filters it now takes. Its providers module is not imported: it
imports Faker, a twentieth of a second of every start, for a provider not used here.
"""

import random

import fake_useragent
import orjson
from fake_useragent.utils import find_browser_json_path
from scrapy import Request
from scrapy_fake_useragent.middleware import RandomUserAgentBase


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


def browser_entries(fallback: str) -> list[dict]:
    """fake-useragent's data entries: its browsers.jsonl, one entry a line.

    Read with orjson: the package reads its ~7,000 lines with the json module, three times
    as long. Its own loader stays the way if the file cannot be read so.
    """
    try:
        lines = find_browser_json_path().read_bytes().splitlines()
        return [orjson.loads(line) for line in lines if line.strip()]
    except (OSError, ValueError, fake_useragent.FakeUserAgentError):
        return fake_useragent.UserAgent(fallback=fallback).data_browsers


class DesktopBrowserUserAgentProvider:
    """fake-useragent's data, kept to current desktop browsers, filtered once.

    fake-useragent 2.x filters its ~7,000 entries again on every `UserAgent.random`, a few
    milliseconds a request: here the filter runs once and each request draws from its
    result. The package's own provider passes none of the filters (its
    FAKE_USERAGENT_RANDOM_UA_TYPE no longer filters). A provider as scrapy-fake-useragent
    takes them: built from the settings, `get_random_ua()`.
    """

    def __init__(self, settings):
        self.settings = settings
        self.fallback = settings["FAKEUSERAGENT_FALLBACK"]
        self.user_agents = matching_user_agents(
            browser_entries(self.fallback),
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
