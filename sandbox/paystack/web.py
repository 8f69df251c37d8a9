"""HTTP plumbing for the Falcon resources: reading bodies and query parameters, writing envelopes."""

from __future__ import annotations

from typing import Any

import falcon

from sandbox.paystack.errors import validation
from sandbox.paystack.listing import ListQuery, parse_dates

MAX_PER_PAGE = 1000


def read_body(req: falcon.Request) -> dict[str, Any]:
    """A JSON or form-encoded object (Paystack accepts both); an empty body reads as {}."""
    if not req.content_length:
        return {}
    try:
        media = req.get_media()
    except falcon.MediaMalformedError:
        raise validation("Invalid request body. Send a JSON object") from None
    if media is None:
        return {}
    if not isinstance(media, dict):
        raise validation("Invalid request body. Send a JSON object")
    return media


def ok(resp: falcon.Response, message: str, data: Any, *, status: int = 200,
       meta: dict[str, Any] | None = None) -> None:
    resp.status = status
    resp.media = {"status": True, "message": message, "data": data} | ({"meta": meta} if meta is not None else {})


def int_param(req: falcon.Request, names: tuple[str, ...], default: int, high: int) -> int:
    for name in names:
        value = req.get_param_as_int(name, min_value=1, max_value=high)
        if value is not None:
            return value
    return default


def list_query(req: falcon.Request, statuses: tuple[str, ...] | None) -> ListQuery:
    """`perPage` is what Paystack's API reads; the document also names `per_page`, so both work.

    `statuses` lists the values the `status` filter accepts; None means the list has no such filter.
    """
    status = req.get_param("status") if statuses is not None else None
    if statuses is not None and status is not None and status not in statuses:
        raise validation(f"Invalid status. Use one of: {', '.join(statuses)}")
    start, end = parse_dates(req.get_param("from"), req.get_param("to"))
    return ListQuery(page=int_param(req, ("page",), 1, 1_000_000),
                     per_page=int_param(req, ("perPage", "per_page"), 50, MAX_PER_PAGE),
                     start=start, end=end, status=status)


def client_ip(req: falcon.Request) -> str:
    return req.remote_addr or "127.0.0.1"
