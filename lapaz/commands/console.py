"""What a crawl prints on the console: our lines, in the user's language.

Scrapy logs ~140 lines at INFO before a crawl does anything (versions, settings, every
middleware) and dumps its stats at the end; a person at a terminal wants the crawl's own
lines: progress, warnings, the summary, the one error line. So, on the console only,
Scrapy's own loggers (and those of the libraries it runs) show WARNING and above, their
lines unchanged. They show everything again when the log goes to a file (LOG_FILE, as
under Scrapyd), when the level is asked for on the command line (`--loglevel INFO`,
`-s LOG_LEVEL=DEBUG`), or with `-s LAPAZ_LOG_SCRAPY=1`.
"""

import logging

from scrapy.settings import SETTINGS_PRIORITIES

from lapaz import i18n

# Loggers whose INFO lines are Scrapy's machinery, not the crawl's news.
SCRAPY_LOGGERS = ("scrapy", "scrapy_fake_useragent", "spidermon", "protego", "twisted")
# Where Scrapy logs its start-up banner, before any crawler exists.
STARTUP_LOGGER = "scrapy.utils.log"
QUIET_LEVEL = logging.WARNING


class WarningsOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= QUIET_LEVEL


def scrapy_lines_wanted(settings) -> bool:
    """Whether the console shows Scrapy's own INFO lines for these settings."""
    return (
        settings.getbool("LAPAZ_LOG_SCRAPY")
        or bool(settings.get("LOG_FILE"))
        or settings.getpriority("LOG_LEVEL") >= SETTINGS_PRIORITIES["cmdline"]
    )


def set_up(settings) -> bool:
    """Before the crawler process starts: the language of the crawl (LAPAZ_IDIOMA, a
    ValueError if we do not speak it) and, unless wanted, no start-up banner; whether the
    console is to be quiet."""
    i18n.use(settings.get(i18n.SETTING))
    if scrapy_lines_wanted(settings):
        return False
    # A filter: configuring Scrapy's logging resets the levels of its loggers.
    logging.getLogger(STARTUP_LOGGER).addFilter(WarningsOnly())
    return True


def quiet_console() -> None:
    """Once the crawler process has configured logging: Scrapy's loggers log WARNING and
    above. Levels, not a filter on the console's handler: the crawler makes that handler
    anew as it starts."""
    for name in SCRAPY_LOGGERS:
        logging.getLogger(name).setLevel(QUIET_LEVEL)
