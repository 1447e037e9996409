"""How long a retried request waits: the server's Retry-After, else exponential backoff."""

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


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
