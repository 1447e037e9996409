"""`scrapy crawl` that exits non-zero when the crawl did not finish its work.

Scrapy's own command exits 0 even when the spider closed early or the harvest fell short;
cron, CI and Scrapyd need the exit status to tell. A crawl that cannot start (a bad
spider argument, an unwritable data directory) ends with its reason on one line.
"""

import sys

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import UsageError
from twisted.internet.defer import Deferred

FINISHED = "finished"


class Command(ScrapyCrawlCommand):
    def run(self, args, opts):
        if len(args) != 1:
            raise UsageError("give one spider: scrapy crawl tramites")
        crawler = self._create_crawler(args[0])
        startup_errors: list[BaseException] = []

        def keep_task_error(task):
            if not task.cancelled() and task.exception() is not None:
                startup_errors.append(task.exception())

        outcome = self.crawler_process.crawl(crawler, **opts.spargs)
        if isinstance(outcome, Deferred):
            outcome.addErrback(lambda failure: startup_errors.append(failure.value))
        else:
            outcome.add_done_callback(keep_task_error)
        self.crawler_process.start()

        for error in startup_errors:
            print(f"error: {error}", file=sys.stderr)
        if startup_errors or self.crawler_process.bootstrap_failed:
            self.exitcode = 1
            return
        finished = crawler.stats.get_value("finish_reason") == FINISHED
        if not finished or not crawler.stats.get_value("lapaz/harvest_complete", False):
            self.exitcode = 1
