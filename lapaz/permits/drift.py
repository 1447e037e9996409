"""Noticing that the permit pages changed: pages that no longer look like permit pages.
Pure logic, fed by the crawl; no change is announced by the municipality, and asking
thousands of pages of a changed site helps nobody. (The layer's guard: lapaz.layer.guard.)
"""

from collections import deque
from dataclasses import dataclass, field

from lapaz.i18n import _


@dataclass
class PageDriftGuard:
    """Fed the outcome of every permit page answered with HTTP 200, in order.

    `drifted` is True for a page that is neither a permit page (no section found) nor
    the site's refusal page. The guard says to stop after `run` such answers in a row,
    or when more than `share` of the last `window` answers were such.
    """

    run: int = 20
    window: int = 50
    share: float = 0.5
    _recent: deque = field(default_factory=deque, init=False, repr=False)
    _in_a_row: int = field(default=0, init=False)
    seen: int = field(default=0, init=False)
    drifted_seen: int = field(default=0, init=False)

    def feed(self, drifted: bool) -> None:
        self.seen += 1
        self.drifted_seen += drifted
        self._in_a_row = self._in_a_row + 1 if drifted else 0
        self._recent.append(drifted)
        if len(self._recent) > self.window:
            self._recent.popleft()

    @property
    def recent_share(self) -> float:
        return sum(self._recent) / len(self._recent) if self._recent else 0.0

    @property
    def should_stop(self) -> bool:
        if self._in_a_row >= self.run:
            return True
        # A share means little over a handful of answers: only once the window is full.
        return len(self._recent) >= self.window and self.recent_share > self.share

    def may_retry(self) -> bool:
        """Whether the page just fed as drifted may be asked once more, now.

        A lone one may (a hiccup of the server); once a second one shows among the recent
        answers, the site may have changed, and retrying now would double the requests of
        a site that no longer answers what we ask: such retries wait until `settled`.
        """
        return sum(self._recent) <= 1 and not self.should_stop

    @property
    def settled(self) -> bool:
        """A full window of answers without reason to stop: retries no longer risk much."""
        return len(self._recent) >= self.window and not self.should_stop

    def describe(self) -> str:
        """Why it stops, in words."""
        if self._in_a_row >= self.run:
            return _("{count} pages in a row came without any of their sections").format(
                count=self._in_a_row
            )
        return _("{count} of the last {window} pages came without any of their sections").format(
            count=sum(self._recent), window=len(self._recent)
        )


def drift_line(why: str, headings: list[str], sample: str | None) -> str:
    """The one line a person reads when the crawl stops asking for pages."""
    found = "; ".join(f'"{heading}"' for heading in headings) if headings else _("none")
    where = _("saved in {path}").format(path=sample) if sample else _("could not be saved")
    return _(
        "The site's page layout seems to have changed: {why} (no 'Datos Generales',"
        " 'Parámetros de Construcción' or 'Otros datos' table, and not the refusal page)."
        " Headings found on a sample page: {found}; the sample is {where}."
        " No more permit pages are asked for; those left are recorded as no_solicitada."
    ).format(why=why, found=found, where=where)
