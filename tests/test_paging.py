"""Paging plans: a server's answer in, the next requests out."""

import pytest

from lapaz.layer.paging import LayerPaging, Opening, PageRequest, plan


def pairs(pages):
    return [(page.start_index, page.count, page.planned) for page in pages]


def test_plan_covers_the_range_in_steps():
    assert pairs(plan(0, 12001, 5000)) == [
        (0, 5000, True),
        (5000, 5000, True),
        (10000, 2001, True),
    ]
    assert plan(0, 0, 5000) == []


@pytest.mark.parametrize(
    ("limit", "matched", "expected"),
    [
        # a known total: every page at once
        (None, 13907, [(0, 5000, True), (5000, 5000, True), (10000, 3907, True)]),
        # the limit caps the plan
        (7000, 13907, [(0, 5000, True), (5000, 2000, True)]),
        (10, 13907, [(0, 10, True)]),
        # no total: the first page alone, a step into a layer of unknown size
        (None, None, [(0, 5000, False)]),
        (10, None, [(0, 10, False)]),
        # an empty layer: nothing to ask
        (None, 0, []),
    ],
)
def test_start(limit, matched, expected):
    assert pairs(LayerPaging(5000, limit).start(matched)) == expected


@pytest.mark.parametrize(
    ("asked", "returned", "matched", "limit", "expected"),
    [
        # a planned page that came back whole needs nothing more
        (PageRequest(5000, 5000, True), 5000, 13907, None, []),
        # a planned page cut short by a server cap: the rest at the server's size, at once
        (
            PageRequest(0, 5000, True),
            1000,
            13907,
            None,
            [(1000, 1000, True), (2000, 1000, True), (3000, 1000, True), (4000, 1000, True)],
        ),
        # a planned page that came back empty (the layer shrank): nothing to chase
        (PageRequest(10000, 3907, True), 0, 9000, None, []),
        # the first page gives the total: the rest at once, stepping by what came back
        (PageRequest(0, 5000), 5000, 13907, None, [(5000, 5000, True), (10000, 3907, True)]),
        (PageRequest(0, 5000), 1000, 3500, None, [(1000, 1000, True), (2000, 1000, True),
                                                  (3000, 500, True)]),
        # ... and the limit caps it
        (PageRequest(0, 5000), 1000, 3500, 2500, [(1000, 1000, True), (2000, 500, True)]),
        # everything came on the first page
        (PageRequest(0, 5000), 120, 120, None, []),
        # no total: a short page is not the end, the next one follows
        (PageRequest(0, 5000), 1000, None, None, [(1000, 5000, False)]),
        (PageRequest(0, 30), 10, None, 30, [(10, 20, False)]),
        # ... an empty page is, and so is the limit
        (PageRequest(3000, 5000), 0, None, None, []),
        (PageRequest(0, 30), 30, None, 30, []),
        # a server that gives its total only on the last page (MapServer)
        (PageRequest(2000, 1000), 942, 2942, None, []),
    ],
)  # fmt: skip
def test_after(asked, returned, matched, limit, expected):
    assert pairs(LayerPaging(5000, limit).after(asked, returned, matched)) == expected


def test_expected_is_the_total_within_the_limit():
    assert LayerPaging(5000).expected(13907) == 13907
    assert LayerPaging(5000, 100).expected(13907) == 100
    assert LayerPaging(5000, 100).expected(None) is None


def test_only_the_last_page_of_a_plan_closes_it():
    pages = LayerPaging(5000).start(12001)
    assert [page.closes_plan for page in pages] == [False, False, True]
    # a gap planned after a capped page keeps what it covers: the end of the plan or not
    capped_last = LayerPaging(5000).after(pages[-1], 1000, None)
    assert [page.closes_plan for page in capped_last] == [False, True]
    capped_first = LayerPaging(5000).after(pages[0], 1000, None)
    assert not any(page.closes_plan for page in capped_first)


@pytest.mark.parametrize(
    ("limit", "expected"),
    [
        # a full last page: the count may be short of the layer (MapServer caps its hits
        # at wfs_maxfeatures), so the layer is followed on until a page comes back empty
        (None, [(150, 5000, False)]),
        # ... unless the limit is reached
        (150, []),
    ],
)
def test_a_full_last_page_looks_beyond_the_count(limit, expected):
    paging = LayerPaging(5000, limit)
    (last,) = paging.start(150)
    assert pairs(paging.after(last, 150, None)) == expected
    assert pairs(paging.after(PageRequest(150, 5000), 0, None)) == []


def play(opening: Opening, events) -> list[list[tuple]]:
    """Each event's requests: ("count", number_matched) or ("first", returned, matched)."""
    outputs = []
    for kind, *values in events:
        if kind == "count":
            outputs.append(pairs(opening.counted(*values)))
        else:
            outputs.append(pairs(opening.after(opening.first, *values)))
    return outputs


@pytest.mark.parametrize(
    ("limit", "events", "expected"),
    [
        # the count first: the rest of the layer at once, then the first page needs nothing
        (None, [("count", 13907), ("first", 5000, None)],
         [[(5000, 5000, True), (10000, 3907, True)], []]),
        # the first page first, without a total: it waits for the count
        (None, [("first", 5000, None), ("count", 13907)],
         [[], [(5000, 5000, True), (10000, 3907, True)]]),
        # the limit caps the plan, and the first page alone may be all of it
        (7000, [("count", 13907), ("first", 5000, None)], [[(5000, 2000, True)], []]),
        (10, [("count", 13907), ("first", 10, None)], [[], []]),
        # a server that caps its pages: the gap under the first page, at the server's size
        (None, [("count", 7000), ("first", 2000, None)],
         [[(5000, 2000, True)], [(2000, 2000, True), (4000, 1000, True)]]),
        (None, [("first", 2000, None), ("count", 7000)],
         [[], [(5000, 2000, True), (2000, 2000, True), (4000, 1000, True)]]),
        # a count within the first page, which comes back full: the count may be capped
        # (MapServer's wfs_maxfeatures), so the layer is followed on beyond it
        (None, [("count", 150), ("first", 150, None)], [[], [(150, 5000, False)]]),
        (None, [("first", 150, None), ("count", 150)], [[], [(150, 5000, False)]]),
        (150, [("count", 150), ("first", 150, None)], [[], []]),
        (None, [("count", 120), ("first", 120, None)], [[], [(120, 5000, False)]]),
        # ... and which comes back short of it: the server caps pages
        (None, [("count", 3000), ("first", 2000, None)], [[], [(2000, 1000, True)]]),
        # an empty layer, and a first page that came back empty while the count says more
        (None, [("count", 0), ("first", 0, None)], [[], []]),
        (None, [("first", 0, None), ("count", 7000)], [[], [(5000, 2000, True)]]),
        # no count (failed, capped at nothing, said "unknown"): paging on as without one
        (None, [("count", None), ("first", 5000, None)], [[], [(5000, 5000, False)]]),
        (None, [("first", 1000, None), ("count", None)], [[], [(1000, 5000, False)]]),
        (None, [("first", 0, None), ("count", None)], [[], []]),
        (30, [("count", None), ("first", 10, None)], [[], [(10, 20, False)]]),
        # no count, but the first page carries the total
        (None, [("count", None), ("first", 5000, 7000)], [[], [(5000, 2000, True)]]),
        # the first page carries the total before the count comes: planned from it, and
        # the count adds nothing (GeoServer gives numberMatched on every page)
        (None, [("first", 5000, 13907), ("count", 13907)],
         [[(5000, 5000, True), (10000, 3907, True)], []]),
        (None, [("first", 1000, 3500), ("count", 3500)],
         [[(1000, 1000, True), (2000, 1000, True), (3000, 500, True)], []]),
        # a total on the first page that comes after the count: the count's plan holds
        (None, [("count", 13907), ("first", 5000, 13907)],
         [[(5000, 5000, True), (10000, 3907, True)], []]),
    ],
)  # fmt: skip
def test_the_count_and_the_first_page_at_once(limit, events, expected):
    opening = Opening(LayerPaging(5000, limit))
    assert (opening.first.start_index, opening.first.count) == (0, min(5000, limit or 5000))
    assert not opening.first.planned
    assert play(opening, events) == expected


def test_the_count_comes_once():
    opening = Opening(LayerPaging(5000))
    assert pairs(opening.counted(7000)) == [(5000, 2000, True)]
    assert opening.counted(7000) == []


def test_only_the_opening_page_waits_for_the_count():
    opening = Opening(LayerPaging(5000))
    # a page of a later pass, or of a plan, is paged as LayerPaging pages it
    assert pairs(opening.after(PageRequest(0, 5000), 1000, None)) == [(1000, 5000, False)]
    assert pairs(opening.after(PageRequest(5000, 5000, True), 1000, None)) == [
        (6000, 1000, True),
        (7000, 1000, True),
        (8000, 1000, True),
        (9000, 1000, True),
    ]


def test_without_asking_the_count_the_first_page_pages_on():
    opening = Opening(LayerPaging(5000), counting=False)
    assert pairs(opening.after(opening.first, 5000, None)) == [(5000, 5000, False)]
    assert pairs(opening.after(opening.first, 5000, 6000)) == [(5000, 1000, True)]
