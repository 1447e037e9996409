"""Scrapy's robots.txt middleware, saying which rule forbids a request, in one line.

The crawl obeys robots.txt. When the site's forbids what the crawl needs, the spider stops
asking and says so once: the ForbiddenByRobots raised here names the rule, which Scrapy's
middleware does not tell. Errors fetching robots.txt are logged in one line, without a
traceback: when the host cannot be reached the spider says so in words a person reads.
"""

import logging
from urllib.parse import urlsplit

from scrapy.downloadermiddlewares import robotstxt
from scrapy.exceptions import IgnoreRequest

from lapaz.crawl.exceptions import ForbiddenByRobots
from lapaz.crawl.messages import UNREACHABLE
from lapaz.i18n import _


def forbidding_rule(robots_txt: str, path: str) -> str | None:
    """The longest `Disallow:` line of `robots_txt` whose path starts `path`, as written.

    Plain prefixes only (no user-agent groups, no wildcards): it names the rule for a
    person; whether the request is allowed is the robots parser's decision.
    """
    best = None
    for line in robots_txt.splitlines():
        field, _, value = line.split("#", 1)[0].partition(":")
        rule = value.strip()
        if field.strip().lower() != "disallow" or not rule:
            continue
        if path.startswith(rule.rstrip("*$")) and (best is None or len(rule) > len(best)):
            best = rule
    return f"Disallow: {best}" if best else None


class _OneLineErrors(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, UNREACHABLE):
            return False  # the spider says it, in words a person reads
        record.exc_info = None
        record.exc_text = None
        return True


class RobotsTxtMiddleware(robotstxt.RobotsTxtMiddleware):
    def __init__(self, crawler):
        super().__init__(crawler)
        self.texts: dict[str, str] = {}
        logger = logging.getLogger(robotstxt.__name__)
        if not any(isinstance(f, _OneLineErrors) for f in logger.filters):
            logger.addFilter(_OneLineErrors())

    async def _parse_robots(self, response, netloc, request):
        self.texts[netloc] = response.text if hasattr(response, "text") else ""
        await super()._parse_robots(response, netloc, request)

    def process_request_2(self, rp, request) -> None:
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest:
            url = urlsplit(request.url)
            rule = forbidding_rule(self.texts.get(url.netloc, ""), url.path or "/")
            where = f"{url.scheme}://{url.netloc}/robots.txt"
            raise ForbiddenByRobots(
                _("{rule} of {robots}").format(rule=rule or _("A rule"), robots=where)
            ) from None
