"""One declaration per operation drives both request validation and the OpenAPI document.

    class Login:
        @operation(summary="Sign in", body=LoginIn, responses={200: TokenOut},
                   errors={401: ["invalid_credentials"], 429: ["too_many_attempts"]})
        def on_post(self, req, resp): ...

The wrapper parses the JSON body strictly, validates it with the pydantic model and leaves the
result in `req.context.body` (and the query model in `req.context.query`).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import falcon
import pydantic

from api.errors import ApiError, validation_problem
from services.errors import Unauthenticated

Responder = Callable[..., None]
JSON = "application/json"


@dataclass(frozen=True)
class Operation:
    summary: str
    tags: tuple[str, ...] = ()
    body: type[pydantic.BaseModel] | None = None
    query: type[pydantic.BaseModel] | None = None
    responses: dict[int, Any] = field(default_factory=dict)  # status -> model | (content_type, text)
    errors: dict[int, list[str]] = field(default_factory=dict)  # status -> documented problem codes
    auth: bool = False
    headers: dict[str, str] = field(default_factory=dict)  # request header -> description
    # multipart/form-data file parts (name -> description); the responder reads the body itself.
    form: dict[str, str] | None = None


def operation(summary: str, **kwargs: Any) -> Callable[[Responder], Responder]:
    op = Operation(summary=summary, tags=tuple(kwargs.pop("tags", ())), **kwargs)

    def decorate(responder: Responder) -> Responder:
        @functools.wraps(responder)
        def wrapper(resource: object, req: falcon.Request, resp: falcon.Response, **params: Any) -> None:
            if op.auth:
                req.context.user = req.context.deps.identity.authenticate(bearer_token(req))
            if op.query is not None:
                req.context.query = _validate(op.query, _query_dict(req), location="query")
            if op.body is not None:
                req.context.body = _validate(op.body, read_json(req), location="body")
            responder(resource, req, resp, **params)

        wrapper.__operation__ = op  # type: ignore[attr-defined]
        return wrapper

    return decorate


def bearer_token(req: falcon.Request) -> str:
    header = req.get_header("Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("Send `Authorization: Bearer <access_token>`.")
    return token.strip()


def read_json(req: falcon.Request) -> Any:
    """The request body as JSON, within the size limit; never a 500 for what a client sends."""
    limit = req.context.deps.settings.max_body_bytes
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    if media_type != JSON:
        raise ApiError(415, "unsupported_media_type", "Unsupported media type",
                       "Send the body as application/json.")
    raw = read_raw(req, limit)
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiError(400, "invalid_json", "Malformed JSON", "The body is not valid UTF-8 JSON.") from None


def read_raw(req: falcon.Request, limit: int) -> bytes:
    """The raw body, refusing more than `limit` bytes whether or not Content-Length says so."""
    if req.content_length is not None and req.content_length > limit:
        raise ApiError(413, "body_too_large", "Request body too large", f"The limit is {limit} bytes.")
    raw = req.bounded_stream.read(limit + 1)
    if len(raw) > limit:
        raise ApiError(413, "body_too_large", "Request body too large", f"The limit is {limit} bytes.")
    return raw


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _query_dict(req: falcon.Request) -> dict[str, Any]:
    return {key: value for key, value in req.params.items()}


def _validate(model: type[pydantic.BaseModel], data: Any, location: str) -> pydantic.BaseModel:
    try:
        return model.model_validate(data) if location == "body" else model.model_validate(data, strict=False)
    except pydantic.ValidationError as exc:
        raise validation_problem(exc, location) from None


def operation_of(responder: object) -> Operation | None:
    return getattr(responder, "__operation__", None)
