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
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.core.scheduler import Scheduler
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.utils.asyncio import call_later

from lapaz.crawl.messages import exception_reason
from lapaz.crawl.statkeys import RETRIES_WAITED_SECONDS
from lapaz.i18n import _

logger = logging.getLogger(__name__)

# The retry count whose backoff a request has already waited, so that it waits once.
WAITED_META = "lapaz_waited_retry"
# Set by the retry middleware: the server's Retry-After for the retried request.
RETRY_AFTER_META = "lapaz_retry_after"
# Set by the retry middleware: why the retried request's last try failed (`http_503`), for
# the record of a retry that is never sent (lapaz.crawl.page_gate).
LAST_FAILURE_META = "lapaz_last_failure"


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
            _(
                "The request queue in JOBDIR cannot be read or written (%s: %s), as a crawl"
                " killed while writing it leaves it: this crawl keeps its requests in memory."
                " Nothing is lost: the data folder says which pages are done"
            ),
            type(error).__name__,
            error,
        )
        self.dqs = None

    def close(self, reason: str):
        for timer in self.waiting.values():
            timer.cancel()
        self.waiting.clear()
        return super().close(reason)


def retry_delay(
    attempt: int,
    retry_after: bytes | str | None,
    backoff_base: float,
    backoff_max: float,
    now: datetime | None = None,
) -> float:
    """Seconds to wait before retry number `attempt` (1, 2, ...).

    The server's `Retry-After` (seconds, or an HTTP date) when it gives one, else an
    exponential backoff; both capped at `backoff_max`.
    """
    if isinstance(retry_after, bytes):
        retry_after = retry_after.decode("latin-1")
    if retry_after and retry_after.strip():
        text = retry_after.strip()
        if text.isdigit():
            return min(float(text), backoff_max)
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            moment = None
        if moment is not None:
            now = now or datetime.now(UTC)
            return min(max((moment - now).total_seconds(), 0.0), backoff_max)
    return min(backoff_base * 2 ** (attempt - 1), backoff_max)


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries; the server's `Retry-After` is kept for the scheduler's wait.

    The wait itself is the scheduler's (lapaz.crawl.retries): a retry waiting there holds no
    place in the downloader. robots.txt is asked once: a site whose robots.txt fails is
    crawled as Scrapy does (allowed), and its retries would only delay the first requests.
    """

    def process_response(self, request, response):
        outcome = super().process_response(request, response)
        if isinstance(outcome, Request):
            outcome.meta[RETRY_AFTER_META] = response.headers.get("Retry-After")
            outcome.meta[LAST_FAILURE_META] = f"http_{response.status}"
        return outcome

    def process_exception(self, request, exception):
        outcome = super().process_exception(request, exception)
        if isinstance(outcome, Request):
            outcome.meta[LAST_FAILURE_META] = exception_reason(exception)
        return outcome

    def _retry(self, request, reason):
        if request.meta.get("dont_obey_robotstxt") and request.url.endswith("/robots.txt"):
            return None
        return super()._retry(request, reason)
