"""`scrapy crawl` that exits non-zero when the crawl did not finish its work.

Scrapy's own command exits 0 even when the spider closed early or the harvest fell short;
cron, CI and Scrapyd need the exit status to tell.
"""

from scrapy.commands.crawl import Command as ScrapyCrawlCommand

FINISHED = "finished"


class Command(ScrapyCrawlCommand):
    def run(self, args, opts):
        crawlers = []
        create_crawler = self._create_crawler

        def remember(spider_name):
            crawler = create_crawler(spider_name)
            crawlers.append(crawler)
            return crawler

        self._create_crawler = remember
        super().run(args, opts)
        for crawler in crawlers:
            reason = crawler.stats.get_value("finish_reason")
            if reason != FINISHED or not crawler.stats.get_value("lapaz/harvest_complete", True):
                self.exitcode = 1
