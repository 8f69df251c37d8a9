"""Small helpers shared by the sandbox modules: time stamps, random codes, integer parsing."""

from __future__ import annotations

import re
import secrets
import string
from datetime import UTC, date, datetime, time, timedelta

_ALPHABET = string.ascii_lowercase + string.digits
_DIGITS = re.compile(r"^\d+$")


def now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Paystack's timestamp format: UTC, millisecond precision, trailing Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_now() -> str:
    return iso(now())


def parse_iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def parse_query_date(value: str, end_of_day: bool) -> datetime:
    """Parse a `from`/`to` filter: a date (whole day) or a full ISO 8601 date-time."""
    text = value.strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
        moment = datetime.combine(day, time.min, tzinfo=UTC)
        return moment + timedelta(days=1) - timedelta(microseconds=1) if end_of_day else moment
    parsed = parse_iso(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def random_code(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def parse_amount(value: object) -> int | None:
    """An amount in the minor unit: an int, or a string of digits (Paystack accepts both).

    Floats and bools are refused on purpose: money never travels as a float here.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        return int(value.strip())
    return None
