"""WFS paging, declared: where the total is, the offset and limit parameters, a plan.

The layer is paged with `startIndex` (the offset) and `count` (the limit); the total is
the server's `numberMatched`, from the count request or from any page that carries it.
With a total, every page is planned at once; without one, the layer is followed page by
page until a page comes back empty. The plan always advances by what the server actually
returned: a server may cap `count` below what was asked (GeoServer's maxFeatures,
MapServer's wfs_maxfeatures), and a short page is not the end of the layer.

A count is not trusted to be the end either: MapServer caps the count of `resultType=hits`
at its wfs_maxfeatures, and a layer may grow while it is paged. So when the last page of
a plan comes back full, the layer is followed on from there until a page comes back empty
(one small request more on a layer that was counted right).

The count need not hold back the first page: `Opening` asks both at once and plans the
rest of the layer when the count comes.
"""

from dataclasses import dataclass, replace

OFFSET_PARAMETER = "startIndex"
LIMIT_PARAMETER = "count"


@dataclass(frozen=True)
class PageRequest:
    start_index: int
    count: int
    # One of a plan drawn from a known total, as opposed to a step into a layer of
    # unknown size.
    planned: bool = False
    # The last page of its plan: the one that, full, calls for a look beyond the total.
    closes_plan: bool = False
    # The first page, asked beside the count: what follows it may wait for the count.
    opening: bool = False


def plan(start: int, end: int, step: int, closes: bool = True) -> list[PageRequest]:
    """Pages covering [start, end), `step` features each (the last one what is left).

    closes: [start, end) runs to the end of the layer as counted.
    """
    offsets = range(start, end, step)
    return [
        PageRequest(
            offset,
            min(step, end - offset),
            planned=True,
            closes_plan=closes and offset == offsets[-1],
        )
        for offset in offsets
    ]


@dataclass(frozen=True)
class LayerPaging:
    page_size: int
    # The most features to harvest (`-a limite`), or None for the whole layer.
    limit: int | None = None

    def expected(self, number_matched: int | None) -> int | None:
        """How many features a complete harvest has, as far as is known."""
        if number_matched is None or self.limit is None:
            return number_matched
        return min(number_matched, self.limit)

    def start(self, number_matched: int | None) -> list[PageRequest]:
        """The first requests: the whole plan with a total, else the first page alone."""
        total = self.expected(number_matched)
        if total is None:
            return [self._step_from(0)]
        return plan(0, total, self.page_size)

    def after(
        self, asked: PageRequest, returned: int, number_matched: int | None
    ) -> list[PageRequest]:
        """What a page that came back with `returned` features calls for next."""
        end = asked.start_index + returned
        if asked.planned:
            # Short of what was asked: the server caps pages; plan the rest at its size.
            if 0 < returned < asked.count:
                return plan(end, asked.start_index + asked.count, returned, asked.closes_plan)
            # The whole plan came back full: the count may fall short of the layer.
            if asked.closes_plan and returned and not self._limit_reached(end):
                return [self._step_from(end)]
            return []
        if returned == 0:
            return []
        total = self.expected(number_matched)
        if total is not None:
            return plan(end, total, returned)
        if self._limit_reached(end):
            return []
        return [self._step_from(end)]

    def _limit_reached(self, end: int) -> bool:
        return self.limit is not None and end >= self.limit

    def _step_from(self, offset: int) -> PageRequest:
        count = self.page_size if self.limit is None else min(self.page_size, self.limit - offset)
        return PageRequest(offset, count, planned=False)


class Opening:
    """The count and the first page of the layer, asked at once.

    When the count comes, the rest of the layer beyond the first page is planned at once.
    What the first page itself calls for (the gap under a server's cap, a look beyond a
    count that may be capped) is decided as for the first page of that plan, so it waits
    for the count; unless the page carries the total itself (GeoServer's numberMatched),
    then the rest is planned from it and the count adds no request. Without a count (it
    failed, said none, or was not asked) the layer is paged on from the first page, as
    `LayerPaging.after` does for a layer of unknown size.
    """

    def __init__(self, paging: LayerPaging, counting: bool = True):
        self.paging = paging
        self.first = replace(paging.start(None)[0], opening=True)
        # The count answered (or failed, or was not asked) ...
        self._counted = not counting
        self._total: int | None = None
        # ... the first page answered while it was awaited: how many it returned ...
        self._waiting: int | None = None
        # ... or the first page planned the rest from its own total.
        self._settled = False

    def counted(self, number_matched: int | None) -> list[PageRequest]:
        """What the count's answer calls for (None: no count); once."""
        if self._counted:
            return []
        self._counted, self._total = True, self.paging.expected(number_matched)
        if self._settled:
            return []
        step = self.paging.page_size
        pages = [] if self._total is None else plan(self.first.count, self._total, step)
        if self._waiting is not None:
            pages += self._after_first(self._waiting, None)
        return pages

    def after(
        self, asked: PageRequest, returned: int, number_matched: int | None
    ) -> list[PageRequest]:
        """What a page that came back with `returned` features calls for next."""
        if not asked.opening:
            return self.paging.after(asked, returned, number_matched)
        if self._counted:
            return self._after_first(returned, number_matched)
        if number_matched is not None:
            self._settled = True
            return self.paging.after(replace(asked, opening=False), returned, number_matched)
        self._waiting = returned
        return []

    def _after_first(self, returned: int, number_matched: int | None) -> list[PageRequest]:
        total = self._total
        if total is None:
            return self.paging.after(replace(self.first, opening=False), returned, number_matched)
        # The first page as the first of the count's plan (which ends with it when the
        # count is within one page).
        as_planned = PageRequest(
            0, min(self.first.count, total), planned=True, closes_plan=total <= self.first.count
        )
        return self.paging.after(as_planned, returned, number_matched)
