"""What went wrong with a request, said for the records and for a person."""

from urllib.parse import urlsplit

from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectError, DNSLookupError

# A host that does not resolve or takes no connection: no passing hiccup (not retried).
UNREACHABLE = (CannotResolveHostError, DownloadConnectionRefusedError, ConnectError, DNSLookupError)


def failure_reason(failure) -> str:
    """The `error` of a record whose request failed: `http_503`, `TimeoutError: ...`."""
    if failure.check(HttpError):
        return f"http_{failure.value.response.status}"
    error = failure.value
    return f"{type(error).__name__}: {error}".strip().rstrip(":")


def why_unreachable(error: BaseException) -> str | None:
    """Why a host cannot be reached, in plain words; None for any other failure."""
    if isinstance(error, CannotResolveHostError | DNSLookupError):
        return "its name does not resolve (no DNS answer)"
    if isinstance(error, DownloadConnectionRefusedError):
        return "it refuses connections"
    if isinstance(error, ConnectError):
        return "no connection could be made to it"
    return None


def unreachable_message(what: str, url: str, error: BaseException, setting: str) -> str | None:
    """One line for a person: which server, why, what to check; None if it was reached."""
    why = why_unreachable(error)
    if why is None:
        return None
    host = urlsplit(url).netloc or url
    return (
        f"the {what} at {host} cannot be reached: {why}. Check the internet connection"
        f" (and {setting}, if you set it)"
    )


def down_message(what: str, url: str, reason: str, tries: int) -> str:
    """One line for a server that answered, but never with what was asked."""
    host = urlsplit(url).netloc or url
    return (
        f"the {what} at {host} answered {reason} to every try ({tries}): it seems to be"
        " down or overloaded; try again later"
    )
