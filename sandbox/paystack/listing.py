"""Paging and date filtering shared by the list endpoints (`perPage`, `page`, `from`, `to`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sandbox.paystack.errors import validation
from sandbox.paystack.store import Document
from sandbox.paystack.util import parse_iso, parse_query_date


@dataclass(frozen=True)
class ListQuery:
    page: int = 1
    per_page: int = 50
    start: datetime | None = None
    end: datetime | None = None
    status: str | None = None


def parse_dates(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    try:
        return (parse_query_date(start, end_of_day=False) if start else None,
                parse_query_date(end, end_of_day=True) if end else None)
    except ValueError:
        raise validation("Invalid date format. Pass 'from' and 'to' in ISO 8601 format",
                         code="invalid_date_format") from None


def select(docs: list[Document], query: ListQuery) -> list[Document]:
    """Newest first, like Paystack, after the status and date filters."""
    chosen = []
    for doc in reversed(docs):
        created = parse_iso(doc["created_at"])
        if query.status and doc["status"] != query.status:
            continue
        if (query.start and created < query.start) or (query.end and created > query.end):
            continue
        chosen.append(doc)
    return chosen


def paginate(docs: list[Document], query: ListQuery) -> tuple[list[Document], dict[str, Any]]:
    skipped = (query.page - 1) * query.per_page
    page = docs[skipped:skipped + query.per_page]
    meta = {"total": len(docs), "skipped": skipped, "perPage": query.per_page, "page": query.page,
            "pageCount": -(-len(docs) // query.per_page)}
    return page, meta
