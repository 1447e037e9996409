"""What went wrong with a request, said for the records and for a person."""

from urllib.parse import urlsplit

from scrapy.exceptions import CannotResolveHostError, DownloadConnectionRefusedError
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectError, DNSLookupError

from lapaz.i18n import N_, _, percent

# A host that does not resolve or takes no connection: no passing hiccup (not retried).
UNREACHABLE = (CannotResolveHostError, DownloadConnectionRefusedError, ConnectError, DNSLookupError)

# What a line is about (translated where it is said).
WFS_SERVER = N_("the WFS server")
PAGE_SERVER = N_("the permit page server")
WFS_LAYER = N_("the WFS layer")
PERMIT_PAGES = N_("the permit pages")


def failure_reason(failure) -> str:
    """The `error` of a record whose request failed: `http_503`, `TimeoutError: ...`."""
    if failure.check(HttpError):
        return f"http_{failure.value.response.status}"
    return exception_reason(failure.value)


def exception_reason(error: BaseException) -> str:
    """The same, for a request that got no answer: `TimeoutError: ...`."""
    return f"{type(error).__name__}: {error}".strip().rstrip(":")


def why_unreachable(error: BaseException) -> str | None:
    """Why a host cannot be reached, in plain words; None for any other failure."""
    if isinstance(error, CannotResolveHostError | DNSLookupError):
        return _("its name does not resolve (no DNS answer)")
    if isinstance(error, DownloadConnectionRefusedError):
        return _("it refuses connections")
    if isinstance(error, ConnectError):
        return _("no connection could be made to it")
    return None


def unreachable_message(what: str, url: str, error: BaseException, setting: str) -> str | None:
    """One line for a person: which server (`what`, one of the phrases above), why, what to
    check; None if it was reached."""
    why = why_unreachable(error)
    if why is None:
        return None
    return _(
        "{what} at {host} cannot be reached: {why}. Check the internet connection"
        " (and {setting}, if you set it)"
    ).format(what=_(what), host=urlsplit(url).netloc or url, why=why, setting=setting)


def down_message(what: str, url: str, reason: str, tries: int) -> str:
    """One line for a server that answered, but never with what was asked."""
    return _(
        "{what} at {host} answered {reason} to every try ({tries}): it seems to be"
        " down or overloaded; try again later"
    ).format(what=_(what), host=urlsplit(url).netloc or url, reason=reason, tries=tries)


def pages_down(url: str, seconds: float, reasons: str) -> str:
    """One line for a permit-page server that failed every try for a while (lapaz.permits.down)."""
    return _(
        "{what} at {host} failed every try for {seconds} s ({reasons}): it seems to be"
        " down or overloaded; try again later. The pages not asked are recorded as"
        " no_solicitada"
    ).format(
        what=_(PAGE_SERVER),
        host=urlsplit(url).netloc or url,
        seconds=round(seconds),
        reasons=reasons,
    )


# The verdict's lines (lapaz.crawl.state): why a run fails, each in one line.

# An outcome of a permit page -> in words, as the share lines say it.
OUTCOME_WORDS = {
    "ok": N_("with data"),
    "rechazada": N_("refused"),
    "sin_secciones": N_("without data"),
    "failed": N_("failed"),
    "new_failures": N_("failed anew"),
}


def incomplete(problems: list[str]) -> str:
    return _("The WFS harvest is incomplete: {problems}").format(problems="; ".join(problems))


def features_short(received: int, expected: int) -> str:
    return _("received {received} features of the {expected} the server matched").format(
        received=received, expected=expected
    )


def ended_early(finish_reason: str) -> str:
    return _("the crawl ended early ({reason})").format(reason=finish_reason)


def layer_shrank(received: int, before: int, bound: float) -> str:
    return _(
        "The WFS layer shrank: {received} features, against {before} in the last complete"
        " harvest (more than {bound} fewer; LAPAZ_MAX_LAYER_SHRINK). A server answering"
        " part of its layer? tramites.jsonl keeps the last complete harvest."
    ).format(received=received, before=before, bound=percent(bound))


def fingerprint_changed(changes: list[str]) -> str:
    return _(
        "The WFS layer's properties changed since the last complete harvest: {changes}."
        " tramites.jsonl keeps the last complete harvest."
    ).format(changes="; ".join(changes))


def share_out_of_bounds(count: int, total: int, outcome: str, kind: str, bound: float) -> str:
    values = {
        "count": count,
        "total": total,
        "outcome": _(OUTCOME_WORDS[outcome]),
        "share": percent(count / total, 1),
        "bound": percent(bound),
    }
    if outcome == "new_failures":
        return _(
            "{count} of {total} wanted permit pages {outcome} ({share}; expected at most {bound})"
        ).format(**values)
    if kind == "min":
        return _(
            "{count} of {total} permit pages asked {outcome} ({share}; expected at least {bound})"
        ).format(**values)
    return _(
        "{count} of {total} permit pages asked {outcome} ({share}; expected at most {bound})"
    ).format(**values)


def coverage_too_low(key: str, count: int, pages: int, minimum: float) -> str:
    return _(
        "{key} is on {count} of {pages} pages with data ({share}; expected at least {minimum})"
    ).format(
        key=key,
        count=count,
        pages=pages,
        share=percent(count / pages, 1),
        minimum=percent(minimum),
    )


def checks_failed(problems) -> str:
    return _("The harvest's checks failed: {problems}").format(problems="; ".join(problems))


def no_new_permit_since(last, weeks: int) -> str:
    return _(
        "no new permit since {day} (more than {weeks} weeks): is the layer still updated?"
    ).format(day=f"{last:%Y-%m-%d}", weeks=weeks)


def not_written(error: OSError) -> str:
    return _(
        "The harvest could not be written to the data folder: {error}. No file in it is"
        " half-written (tramites.jsonl.partial keeps this run's features); fix the cause"
        " and run again"
    ).format(error=error)


def stopped_asking(why: str) -> str:
    return _("The crawl stops asking for permit pages: {why}").format(why=why)


# The spider's lines.


def lat_lon_order() -> str:
    return _("The WFS server writes coordinates in lat,lon order; stored as they are meant")


def no_count(why: str) -> str:
    return _("No count from the WFS server ({why}); paging from the first page").format(why=why)


def paging_repeats(start_index: int) -> str:
    return _(
        "WFS page at startIndex={start_index} repeats features already received; paging"
        " stops there (the server may not support startIndex)"
    ).format(start_index=start_index)


def wfs_parameter_rejected(query, error: Exception) -> str:
    if query.cql_filter:
        return _(
            "The WFS server rejected CQL_FILTER ({error}); filtering on our side instead"
        ).format(error=error)
    return _(
        "The WFS server rejected sortBy={sort_by} ({error}); paging without a stable order"
    ).format(sort_by=query.sort_by, error=error)


def wfs_page_failed(start_index: int, reason: str) -> str:
    return _("WFS page at startIndex={start_index} failed after retries: {reason}").format(
        start_index=start_index, reason=reason
    )


def another_pass(received: int, expected: int, number: int, passes: int) -> str:
    return _(
        "Received {received} of {expected} features; paging the layer again"
        " (pass {number} of {passes})"
    ).format(received=received, expected=expected, number=number, passes=passes)


def forbidden(what: str, error: BaseException) -> str:
    """One line for a person when robots.txt forbade a request (the error names the rule;
    `what` is one of the phrases above)."""
    return _(
        "{rule} forbids {what} to crawlers. The crawl obeys it;"
        " -s ROBOTSTXT_OBEY=False is only for those who have the municipality's leave"
    ).format(rule=error, what=_(what))
