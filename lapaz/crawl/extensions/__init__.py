"""Scrapy extensions, one concern each: progress, monitors (Spidermon), the closing summary."""
