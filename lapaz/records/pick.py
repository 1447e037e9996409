"""Which of a permit's page records stands: a finished page over a failed one, one per page."""

from lapaz.records.schema import PageOutcome


def page_is_done(record: dict) -> bool:
    """A page that answered (with data or with the site's refusal) is not asked again."""
    return bool(record.get("identificador")) and PageOutcome.of_error(record.get("error")).finished


def one_record_per_page(records: list[dict]) -> list[dict]:
    """One record per page, in file order: its last finished one, else its last (a page
    that failed again keeps the latest reason). Records that name no page stay."""
    chosen: dict[object, dict] = {}
    for record in records:
        key = record_key("detalles", record)
        if key is None:
            continue
        if page_is_done(record) or not page_is_done(chosen.get(key, {})):
            chosen[key] = record
    return [r for r in records if chosen.get(record_key("detalles", r), r) is r]


def keep_replaced_pages(records: list[dict], replaced: set) -> list[dict]:
    """The records, with one for each permit in `replaced` (its page asked again because
    its record changed): its last finished one, else its last (a failed refetch leaves
    the page fetched before)."""
    chosen: dict[object, dict] = {}
    for record in records:
        permit = record.get("id_pc_tramite")
        if permit not in replaced:
            continue
        if page_is_done(record) or not page_is_done(chosen.get(permit, {})):
            chosen[permit] = record
    return [r for r in records if chosen.get(r.get("id_pc_tramite"), r) is r]


def record_key(kind: str, record: dict) -> object:
    """What makes a record the same as another; None (never a duplicate) when unknown."""
    if kind == "tramites":
        return record.get("id_pc_tramite")
    if record.get("identificador"):
        return record["identificador"]
    permit = record.get("id_pc_tramite")
    return None if permit is None else ("id_pc_tramite", permit)
