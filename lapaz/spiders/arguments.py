"""The spider's arguments (`-a name=value`), checked before anything is asked of the site."""

import difflib
from dataclasses import dataclass

from lapaz.i18n import _
from lapaz.layer.filters import Filters
from lapaz.records.schema import DEFAULT_RESULTS

ALL_RESULTS = "todos"
FULL_REFRESH = "completo"
KNOWN_ARGUMENTS = ("resultado", "limite", "refresco", "desde", "hasta", "macrodistrito")


def _positive_int(name: str, value) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ValueError(
            _("-a {name}={value!r}: expected a whole number of at least 1").format(
                name=name, value=value
            )
        )
    return number


def _refuse_unknown(names) -> None:
    # Arguments starting with "_" are the scheduler's own (Scrapyd's `_job`).
    unknown = [name for name in names if not name.startswith("_")]
    if not unknown:
        return
    name = unknown[0]
    close = difflib.get_close_matches(name, KNOWN_ARGUMENTS, n=1)
    hint = _(" (did you mean -a {name}?)").format(name=close[0]) if close else ""
    raise ValueError(
        _("-a {name}: unknown argument{hint}; the spider takes {known}").format(
            name=name, hint=hint, known=", ".join(KNOWN_ARGUMENTS)
        )
    )


@dataclass(frozen=True)
class CrawlArguments:
    # The `resultado` values whose permits get their page; None for every permit.
    wanted_results: frozenset[str] | None
    limit: int | None
    full_refresh: bool
    filters: Filters

    @classmethod
    def parse(
        cls,
        resultado=DEFAULT_RESULTS,
        limite=None,
        refresco=None,
        desde=None,
        hasta=None,
        macrodistrito=None,
        **others,
    ) -> "CrawlArguments":
        """Raise ValueError, with a one-line message, for an argument that makes no sense."""
        _refuse_unknown(others)
        wanted = {value.strip().upper() for value in str(resultado).split(",") if value.strip()}
        if not wanted:
            raise ValueError(_("-a resultado: give one or more values, or 'todos'"))
        if refresco not in (None, "", FULL_REFRESH):
            raise ValueError(
                _("-a refresco={value!r}: the only value is {only!r}").format(
                    value=refresco, only=FULL_REFRESH
                )
            )
        return cls(
            wanted_results=None if wanted == {ALL_RESULTS.upper()} else frozenset(wanted),
            limit=_positive_int("limite", limite),
            full_refresh=refresco == FULL_REFRESH,
            filters=Filters.from_arguments(desde, hasta, macrodistrito),
        )

    @property
    def only_default_results(self) -> bool:
        """Only approved permits' pages are wanted (the site refuses the others' pages)."""
        return self.wanted_results == {DEFAULT_RESULTS}

    def wants_page(self, resultado: str | None) -> bool:
        return self.wanted_results is None or resultado in self.wanted_results
