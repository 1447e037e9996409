"""Noticing that the site changed: pages that no longer look like permit pages, a layer
whose properties were renamed. Pure logic, fed by the spider; neither is announced by
the municipality, and asking thousands of pages of a changed site helps nobody.
"""

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lapaz.records import field_key
from lapaz.schema import TRAMITE_PROPERTIES

# The record keys the crawl needs of a feature to ask for its page.
NEEDED_KEYS = {
    "codigo_catastral": "codigoCatastral",
    "numero_tramite": "NumeroTramite",
    "fecha_registro": "fechaRegistro",
    "resultado": "resultado",
}
_KNOWN_KEYS = frozenset(TRAMITE_PROPERTIES.values())


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
            return f"{self._in_a_row} pages in a row came without any of their sections"
        drifted = sum(self._recent)
        return f"{drifted} of the last {len(self._recent)} pages came without any of their sections"


def drift_line(why: str, headings: list[str], sample: str | None) -> str:
    """The one line a person reads when the crawl stops asking for pages."""
    found = "; ".join(f'"{heading}"' for heading in headings) if headings else "none"
    where = f"saved in {sample}" if sample else "could not be saved"
    return (
        f"The site's page layout seems to have changed: {why} (no 'Datos Generales',"
        f" 'Parámetros de Construcción' or 'Otros datos' table, and not the refusal page)."
        f" Headings found on a sample page: {found}; the sample is {where}."
        " No more permit pages are asked for; those left are recorded as no_solicitada."
    )


def _record_keys(properties: Mapping[str, object]) -> set[str]:
    return {field_key(name) for name in properties}


def layer_problem(features: Iterable[Mapping]) -> str | None:
    """What is wrong with a WFS page's properties, in one line, or None when they look right.

    Wrong: most features lack a property the crawl needs, or no feature carries any of the
    known properties. Names are compared as `lapaz.records.field_key` reads them (any case,
    or already snake-cased), so a server that only spells them differently is fine.
    """
    features = list(features)
    if not features:
        return None
    names: set[str] = set()
    lacking = 0
    missing: set[str] = set()
    for feature in features:
        properties = feature.get("properties") or {}
        names.update(properties)
        absent = NEEDED_KEYS.keys() - _record_keys(properties)
        if absent:
            lacking += 1
            missing |= absent
    has_known = bool(_record_keys(dict.fromkeys(names)) & _KNOWN_KEYS)
    if has_known and lacking * 2 <= len(features):
        return None
    now = ", ".join(sorted(names, key=str.lower)) or "no properties at all"
    if not has_known:
        what = f"its features carry none of the {len(TRAMITE_PROPERTIES)} known properties"
    else:
        needed = ", ".join(NEEDED_KEYS[key] for key in NEEDED_KEYS if key in missing)
        what = f"{lacking} of its {len(features)} features lack {needed}"
    return (
        f"The WFS layer's properties seem to have changed: {what}. The layer now has: {now}."
        " The crawl stops; tramites.jsonl keeps the last complete harvest."
    )
