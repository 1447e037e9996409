"""The spider's filters (`-a desde=`, `-a hasta=`, `-a macrodistrito=`).

They are sent to the server as a CQL_FILTER (GeoServer's vendor parameter), so a small
question costs a small download, and always applied again on our side: servers that do
not know CQL_FILTER ignore it silently.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from lapaz.i18n import _
from lapaz.records.keys import plain_text
from lapaz.records.values import parse_timestamp

MACRODISTRITOS = [
    "I - COTAHUMA",
    "II - MAX PAREDES",
    "III - PERIFERICA",
    "IV - SAN ANTONIO",
    "V - SUR",
    "VI - MALLASA",
    "VII - CENTRO",
    "VIII - HAMPATURI",
    "IX - ZONGO",
]


def _plain(text: str) -> str:
    return plain_text(text).upper()


def parse_day(argument: str, value: str | None) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            _("-a {argument}={value!r}: expected a date as YYYY-MM-DD").format(
                argument=argument, value=value
            )
        ) from None


def resolve_macrodistritos(value: str | None) -> tuple[str, ...]:
    """`sur`, `V`, `v - sur` all name "V - SUR"; several are separated by commas."""
    if value in (None, ""):
        return ()
    names = []
    for wanted in (part for part in value.split(",") if part.strip()):
        plain = _plain(wanted)
        found = [
            name
            for name in MACRODISTRITOS
            if plain in (_plain(name), *(part.strip() for part in _plain(name).split(" - ")))
        ]
        if not found:
            raise ValueError(
                _(
                    "-a macrodistrito={value!r} is not a macro-district;"
                    " one of: {names} (or the name alone, e.g. 'sur')"
                ).format(value=wanted.strip(), names=", ".join(MACRODISTRITOS))
            )
        names.append(found[0])
    return tuple(dict.fromkeys(names))


def _cql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Filters:
    desde: date | None = None
    hasta: date | None = None
    macrodistritos: tuple[str, ...] = ()

    @classmethod
    def from_arguments(cls, desde=None, hasta=None, macrodistrito=None) -> "Filters":
        filters = cls(
            parse_day("desde", desde),
            parse_day("hasta", hasta),
            resolve_macrodistritos(macrodistrito),
        )
        if filters.desde and filters.hasta and filters.desde > filters.hasta:
            raise ValueError(
                _("-a desde={desde} is after -a hasta={hasta}").format(desde=desde, hasta=hasta)
            )
        return filters

    def __bool__(self) -> bool:
        return bool(self.desde or self.hasta or self.macrodistritos)

    def cql(self) -> str | None:
        """The filter as ECQL; None when there is none or it cannot be said in one."""
        conditions = []
        if self.desde:
            conditions.append(f"fechaRegistro >= {_cql_text(self.desde.isoformat())}")
        if self.hasta:
            day_after = (self.hasta + timedelta(days=1)).isoformat()
            conditions.append(f"fechaRegistro < {_cql_text(day_after)}")
        if len(self.macrodistritos) == 1:
            conditions.append(f"macroDistrito = {_cql_text(self.macrodistritos[0])}")
        return " AND ".join(conditions) or None

    def accepts(self, record: Mapping[str, object]) -> bool:
        """Whether a tramites record passes the filters (days are UTC days)."""
        if self.desde or self.hasta:
            moment = parse_timestamp(record.get("fecha_registro"))
            day = moment.date() if moment else None
            if day is None:
                return False
            if (self.desde and day < self.desde) or (self.hasta and day > self.hasta):
                return False
        if self.macrodistritos:
            macro = record.get("macro_distrito")
            if not isinstance(macro, str) or _plain(macro) not in map(_plain, self.macrodistritos):
                return False
        return True
