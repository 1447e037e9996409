"""A season of weeks on the replica: the site as it changes between weekly harvests.

Each week permits appear, some get approved, some have their built surface corrected,
some leave the layer; a few approved permits' pages answer HTTP 500 all season long; one
week the server may be down (the caller stops the replica for it). `Season.next_week`
changes the replica and says what changed, as the lines the crawl's change log should get
for it (id_pc_tramite, tipo, campo), worked out here from the changes made, not with the
crawler's code.
"""

from dataclasses import dataclass

from tools.replica.dataset import APROBADO, page_identifier
from tools.replica.faults import Fault

# The day the season's approvals carry.
APPROVAL_DAY = "2026-12-01T14:00:00.000Z"
# What a corrected surface adds, in m².
SURFACE_CORRECTION = 12.5
NEW, REMOVED, MODIFIED = "nuevo", "retirado", "modificado"


@dataclass(frozen=True)
class Week:
    """What happens on the site before a week's harvest."""

    added: int = 0
    approved: int = 0
    resurfaced: int = 0
    removed: int = 0
    # The server is down for the harvest (the caller stops it).
    down: bool = False


# A first harvest; growth with approvals, a corrected surface and removals; a quiet week;
# a week the site changes while the server is down; the catch-up.
SEASON = (
    Week(),
    Week(added=25, approved=3, resurfaced=1, removed=2),
    Week(),
    Week(added=5, approved=1, down=True),
    Week(added=10, resurfaced=1, removed=1),
)


def _id(feature: dict) -> int:
    return feature["properties"]["idPCTramite"]


class Season:
    """Changes `replica` week after week; `failing` pages answer HTTP 500 all season."""

    def __init__(self, replica, failing_pages: int = 2):
        self.replica = replica
        self._touched: set[int] = set()
        failing = self._pick(self._approved_with_page, failing_pages)
        self.failing_pages = tuple(page_identifier(feature) for feature in failing)
        replica.config.faults.append(
            Fault(target="page", kind="status", status=500, keys=self.failing_pages, times=None)
        )

    def _served(self, feature: dict) -> bool:
        identifier = page_identifier(feature)
        return identifier is not None and not self.replica.is_refused(identifier)

    def _approved_with_page(self, feature: dict) -> bool:
        properties = feature["properties"]
        return properties["resultado"] == APROBADO and self._served(feature)

    def _observed_with_page(self, feature: dict) -> bool:
        properties = feature["properties"]
        return properties["resultado"] == "OBSERVADO" and self._served(feature)

    def _with_surface(self, feature: dict) -> bool:
        return self._approved_with_page(feature) and bool(
            feature["properties"]["SuperficieConstruida"]
        )

    def _pick(self, wanted, count: int) -> list[dict]:
        """The first `count` features that are `wanted` and untouched this season."""
        picked = []
        for feature in self.replica.features:
            if len(picked) == count:
                break
            if _id(feature) not in self._touched and wanted(feature):
                picked.append(feature)
                self._touched.add(_id(feature))
        return picked

    def next_week(self, week: Week) -> list[tuple[int, str, str | None]]:
        """Make the week's changes on the site; the change-log lines they call for."""
        replica = self.replica
        lines = []
        approved = self._pick(self._observed_with_page, week.approved)
        replica.approve_features({_id(f) for f in approved}, APPROVAL_DAY)
        for feature in approved:
            lines += [
                (_id(feature), MODIFIED, "resultado"),
                (_id(feature), MODIFIED, "fecha_aprobacion"),
            ]
        resurfaced = self._pick(self._with_surface, week.resurfaced)
        replica.change_features(
            {
                _id(f): {
                    "SuperficieConstruida": f["properties"]["SuperficieConstruida"]
                    + SURFACE_CORRECTION
                }
                for f in resurfaced
            }
        )
        lines += [(_id(f), MODIFIED, "superficie_construida") for f in resurfaced]
        removed = self._pick(self._approved_with_page, week.removed)
        replica.remove_features({_id(f) for f in removed})
        lines += [(_id(f), REMOVED, None) for f in removed]
        added = replica.add_features(week.added) if week.added else []
        self._touched |= {_id(f) for f in added}
        lines += [(_id(f), NEW, None) for f in added]
        return lines
