"""From what a WFS server sent to the record users get: keys and value types.

WFS servers differ: GeoServer sends numbers as numbers, others send every property as
text, write a null text as "" or leave a null property out. Every record comes out the
same: all of TRAMITE_FIELDS, whole numbers as int, codes as text with leading zeros.
"""

from collections.abc import Mapping
from functools import lru_cache

from lapaz.records.keys import snake_case
from lapaz.records.schema import (
    TRAMITE_FIELDS,
    TRAMITE_PROPERTIES,
)
from lapaz.records.values import coerce_value

_KEY_BY_LOWER_NAME = {name.lower(): key for name, key in TRAMITE_PROPERTIES.items()}
_KEY_BY_LOWER_NAME.update({key: key for key in TRAMITE_FIELDS})


@lru_cache(maxsize=1024)
def field_key(name: str) -> str:
    """The record key of a server property, whatever case the server spells it in.
    (The same few dozen names on every feature: worked out once each.)"""
    return _KEY_BY_LOWER_NAME.get(name.lower()) or snake_case(name)


def tramite_record(raw: Mapping[str, object]) -> dict[str, object]:
    """A feature's properties (plus latitude/longitude) as a complete, typed record.

    Properties the schema does not know are kept, snake-cased, after the known ones.
    """
    record: dict[str, object] = dict.fromkeys(TRAMITE_FIELDS)
    for name, value in raw.items():
        key = field_key(name)
        record[key] = value if key in ("latitude", "longitude") else coerce_value(key, value)
    return record
