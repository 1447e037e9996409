"""The layer's shape: which properties its features carry, and of which JSON types.

Kept in the run history (lapaz.storage.runs) as a map and a short fingerprint, so that a
layer that changed between two runs (a property renamed, gone, added, or served as text
where it was a number) shows as a different fingerprint, and the maps say what changed.
Types are those of JSON (`string`, `number`, `boolean`, `object`, `array`), integers and
decimals alike `number`; a property null in every feature is `null`.
"""

import hashlib
from collections.abc import Iterable, Mapping

import orjson

NULL = "null"
_KINDS = ((bool, "boolean"), (int | float, "number"), (str, "string"), (dict, "object"))


def json_kind(value: object) -> str:
    """The JSON type of a decoded value (bool before number: a bool is an int)."""
    if value is None:
        return NULL
    for python_type, kind in _KINDS:
        if isinstance(value, python_type):
            return kind
    return "array"


class LayerShape:
    """The property names and types seen in a harvest's features, page after page."""

    def __init__(self) -> None:
        self._kinds: dict[str, set[str]] = {}

    def add(self, features: Iterable[Mapping]) -> None:
        for feature in features:
            for name, value in (feature.get("properties") or {}).items():
                self._kinds.setdefault(name, set()).add(json_kind(value))

    def properties(self) -> dict[str, str] | None:
        """name -> its types (`number|string` when it came as both), names sorted; None
        before any feature came."""
        if not self._kinds:
            return None
        return {name: _kind_text(kinds) for name, kinds in sorted(self._kinds.items())}


def _kind_text(kinds: set[str]) -> str:
    seen = kinds - {NULL}
    return "|".join(sorted(seen)) if seen else NULL


def layer_fingerprint(properties: Mapping[str, str] | None) -> str | None:
    """A short digest of the names and types: equal layers, equal fingerprints."""
    if properties is None:
        return None
    canonical = orjson.dumps(dict(properties), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:16]
