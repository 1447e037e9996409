"""Noticing that the WFS layer changed: properties renamed or gone. Pure logic: the
municipality announces no change, and a crawl of a changed layer must stop, saying what."""

import hashlib
from collections.abc import Iterable, Mapping

import orjson

from lapaz.i18n import _
from lapaz.records.schema import TRAMITE_PROPERTIES
from lapaz.records.tramite import field_key

# The record keys the crawl needs of a feature to ask for its page.
NEEDED_KEYS = {
    "codigo_catastral": "codigoCatastral",
    "numero_tramite": "NumeroTramite",
    "fecha_registro": "fechaRegistro",
    "resultado": "resultado",
}


_KNOWN_KEYS = frozenset(TRAMITE_PROPERTIES.values())


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
    now = ", ".join(sorted(names, key=str.lower)) or _("no properties at all")
    if not has_known:
        what = _("its features carry none of the {count} known properties").format(
            count=len(TRAMITE_PROPERTIES)
        )
    else:
        needed = ", ".join(NEEDED_KEYS[key] for key in NEEDED_KEYS if key in missing)
        what = _("{lacking} of its {count} features lack {needed}").format(
            lacking=lacking, count=len(features), needed=needed
        )
    return _(
        "The WFS layer's properties seem to have changed: {what}. The layer now has: {now}."
        " The crawl stops; tramites.jsonl keeps the last complete harvest."
    ).format(what=what, now=now)


# JSON type of a property's value, as the layer's fingerprint names it.
_JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def note_property_types(properties: Mapping[str, object], types: dict[str, set[str]]) -> None:
    """Add a feature's property names, and the JSON types of their non-null values."""
    for name, value in properties.items():
        seen = types.setdefault(name, set())
        if value is not None:
            seen.add(_JSON_TYPES.get(type(value), "object"))


def fingerprint_changes(
    before: Mapping[str, Iterable[str]], now: Mapping[str, Iterable[str]]
) -> list[str]:
    """What changed in the layer's properties, in words: names gone or added, and values
    of a type never seen before (a property always null on one side says nothing)."""
    gone = sorted(before.keys() - now.keys(), key=str.lower)
    added = sorted(now.keys() - before.keys(), key=str.lower)
    changes = [f"{name} is gone" for name in gone] + [f"{name} is new" for name in added]
    for name in sorted(before.keys() & now.keys(), key=str.lower):
        old, new = set(before[name]), set(now[name])
        if old and new and old.isdisjoint(new):
            changes.append(f"{name} was {'/'.join(sorted(old))}, now {'/'.join(sorted(new))}")
    return changes


def fingerprint_digest(fingerprint: Mapping[str, Iterable[str]]) -> str | None:
    """A short digest of the layer's fingerprint (the run history's `capa_huella`): equal
    names and types, equal digests; None before any feature came."""
    if not fingerprint:
        return None
    canonical = {name: sorted(types) for name, types in fingerprint.items()}
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
