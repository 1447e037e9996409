"""A scheduler where a retried request waits its backoff outside the downloader.

Scrapy sends a retry again at once. Waiting for the backoff in a downloader middleware
would hold one of the downloader's places for the whole wait, and with a few pages failing
for good those places fill up and nothing else is sent. Here a retried request is put
aside on a timer and handed back to the engine when its time comes: while it waits it
holds no place anywhere, and the other requests keep flowing. The load on the server is
Scrapy's own per-domain limit, CONCURRENT_REQUESTS_PER_DOMAIN, for every request alike.

Retries made by the retry middleware and by callbacks (`get_retry_request`) both come
through `enqueue_request`, so both wait. A crawl with requests waiting is not idle.

With JOBDIR, a crawl killed while it wrote its disk queue leaves a file Scrapy cannot open
again (a queue file is removed when it empties and made anew at the next request, so the
moment comes often). Then the resumed crawl goes on with its requests in memory: the data
folder, not the queue, is the record of what is done.
"""

import logging

from scrapy.core.scheduler import Scheduler
from scrapy.utils.asyncio import call_later

from lapaz.backoff import retry_delay
from lapaz.statkeys import RETRIES_WAITED_SECONDS

logger = logging.getLogger(__name__)

# The retry count whose backoff a request has already waited, so that it waits once.
WAITED_META = "lapaz_waited_retry"
# Set by the retry middleware: the server's Retry-After for the retried request.
RETRY_AFTER_META = "lapaz_retry_after"


class BackoffScheduler(Scheduler):
    @classmethod
    def from_crawler(cls, crawler):
        scheduler = super().from_crawler(crawler)
        settings = crawler.settings
        scheduler.backoff_base = settings.getfloat("LAPAZ_RETRY_BACKOFF_BASE")
        scheduler.backoff_max = settings.getfloat("LAPAZ_RETRY_BACKOFF_MAX")
        scheduler.waiting = {}
        return scheduler

    def enqueue_request(self, request) -> bool:
        attempt = request.meta.get("retry_times", 0)
        if attempt and request.meta.get(WAITED_META) != attempt:
            request.meta[WAITED_META] = attempt
            delay = retry_delay(
                attempt,
                request.meta.get(RETRY_AFTER_META),
                self.backoff_base,
                self.backoff_max,
            )
            if delay > 0:
                self.crawler.stats.inc_value(RETRIES_WAITED_SECONDS, delay)
                self.waiting[id(request)] = call_later(delay, self._release, request)
                return True
        return super().enqueue_request(request)

    def _release(self, request) -> None:
        del self.waiting[id(request)]
        # Through the engine, so that it wakes up for the request.
        self.crawler.engine.crawl(request)

    def has_pending_requests(self) -> bool:
        return bool(self.waiting) or super().has_pending_requests()

    def _dqpush(self, request) -> bool:
        try:
            return super()._dqpush(request)
        except Exception as error:  # whatever a damaged file raises
            self._leave_disk_queue(error)
            return False

    def _dqpop(self):
        try:
            return super()._dqpop()
        except Exception as error:
            self._leave_disk_queue(error)
            return None

    def _leave_disk_queue(self, error: Exception) -> None:
        logger.warning(
            "The request queue in JOBDIR cannot be read or written (%s: %s), as a crawl"
            " killed while writing it leaves it: this crawl keeps its requests in memory."
            " Nothing is lost: the data folder says which pages are done",
            type(error).__name__,
            error,
        )
        self.dqs = None

    def close(self, reason: str):
        for timer in self.waiting.values():
            timer.cancel()
        self.waiting.clear()
        return super().close(reason)
