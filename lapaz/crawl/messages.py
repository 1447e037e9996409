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


# The verdict's lines (lapaz.crawl.state): why a run fails, each in one line.

# An outcome of a permit page -> in words, as the share lines say it.
OUTCOME_WORDS = {
    "ok": "with data",
    "rechazada": "refused",
    "sin_secciones": "without data",
    "failed": "failed",
    "new_failures": "failed anew",
}


def incomplete(problems: list[str]) -> str:
    return "The WFS harvest is incomplete: " + "; ".join(problems)


def features_short(received: int, expected: int) -> str:
    return f"received {received} features of the {expected} the server matched"


def ended_early(finish_reason: str) -> str:
    return f"the crawl ended early ({finish_reason})"


def layer_shrank(received: int, before: int, bound: float) -> str:
    return (
        f"The WFS layer shrank: {received} features, against {before} in the last complete"
        f" harvest (more than {bound:.0%} fewer; LAPAZ_MAX_LAYER_SHRINK). A server answering"
        " part of its layer? tramites.jsonl keeps the last complete harvest."
    )


def fingerprint_changed(changes: list[str]) -> str:
    return (
        "The WFS layer's properties changed since the last complete harvest: "
        + "; ".join(changes)
        + ". tramites.jsonl keeps the last complete harvest."
    )


def share_out_of_bounds(count: int, total: int, outcome: str, kind: str, bound: float) -> str:
    word = "at least" if kind == "min" else "at most"
    of_what = "wanted permit pages" if outcome == "new_failures" else "permit pages asked"
    return (
        f"{count} of {total} {of_what} {OUTCOME_WORDS[outcome]}"
        f" ({count / total:.1%}; expected {word} {bound:.0%})"
    )


def coverage_too_low(key: str, count: int, pages: int, minimum: float) -> str:
    return (
        f"{key} is on {count} of {pages} pages with data ({count / pages:.1%};"
        f" expected at least {minimum:.0%})"
    )


def checks_failed(problems) -> str:
    return "The harvest's checks failed: " + "; ".join(problems)


def no_new_permit_since(last, weeks: int) -> str:
    return (
        f"no new permit since {last:%Y-%m-%d} (more than {weeks} weeks): is the layer still"
        " updated?"
    )


def stopped_asking(why: str) -> str:
    return f"The crawl stops asking for permit pages: {why}"


# The spider's lines.

LAT_LON_ORDER = "The WFS server writes coordinates in lat,lon order; stored as they are meant"


def no_count(why: str) -> str:
    return f"No count from the WFS server ({why}); paging from the first page"


def paging_repeats(start_index: int) -> str:
    return (
        f"WFS page at startIndex={start_index} repeats features already received; paging"
        " stops there (the server may not support startIndex)"
    )


def wfs_parameter_rejected(query, error: Exception) -> str:
    if query.cql_filter:
        return f"The WFS server rejected CQL_FILTER ({error}); filtering on our side instead"
    return (
        f"The WFS server rejected sortBy={query.sort_by} ({error}); paging without a stable order"
    )


def wfs_page_failed(start_index: int, reason: str) -> str:
    return f"WFS page at startIndex={start_index} failed after retries: {reason}"


def another_pass(received: int, expected: int, number: int, passes: int) -> str:
    return (
        f"Received {received} of {expected} features; paging the layer again (pass {number}"
        f" of {passes})"
    )


def forbidden(what: str, error: BaseException) -> str:
    """One line for a person when robots.txt forbade a request (the error names the rule)."""
    return (
        f"{error} forbids {what} to crawlers. The crawl obeys it;"
        " -s ROBOTSTXT_OBEY=False is only for those who have the municipality's leave"
    )
