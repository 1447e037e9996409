"""Comparing two harvests of the layer, record by record: what is new, removed or changed.

Records are matched on `id_pc_tramite` (a record without one cannot be matched and is left
out) and compared in their normalised form (see `normalised`), so that a value written
differently is no change. A record's fingerprint says whether its permit page is stale.
"""

import hashlib
import math
from collections.abc import Iterable, Mapping

import orjson

from lapaz.records.schema import TRAMITE_FIELDS, TRAMITE_PROVENANCE_FIELDS

KEY = "id_pc_tramite"


NEW, REMOVED, MODIFIED = "nuevo", "retirado", "modificado"


# Floats are compared to this many significant digits: enough for coordinates to 7
# decimals (~1 cm) and surfaces to the cent, while the last digits a server's float
# formatting adds (354.04 vs 354.04000000000002) make no change.
SIGNIFICANT_DIGITS = 10


_FIELD_ORDER = {name: position for position, name in enumerate(TRAMITE_FIELDS)}


def normalised_value(value: object) -> object:
    """The comparison form of one value.

    Blank text is None (a server that writes null text as "" says the same); other text is
    stripped; whole numbers are ints (3 == 3.0); other floats keep SIGNIFICANT_DIGITS.
    Text is never read as a number: codes are text on purpose ("044..." is not 44).
    """
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        if value.is_integer():
            return int(value)
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, list | tuple):
        return [normalised_value(item) for item in value]
    if isinstance(value, Mapping):
        return {key: normalised_value(item) for key, item in value.items()}
    return value


def normalised(record: Mapping[str, object]) -> dict[str, object]:
    """The comparison form of a tramites record: normalised values, null fields left out
    (a field missing and a field null are the same), keys sorted (order means nothing).

    When it was fetched (`fecha_consulta`) says nothing of the permit: left out too.
    """
    values = (
        (key, normalised_value(value))
        for key, value in record.items()
        if key not in TRAMITE_PROVENANCE_FIELDS
    )
    return dict(sorted((key, value) for key, value in values if value is not None))


def record_fingerprint(record: Mapping[str, object]) -> bytes:
    """A short digest of the normalised record: equal records, equal fingerprints."""
    encoded = orjson.dumps(normalised(record), option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(encoded, digest_size=16).digest()


def _by_id(records: Iterable[Mapping[str, object]]) -> dict[object, Mapping[str, object]]:
    return {record[KEY]: record for record in records if record.get(KEY) is not None}


def id_order(key: object) -> tuple:
    """Sort key of ids: ints in order, then anything else a server might send, as text."""
    return (0, key, "") if isinstance(key, int) else (1, 0, str(key))


def _field_order(name: str) -> tuple:
    return (_FIELD_ORDER.get(name, len(_FIELD_ORDER)), name)


def _line(cosecha: str, key: object, tipo: str, campo=None, antes=None, despues=None) -> dict:
    return {
        "cosecha": cosecha,
        KEY: key,
        "tipo": tipo,
        "campo": campo,
        "antes": antes,
        "despues": despues,
    }


def record_changes(
    before: Mapping[str, object], after: Mapping[str, object]
) -> list[tuple[str, object, object]]:
    """(field, value before, value after) for each field whose normalised value differs,
    in the schema's field order; values as the records hold them (None when missing)."""
    old, new = normalised(before), normalised(after)
    names = sorted(old.keys() | new.keys(), key=_field_order)
    return [
        (name, before.get(name), after.get(name))
        for name in names
        if old.get(name) != new.get(name)
    ]


def changes(
    previous: Iterable[Mapping[str, object]],
    current: Iterable[Mapping[str, object]],
    cosecha: str,
) -> list[dict]:
    """The change-log lines from the `previous` harvest to the `current` one, ordered by
    id_pc_tramite, then by field."""
    old, new = _by_id(previous), _by_id(current)
    lines = []
    for key in sorted(old.keys() | new.keys(), key=id_order):
        if key not in old:
            lines.append(_line(cosecha, key, NEW))
        elif key not in new:
            lines.append(_line(cosecha, key, REMOVED))
        else:
            lines += [
                _line(cosecha, key, MODIFIED, name, before, after)
                for name, before, after in record_changes(old[key], new[key])
            ]
    return lines


def page_fingerprints(previous: Iterable[Mapping[str, object]]) -> dict[object, bytes]:
    """id_pc_tramite -> fingerprint of each record of the previous complete harvest
    (`tramites.jsonl` before this crawl replaces it)."""
    return {key: record_fingerprint(record) for key, record in _by_id(previous).items()}


def needs_new_page(previous_fingerprint: bytes | None, record: Mapping[str, object]) -> bool:
    """Whether a page fetched for the permit's previous record is stale: its record changed
    since the previous complete harvest (a permit newly APROBADO included). A permit the
    previous harvest did not have has no stale page (it gets one as any page it lacks)."""
    return previous_fingerprint is not None and record_fingerprint(record) != previous_fingerprint
