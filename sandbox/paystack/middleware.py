"""Bearer-key authentication and the request faults (errors, latency) around every API call."""

from __future__ import annotations

import hmac
import time
from http import HTTPStatus
from typing import Any

import falcon

from sandbox.paystack.faults import Faults, Rule

_UNAUTHENTICATED_PREFIXES = ("/_sandbox", "/checkout", "/healthz")


class AuthMiddleware:
    """Paystack answers a missing or wrong secret key with 401 {"status": false, "message": "Invalid key"}."""

    def __init__(self, secret_key: str) -> None:
        self._key = secret_key.encode()

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.path.startswith(_UNAUTHENTICATED_PREFIXES):
            return
        scheme, _, token = (req.get_header("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), self._key):
            resp.status = 401
            resp.media = {"status": False, "message": "Invalid key"}
            resp.complete = True


def _answer(resp: falcon.Response, rule: Rule) -> None:
    status = rule.status or 500
    resp.status = status
    resp.media = {"status": False, "message": rule.message or f"{HTTPStatus(status).phrase} (sandbox fault)"}
    if status == 429:
        resp.set_header("Retry-After", "1")


class FaultMiddleware:
    """Applies /_sandbox/faults rules to the endpoint a resource declares for the request's method.

    A delay is served before the call runs, so the call still takes effect, only late — like a slow
    provider. An error answers instead of the call, or (with "after": true) after the call took effect.
    """

    def __init__(self, faults: Faults) -> None:
        self._faults = faults

    def process_resource(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         params: dict[str, Any]) -> None:
        endpoint = getattr(resource, "endpoints", {}).get(req.method)
        rule = self._faults.take_request(endpoint) if endpoint else None
        if rule is None:
            return
        if rule.delay_ms:
            time.sleep(rule.delay_ms / 1000)
        if rule.status is None:
            return
        if rule.after:
            req.context.fail_after = rule
            return
        _answer(resp, rule)
        resp.complete = True

    def process_response(self, req: falcon.Request, resp: falcon.Response, resource: Any,
                         req_succeeded: bool) -> None:
        rule = req.context.get("fail_after")
        if rule is not None and req_succeeded:
            _answer(resp, rule)
