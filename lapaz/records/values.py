"""Values as users get them, whatever form a server sent: the cadastral code as 15-digit
text, whole numbers, decimals, codes, timestamps and the registration year."""

import re
from datetime import UTC, datetime, timedelta

from lapaz.records.schema import FLOAT_FIELDS, INTEGER_FIELDS, TEXT_CODE_FIELDS

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


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def as_int(value: object) -> int | None:
    """61153, 61153.0, "61153" and "61153.0" all give 61153; anything else None."""
    if _blank(value) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def as_float(value: object) -> float | None:
    if _blank(value) or isinstance(value, bool):
        return None
    try:
        return float(str(value).replace(",", ".")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None


def as_code_text(value: object) -> str | None:
    """A code as text: numbers lose no digits and gain no ".0"."""
    if _blank(value):
        return None
    whole = as_int(value) if not isinstance(value, str) else None
    return str(whole) if whole is not None else str(value).strip()


def coerce_value(key: str, value: object) -> object:
    if key == "codigo_catastral":
        return normalize_codigo_catastral(value)
    if key in INTEGER_FIELDS:
        whole = as_int(value)
        # A value that is no whole number is kept as given rather than lost.
        return value if whole is None and not _blank(value) else whole
    if key in FLOAT_FIELDS:
        return as_float(value)
    if key in TEXT_CODE_FIELDS:
        return as_code_text(value)
    if _blank(value):
        return None
    return value.strip() if isinstance(value, str) else value
