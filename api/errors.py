"""RFC 9457 problem details: every error leaves the API through here, with a stable `code`."""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

import falcon
import pydantic

from services.errors import DomainError

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://docs.marketplace.invalid/problems/"

# Falcon's own errors (routing, methods, headers) get codes too.
_FALCON_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    411: "length_required",
    413: "body_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, title: str, detail: str | None = None,
                 errors: list[dict[str, str]] | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or title)
        self.status, self.code, self.title = status, code, title
        self.detail, self.errors, self.headers = detail, errors, headers or {}


def problem_body(status: int, code: str, title: str, detail: str | None = None,
                 errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + code, "title": title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    return body


def validation_problem(exc: pydantic.ValidationError, location: str) -> ApiError:
    fields = []
    for err in exc.errors(include_url=False, include_input=False):
        path = ".".join(str(part) for part in err["loc"]) or location
        fields.append({"field": path, "message": _message(err)})
    return ApiError(422, "validation_error", "Validation failed",
                    f"The request {location} has invalid fields.", errors=fields)


def _message(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown field"
    if err["type"] == "missing":
        return "is required"
    return str(err["msg"])


def _send(resp: falcon.Response, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    resp.status = status
    resp.content_type = PROBLEM_JSON
    resp.text = json.dumps(body)
    for name, value in headers.items():
        resp.set_header(name, value)


def handle_api_error(req: falcon.Request, resp: falcon.Response, ex: ApiError, params: dict) -> None:
    _send(resp, ex.status, problem_body(ex.status, ex.code, ex.title, ex.detail, ex.errors), ex.headers)


def handle_domain_error(req: falcon.Request, resp: falcon.Response, ex: DomainError, params: dict) -> None:
    _send(resp, ex.status, problem_body(ex.status, ex.code, ex.title, ex.detail), ex.headers)


def handle_http_error(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: dict) -> None:
    status = ex.status_code
    code = _FALCON_CODES.get(status, "bad_request" if status < 500 else "internal_error")
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    _send(resp, status, problem_body(status, code, title, ex.description), dict(ex.headers or {}))


def handle_unexpected(req: falcon.Request, resp: falcon.Response, ex: Exception, params: dict) -> None:
    # The client learns only that it failed and which request id to quote; the log has the rest.
    log.exception("unhandled error", extra={"method": req.method, "path": req.path})
    _send(resp, 500, problem_body(500, "internal_error", "Internal server error",
                                  "Something went wrong on our side; quote the X-Request-ID if you contact us."),
          {})


def install(app: falcon.App) -> None:
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(DomainError, handle_domain_error)
    app.add_error_handler(ApiError, handle_api_error)
