"""Cross-cutting request handling: request ids, a DB connection per request, access logs."""

from __future__ import annotations

import logging
import re
import secrets
import time

import falcon

from api.deps import Deps
from models import db
from services.log import request_id_var

log = logging.getLogger("api.access")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
REQUEST_ID_HEADER = "X-Request-ID"


class RequestContext:
    """Gives every request its id (the client's, if sane) and the app's dependencies."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        incoming = req.get_header(REQUEST_ID_HEADER) or ""
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else secrets.token_hex(12)
        req.context.request_id = request_id
        req.context.deps = self.deps
        req.context.started = time.perf_counter()
        req.context.token = request_id_var.set(request_id)
        resp.set_header(REQUEST_ID_HEADER, request_id)

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: object,
                         req_succeeded: bool) -> None:
        started = getattr(req.context, "started", None)
        if started is not None:
            log.info("request", extra={
                "method": req.method, "path": req.path, "status": resp.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            })
        token = getattr(req.context, "token", None)
        if token is not None:
            request_id_var.reset(token)


class DatabaseConnection:
    """Hold one pooled connection for the request and give it back at the end, whatever happened."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        db.database.connect(reuse_if_open=True)

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: object,
                         req_succeeded: bool) -> None:
        if not db.database.is_closed():
            db.database.close()
