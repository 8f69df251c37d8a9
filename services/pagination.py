"""Keyset pagination on time-sortable ids: stable while rows are inserted concurrently."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import peewee as pw

from services.errors import DomainError

T = TypeVar("T")


class InvalidCursor(DomainError):
    status, code, title = 400, "invalid_cursor", "Invalid cursor"


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        value = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor("The cursor is not one this API issued.") from None
    if not value or not value.isascii() or not value.isprintable() or len(value) > 64:
        raise InvalidCursor("The cursor is not one this API issued.")
    return value


def newest_first(query: pw.ModelSelect, id_field: pw.Field, limit: int, cursor: str | None,
                 key: Callable[[Any], str] = lambda row: row.id) -> tuple[Sequence[Any], str | None]:
    """One page, newest first, after `cursor`; returns (rows, next_cursor or None)."""
    if cursor:
        query = query.where(id_field < decode_cursor(cursor))
    rows = list(query.order_by(id_field.desc()).limit(limit + 1))
    if len(rows) > limit:
        return rows[:limit], encode_cursor(key(rows[limit - 1]))
    return rows, None
