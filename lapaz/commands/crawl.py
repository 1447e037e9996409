"""`scrapy crawl` whose exit status is the crawl's verdict (lapaz.crawl.state).

Scrapy's own command exits 0 even when the spider closed early or the harvest fell short;
cron, CI and Scrapyd need the exit status to tell. A crawl that cannot start (a bad
spider argument, an unwritable data directory) ends with its reason on one line, and
leaves that line in the run history (lapaz.storage.runs) of a data folder that exists.
"""

import sys
from datetime import UTC, datetime
from pathlib import Path

# Imported here, while the stack is short: these modules build their deprecated class
# names with inspect.stack(), which reads the source of every frame above the import.
# Under the download handler, at the crawl's first request, that cost 0.25 s of CPU.
import scrapy.core.downloader.contextfactory
import scrapy.core.downloader.tls  # noqa: F401
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.utils.defer import deferred_from_coro

from lapaz.commands import console
from lapaz.crawl.extensions.run_history import not_started_run, record_run
from lapaz.crawl.state import CrawlState
from lapaz.i18n import _


def could_not_start() -> str:
    return _("the crawl could not start")


def error_line(why: object) -> str:
    """The last line of a run that failed."""
    return _("error: {why}").format(why=why)


class Command(ScrapyCrawlCommand):
    def process_options(self, args, opts):
        super().process_options(args, opts)
        # Before Scrapy's start-up lines: the crawler process is made after this.
        try:
            self.quiet = console.set_up(self.settings)
        except ValueError as error:
            raise UsageError(str(error)) from None

    def run(self, args, opts):
        if len(args) != 1:
            raise UsageError(_("give one spider: scrapy crawl tramites"))
        started = datetime.now(UTC)
        crawler = self.crawler_process.create_crawler(args[0])
        if self.quiet:
            console.quiet_console()
        startup_errors: list[BaseException] = []

        def keep_startup_error(failure):
            startup_errors.append(failure.value)

        # The crawl's own outcome, whatever form crawl() returns it in.
        deferred_from_coro(self.crawler_process.crawl(crawler, **opts.spargs)).addErrback(
            keep_startup_error
        )
        self.crawler_process.start()

        verdict = _verdict(crawler)
        if startup_errors or self.crawler_process.bootstrap_failed or verdict is None:
            self.exitcode = 1
            why = "; ".join(map(str, startup_errors)) or could_not_start()
            data_dir = Path(crawler.settings["LAPAZ_DATA_DIR"])
            # Into a data folder that exists only: a mistyped run makes no folder of its own;
            # a crawl that was judged left its line already (lapaz.crawl.extensions.run_history).
            if data_dir.is_dir() and verdict is None:
                record_run(data_dir, not_started_run(started, datetime.now(UTC), why))
            for error in startup_errors:
                print(error_line(error), file=sys.stderr)
            return
        self.exitcode = verdict.exit_code
        if verdict.line is not None:
            # The last line on the screen, after the log: why the run failed.
            print(error_line(verdict.line), file=sys.stderr)


def _verdict(crawler):
    """The crawl's verdict; None for a crawl that never started."""
    try:
        state = crawler.get_extension(CrawlState)
    except RuntimeError:  # the crawl failed before its extensions were built
        return None
    return state.verdict if state is not None else None
