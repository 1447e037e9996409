"""Permit identity: the cadastral code's canonical form and the page identifier."""

import base64
import re
from datetime import UTC, datetime, timedelta

CODIGO_CATASTRAL_DIGITS = 15
_NON_DIGIT = re.compile(r"\D")


def normalize_codigo_catastral(value: object) -> str | None:
    """The cadastral code as 15-digit text, whatever form it came in.

    Servers and pages write it as text with leading zeros ("044104900070000"), as a
    number that lost them (44104900070000, 44104900070000.0) or with separators
    ("044-104-900-070-000"). Codes that are not digits are kept as given, stripped.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        if value != value or not value.is_integer():
            return None
        value = int(value)
    text = str(value).strip()
    if not text:
        return None
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".", 1)[0]
    digits = _NON_DIGIT.sub("", text)
    if digits and len(digits) <= CODIGO_CATASTRAL_DIGITS and re.fullmatch(r"[\d\s.\-/]+", text):
        return digits.zfill(CODIGO_CATASTRAL_DIGITS)
    return text


_ISO_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def parse_timestamp(value: object) -> datetime | None:
    """An ISO-8601 timestamp as the server writes it ("2017-11-14T17:04:40.303Z").

    Text that only starts with a day ("2017-11-14 ...") gives that day at midnight;
    anything else None.
    """
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        match = _ISO_DAY.match(text)
        if not match:
            return None
        try:
            return datetime(*map(int, match.groups()))
        except ValueError:
            return None


def registration_year(fecha_registro: object) -> int | None:
    """The year of an ISO-8601 registration date, or None when there is none."""
    moment = parse_timestamp(fecha_registro)
    return moment.year if moment else None


# La Paz is UTC-4 all year (no daylight saving).
LA_PAZ_OFFSET = timedelta(hours=-4)


def la_paz_year(fecha_registro: object) -> int | None:
    """The year of the registration in La Paz's time: unlike the UTC year for the four
    hours after New Year's midnight UTC. A date without a time gives its own year."""
    moment = parse_timestamp(fecha_registro)
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.year
    return (moment.astimezone(UTC) + LA_PAZ_OFFSET).year


def permit_identifier(codigo_catastral: str, numero_tramite: int, anio: int) -> str:
    """The page identifier: base64 of `<codigo>|<numero>|<year>` (UTF-8, padded)."""
    plain = f"{codigo_catastral}|{numero_tramite}|{anio}"
    return base64.b64encode(plain.encode("utf-8")).decode("ascii")


def decode_identifier(identificador: str) -> tuple[str, int, int]:
    """The inverse of `permit_identifier`: the permit a page record was requested for."""
    codigo, numero, anio = base64.b64decode(identificador).decode("utf-8").split("|")
    return codigo, int(numero), int(anio)
