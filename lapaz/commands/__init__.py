"""Project commands; `crawl` here replaces Scrapy's own (settings.COMMANDS_MODULE)."""
