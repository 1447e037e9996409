"""`scrapy crawl` whose exit status is the crawl's verdict (lapaz.crawl.state).

Scrapy's own command exits 0 even when the spider closed early or the harvest fell short;
cron, CI and Scrapyd need the exit status to tell. A crawl that cannot start (a bad
spider argument, an unwritable data directory) ends with its reason on one line.
"""

import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.utils.defer import deferred_from_coro

from lapaz.commands import console
from lapaz.crawl.state import CrawlState
from lapaz.i18n import _


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

        for error in startup_errors:
            print(f"error: {error}", file=sys.stderr)
        verdict = _verdict(crawler)
        if startup_errors or self.crawler_process.bootstrap_failed or verdict is None:
            self.exitcode = 1
            return
        self.exitcode = verdict.exit_code
        if verdict.line is not None:
            # The last line on the screen, after the log: why the run failed.
            print(f"error: {verdict.line}", file=sys.stderr)


def _verdict(crawler):
    """The crawl's verdict; None for a crawl that never started."""
    try:
        state = crawler.get_extension(CrawlState)
    except RuntimeError:  # the crawl failed before its extensions were built
        return None
    return state.verdict if state is not None else None
