"""`scrapy crawl` that exits non-zero when the crawl did not finish its work.

Scrapy's own command exits 0 even when the spider closed early or the harvest fell short;
cron, CI and Scrapyd need the exit status to tell. A crawl that cannot start (a bad
spider argument, an unwritable data directory) ends with its reason on one line, and
leaves that line in the run history (lapaz.storage.runs) of a data folder that exists.
"""

import sys
from datetime import UTC, datetime
from pathlib import Path

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from scrapy.utils.defer import deferred_from_coro

from lapaz.crawl.extensions.run_history import failure_line, not_started_run, record_run


def could_not_start() -> str:
    return "the crawl could not start"


class Command(ScrapyCrawlCommand):
    def run(self, args, opts):
        if len(args) != 1:
            raise UsageError("give one spider: scrapy crawl tramites")
        started = datetime.now(UTC)
        crawler = self.crawler_process.create_crawler(args[0])
        startup_errors: list[BaseException] = []

        def keep_startup_error(failure):
            startup_errors.append(failure.value)

        # The crawl's own outcome, whatever form crawl() returns it in.
        deferred_from_coro(self.crawler_process.crawl(crawler, **opts.spargs)).addErrback(
            keep_startup_error
        )
        self.crawler_process.start()

        harvest = getattr(crawler.spider, "harvest", None)
        if startup_errors or self.crawler_process.bootstrap_failed or harvest is None:
            self.exitcode = 1
            why = "; ".join(map(str, startup_errors)) or could_not_start()
            data_dir = Path(crawler.settings["LAPAZ_DATA_DIR"])
            # Into a data folder that exists only: a mistyped run makes no folder of its own.
            if data_dir.is_dir():
                record_run(data_dir, not_started_run(started, datetime.now(UTC), why))
            for error in startup_errors:
                print(f"error: {error}", file=sys.stderr)
            return
        failure = failure_line(harvest, crawler.stats.get_value("finish_reason"))
        if failure is not None:
            self.exitcode = 1
            # The last line on the screen, after the log: why the run failed.
            print(f"error: {failure}", file=sys.stderr)
