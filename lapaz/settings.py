"""Settings of the lapaz project.

Every value here can be overridden for one run with `scrapy crawl tramites -s NAME=VALUE`.
Where a value differs from Scrapy's default, the comment gives Scrapy's.
"""

import os

from scrapy.settings.default_settings import EXTENSIONS_BASE as _SCRAPY_EXTENSIONS

_LAZY_EXTENSIONS = {
    "scrapy.extensions.remote_control.RemoteControl": "lapaz.crawl.extensions.remote.RemoteControl"
}

BOT_NAME = "lapaz"
SPIDER_MODULES = ["lapaz.spiders"]
NEWSPIDER_MODULE = "lapaz.spiders"
# Our `crawl` command exits non-zero when the harvest is incomplete (Scrapy's exits 0).
COMMANDS_MODULE = "lapaz.commands"

# --- The site ---------------------------------------------------------------------------
# GeoServer WFS 2.0 endpoint and layer of the permits.
LAPAZ_WFS_URL = "https://sitservicios.lapaz.bo/geoserver/sit/ows"
LAPAZ_WFS_TYPENAME = "sit:tramitesterritoriales"
# Features asked per WFS page; the server may cap it lower, the spider copes.
LAPAZ_WFS_PAGE_SIZE = 5000
# Ask for the number of features (resultType=hits, in the WFS XML answer every WFS 2.0
# server gives) beside the first page, then for every other page at once. The count is
# asked once, never retried: without it the layer is paged on from the first page.
LAPAZ_WFS_HITS = True
# Seconds the count may take before paging goes on without it.
LAPAZ_WFS_HITS_TIMEOUT = 20
# A stable order keeps pages from skipping or repeating features; empty to not ask.
LAPAZ_WFS_SORT_BY = "idPCTramite"
# Send the spider's filters (desde, hasta, macrodistrito) as a CQL_FILTER, GeoServer's
# vendor parameter; they are applied on our side too, for servers that ignore it.
LAPAZ_WFS_SERVER_FILTER = True
# When paging without a stable order loses features, page the layer again, up to this
# many passes in all, before calling the harvest incomplete.
LAPAZ_WFS_MAX_PASSES = 10
# A permit page is `<LAPAZ_DETALLE_URL>?<base64 identifier>`.
LAPAZ_DETALLE_URL = "https://sitservicios.lapaz.bo/situtiles/pc/"

# --- Output -----------------------------------------------------------------------------
# Where tramites.jsonl and detalles.jsonl go. A relative path starts from the working
# directory; under Scrapyd, from the folder scrapyd was started in. Not made per Scrapyd
# job on purpose: the files carry over from run to run (pages fetched are not asked again).
LAPAZ_DATA_DIR = "data"
# Every answer of the site, kept as received in <LAPAZ_DATA_DIR>/archivo/*.warc.gz (one
# file per run) for re-parsing offline (python -m postprocess.reparse) and for citing what
# the site said; `-s LAPAZ_ARCHIVE=0` turns it off (records then carry no WARC reference).
LAPAZ_ARCHIVE = True
FEED_EXPORT_ENCODING = "utf-8"  # default: None (ASCII escapes in JSON)
# CSV feeds carry every key of every item, not only those of the first one.
FEED_EXPORTERS = {"csv": "lapaz.crawl.exporters.UnionCsvItemExporter"}

# --- Politeness towards a municipal server ----------------------------------------------
# What sets the pace is how many requests are in flight at the server: with C at once and
# a latency of L seconds, the rate is C/L and falls by itself as the server slows down.
# C is Scrapy's per-domain limit, for WFS and permit pages together.
ROBOTSTXT_OBEY = True  # default: False
CONCURRENT_REQUESTS = 16  # default: 16
CONCURRENT_REQUESTS_PER_DOMAIN = 4  # default: 8
# Above 0 so that the per-domain limit holds exactly: with a delay of exactly 0, Scrapy
# 2.19 lets queued requests past the limit in a burst (a request counts as transferring
# only once its download has started). 1 ms costs nothing at the server's pace.
DOWNLOAD_DELAY = 0.001  # default: 0
# The pace is the throttle's (below). Scrapy's random spread of the delay (0.5 to 1.5
# times) draws anew at every look at the slot, so the longer draws win: at a delay of
# 60 ms the pace fell 18 % under what the throttle asked.
DOWNLOAD_DELAY_JITTER = 0  # default: 0.5
# The pace of new requests (lapaz/crawl/throttle.py): when a server refuses (503 or 429, as a
# request-rate limiter does) or fails across URLs beyond its usual share, the time between
# new requests grows at once to what it answered well at, times LAPAZ_THROTTLE_DECREASE;
# while answers are good it comes back quickly to just under that pace, then creeps up
# (LAPAZ_THROTTLE_INCREASE of that pace a second, every second). It replaces AutoThrottle,
# whose delay never grows on an error and whose spacing by latency only held the pace
# below C/L.
AUTOTHROTTLE_ENABLED = False  # default: False
LAPAZ_THROTTLE_ENABLED = True
LAPAZ_THROTTLE_WINDOW = 20  # answers over which failing URLs are counted
LAPAZ_THROTTLE_MARGIN = 0.10  # share of failing URLs beyond the server's usual one
LAPAZ_THROTTLE_DECREASE = 0.8
LAPAZ_THROTTLE_INCREASE = 0.05  # share of the pace regained a second
LAPAZ_THROTTLE_MAX_DELAY = 5.0  # at worst one new request every 5 s
# Retries wait in the scheduler, not in the downloader (see lapaz/crawl/retries.py).
SCHEDULER = "lapaz.crawl.retries.BackoffScheduler"
# Scrapy checks every callback that is a generator for a `return value`, reading and
# parsing its source with `ast` again on every answer (its cache is keyed by a bound method
# made anew each time): a fifth of the CPU of a permit page. The spider returns no values.
WARN_ON_GENERATOR_RETURN_VALUE = False  # default: True
# Items of one answer processed at once. The pipelines do no I/O of their own that could
# overlap, and Scrapy starts this many workers for every answer: a small number spares
# the CPU (a WFS page's 5,000 items, a permit page's one).
CONCURRENT_ITEMS = 8  # default: 100
# A 5,000-feature GeoJSON page takes GeoServer several seconds to build.
DOWNLOAD_TIMEOUT = 120  # default: 180

# --- Retries and user agents ------------------------------------------------------------
RETRY_ENABLED = True
RETRY_TIMES = 5  # default: 2
# Every page request is in the scheduler from the WFS answer on: a retry, once its backoff
# is waited, goes before the pages not yet asked, not behind all of them.
RETRY_PRIORITY_ADJUST = 1  # default: -1
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]  # default: the same
# Scrapy's list less a host that does not resolve or refuses connections: that is no
# passing hiccup, and retrying it only delays the message saying so.
RETRY_EXCEPTIONS = [  # default: also CannotResolveHostError, DownloadConnectionRefusedError
    "scrapy.exceptions.DownloadFailedError",
    "scrapy.exceptions.DownloadTimeoutError",
    "scrapy.exceptions.ResponseDataLossError",
    "twisted.internet.error.ConnectionDone",
    "twisted.internet.error.ConnectionLost",
    "builtins.OSError",
    "scrapy.core.downloader.handlers.http11.TunnelError",
]
# Wait before retry n: LAPAZ_RETRY_BACKOFF_BASE * 2**(n-1) seconds, or the server's
# Retry-After; never more than LAPAZ_RETRY_BACKOFF_MAX. Short: a retry is about its own
# URL (0.25 + 0.5 + 1 + 2 + 4 s before a page is given up); a server in trouble is slowed
# down as a whole by the pace above.
LAPAZ_RETRY_BACKOFF_BASE = 0.25
LAPAZ_RETRY_BACKOFF_MAX = 120.0
DOWNLOADER_MIDDLEWARES = {
    # First: a page request still queued when the crawl stopped asking for pages goes no
    # further (a changed site, a robots.txt that forbids the pages).
    "lapaz.crawl.page_gate.StoppedPagesMiddleware": 50,
    # Scrapy's, saying which rule of robots.txt forbids a request.
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
    "lapaz.crawl.robots.RobotsTxtMiddleware": 100,
    # scrapy-fake-useragent's own middlewares are broken on this Scrapy: see middlewares.py.
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": None,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "lapaz.crawl.useragents.RandomUserAgentMiddleware": 400,
    "lapaz.crawl.retries.BackoffRetryMiddleware": 550,
    # Below the retries, so that it sees every try: stops asking for pages when the page
    # server seems down (LAPAZ_PAGES_DOWN_AFTER).
    "lapaz.crawl.page_gate.PageServerWatchMiddleware": 900,
    # Next to the downloader, above HttpCompressionMiddleware (590) and the retries (550):
    # it archives every answer as received, compressed, including those retried.
    "lapaz.crawl.archive.WarcArchiveMiddleware": 950,
}
# fake-useragent's data, current desktop browsers; the fixed USER_AGENT only if it fails
# to load. (Without a fallback string scrapy-fake-useragent silently ends up with ancient
# user agents.)
FAKEUSERAGENT_PROVIDERS = [
    "lapaz.crawl.useragents.DesktopBrowserUserAgentProvider",
    "scrapy_fake_useragent.providers.FixedUserAgentProvider",
]
FAKEUSERAGENT_BROWSERS = ["Chrome", "Firefox", "Safari", "Edge"]
FAKEUSERAGENT_PLATFORMS = ["desktop"]
FAKEUSERAGENT_MIN_VERSION = 120.0
FAKEUSERAGENT_FALLBACK = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/142.0.0.0 Safari/537.36"
)
USER_AGENT = FAKEUSERAGENT_FALLBACK

# --- Pipelines, middlewares, extensions ---------------------------------------------------
# One pipeline owns the data folder: opens, locks, writes and commits it.
ITEM_PIPELINES = {"lapaz.crawl.pipelines.DataFolderPipeline": 800}
SPIDER_MIDDLEWARES = {
    # Scrapy's development aid that warns of a request carrying `retry_times` and the like
    # "copied from response.meta": our retries (get_retry_request) carry them on purpose.
    # Off, it also spares a layer of Scrapy's chain around every item and request.
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
}
EXTENSIONS = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    # First: the crawl's state, whose verdict every extension after it reads at the close.
    "lapaz.crawl.state.CrawlState": 100,
    "lapaz.crawl.extensions.samples.LayoutSamples": 110,
    "lapaz.crawl.throttle.AdaptiveThrottle": 300,
    # Before the summary, so that the bars are closed when it is logged. One of the two
    # turns itself off: bars on a terminal, log lines elsewhere.
    "lapaz.crawl.extensions.progress.ProgressBars": 400,
    "lapaz.crawl.extensions.progress.ProgressLog": 410,
    # Before the summary, which reports the monitors' results.
    "spidermon.contrib.scrapy.extensions.Spidermon": 450,
    "lapaz.crawl.extensions.summary.CrawlSummary": 500,
    # Last: the run history's line says how the run ended, monitors included
    # (<LAPAZ_DATA_DIR>/historial/corridas.jsonl, python -m postprocess.corridas).
    "lapaz.crawl.extensions.run_history.RunHistory": 600,
}
# Progress: bars on a terminal, else a log line every LAPAZ_PROGRESS_INTERVAL seconds.
LAPAZ_PROGRESS = True
LAPAZ_PROGRESS_INTERVAL = 30

# --- When the site changes (lapaz/drift.py) ---------------------------------------------
# Pages answered with HTTP 200 that are neither permit pages (no section found) nor the
# refusal page: the crawl stops asking for pages after LAPAZ_DRIFT_RUN of them in a row,
# or when more than LAPAZ_DRIFT_SHARE of the last LAPAZ_DRIFT_WINDOW answers are such.
LAPAZ_DRIFT_RUN = 20
LAPAZ_DRIFT_WINDOW = 50
LAPAZ_DRIFT_SHARE = 0.5

# --- When the permit-page server is down (lapaz/permits/down.py) ---------------------------
# Against a failing server the pace falls to one request every LAPAZ_THROTTLE_MAX_DELAY
# seconds, and a crawl would go on for hours: the crawl stops asking for pages (the run
# fails, `pages_stopped`) when no page answered well (any answer but 5xx or 429) for
# LAPAZ_PAGES_DOWN_AFTER seconds while at least LAPAZ_PAGES_DOWN_MIN_FAILURES tries
# (retries included: 5xx, 429, timeouts, lost connections) failed.
LAPAZ_PAGES_DOWN_AFTER = 60
LAPAZ_PAGES_DOWN_MIN_FAILURES = 10

# --- The verdict (lapaz/crawl/state.py) and the monitors (Spidermon) ---------------------
# The verdict judges the dataset when the spider closes; the monitors tell its failures
# (and a finish reason other than these) through the notifiers configured below.
SPIDERMON_ENABLED = True
SPIDERMON_SPIDER_CLOSE_MONITORS = ["lapaz.crawl.extensions.monitors.HarvestMonitorSuite"]
SPIDERMON_EXPECTED_FINISH_REASONS = ["finished"]
# Pages that failed anew in this run, against every wanted permit page of the dataset
# (pages that failed in the last run too are persisting failures: reported, not judged).
LAPAZ_MONITOR_MAX_FAILED_SHARE = 0.05
# The shares of the outcomes of this run's pages, and the page keys' coverage, are judged
# only when at least this many pages were asked: over a handful they mean nothing.
LAPAZ_MONITOR_MIN_PAGES = 100
LAPAZ_MONITOR_MIN_OK_SHARE = 0.8
LAPAZ_MONITOR_MAX_REFUSED_SHARE = 0.15
LAPAZ_MONITOR_MAX_NO_DATA_SHARE = 0.05
# Keys every permit page with data has; each must be on this share of them.
LAPAZ_MONITOR_PAGE_KEYS = [
    "gral__codigo_catastral",
    "gral__fecha_aprobacion",
    "gral__zona_referencial",
    "par__superficie_construida",
]
LAPAZ_MONITOR_MIN_KEY_COVERAGE = 0.9
# A harvest of the whole layer with more than this share fewer features than the last
# complete one fails, and the last one stays (a server answering part of its layer).
LAPAZ_MAX_LAYER_SHRINK = 0.1
# No new permit in the layer for this many weeks: a warning in the summary (0: never).
LAPAZ_WARN_NO_NEW_PERMIT_WEEKS = 8
# Being told when a monitor fails (cron, Scrapyd): Spidermon's Telegram, Slack and e-mail
# actions, each used once its first setting below is set (here, with -s, or in the
# environment); nothing is sent otherwise, and nothing fails when they are unset.
# Telegram needs `jinja2` installed, Slack `slack-sdk` and `jinja2`, e-mail `premailer`.
# Secrets come from the environment only; an unset one stays unset (None).
SPIDERMON_TELEGRAM_SENDER_TOKEN = os.environ.get("SPIDERMON_TELEGRAM_SENDER_TOKEN")
SPIDERMON_TELEGRAM_RECIPIENTS = os.environ.get("SPIDERMON_TELEGRAM_RECIPIENTS")
SPIDERMON_SLACK_SENDER_TOKEN = os.environ.get("SPIDERMON_SLACK_SENDER_TOKEN")
SPIDERMON_SLACK_SENDER_NAME = os.environ.get("SPIDERMON_SLACK_SENDER_NAME")
SPIDERMON_SLACK_RECIPIENTS = os.environ.get("SPIDERMON_SLACK_RECIPIENTS")
SPIDERMON_EMAIL_TO = os.environ.get("SPIDERMON_EMAIL_TO")
SPIDERMON_EMAIL_SENDER = os.environ.get("SPIDERMON_EMAIL_SENDER")
SPIDERMON_EMAIL_SUBJECT = os.environ.get("SPIDERMON_EMAIL_SUBJECT")
SPIDERMON_SMTP_HOST = os.environ.get("SPIDERMON_SMTP_HOST")
SPIDERMON_SMTP_PORT = os.environ.get("SPIDERMON_SMTP_PORT")
SPIDERMON_SMTP_USER = os.environ.get("SPIDERMON_SMTP_USER")
SPIDERMON_SMTP_PASSWORD = os.environ.get("SPIDERMON_SMTP_PASSWORD")
SPIDERMON_SMTP_ENFORCE_TLS = os.environ.get("SPIDERMON_SMTP_ENFORCE_TLS")

# --- Language and console ----------------------------------------------------------------
# The language of every line a person reads (errors, the summary, the monitors, and the
# postprocess commands' output): `es` or `en`. Empty: the locale's, as gettext reads it
# (LANGUAGE, LC_ALL, LC_MESSAGES, LANG), Spanish when none is set or it names another
# language. The environment variable LAPAZ_IDIOMA does the same for every command.
LAPAZ_IDIOMA = os.environ.get("LAPAZ_IDIOMA", "")

# --- Logging ----------------------------------------------------------------------------
LOG_LEVEL = "INFO"  # default: DEBUG
# On the console, `scrapy crawl` shows our lines (progress, warnings, the summary, the
# error line) and only Scrapy's warnings and errors: not its start-up banner, the
# middlewares it enabled, nor its stats (lapaz/commands/console.py). Scrapy's lines come
# back, unchanged, with LAPAZ_LOG_SCRAPY = True, a level given on the command line
# (`--loglevel INFO`, `-s LOG_LEVEL=DEBUG`) or a LOG_FILE (Scrapyd's job logs keep them all).
LAPAZ_LOG_SCRAPY = False
# Scrapy's remote-control HTTP server (a debugging aid on a local port, like the telnet
# console above): off, a scheduled harvest opens no port.
REMOTE_CONTROL_ENABLED = False  # default: True
# Scrapy's base extensions, its remote control in the hands of a stand-in that imports it
# only when REMOTE_CONTROL_ENABLED: Scrapy imports it (and aiohttp) at every start, on or
# off, a tenth of a second of CPU (lapaz/crawl/extensions/remote.py).
EXTENSIONS_BASE = {
    _LAZY_EXTENSIONS.get(name, name): priority for name, priority in _SCRAPY_EXTENSIONS.items()
}
