"""POST /v3/{domain}/messages: Mailgun's send call, answered the way Mailgun answers it."""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from dataclasses import dataclass
from typing import Any

import falcon

from sandbox.mailgun.compose import SendError, compose
from sandbox.mailgun.faults import Faults, SendFault, Stats
from sandbox.mailgun.forms import FormError, parse_form
from sandbox.mailgun.store import MessageStore

MiB = 1024 * 1024
QUEUED = "Queued. Thank you."
_DRAIN_FACTOR = 4


@dataclass(frozen=True)
class Settings:
    api_key: str
    domain: str
    max_body_bytes: int = 25 * MiB  # Mailgun's own limit for a whole message


class SendResource:
    def __init__(self, settings: Settings, store: MessageStore, faults: Faults, stats: Stats) -> None:
        self._settings = settings
        self._store = store
        self._faults = faults
        self._stats = stats

    def on_post(self, req: falcon.Request, resp: falcon.Response, domain: str) -> None:
        self._stats.attempt()
        fault = self._faults.take()
        if fault.delay_ms:
            time.sleep(fault.delay_ms / 1000)
        if fault.status is not None:
            _answer_fault(resp, fault)
        elif (req.content_length or 0) > self._settings.max_body_bytes:
            _json(resp, 413, "Request entity too large")
        elif not self._authorized(req.auth):
            _forbidden(resp)
        elif domain.lower() != self._settings.domain.lower():
            _json(resp, 404, f"Domain not found: {domain}")
        else:
            self._send(req, resp)
            return
        self._discard_body(req)

    def _discard_body(self, req: falcon.Request) -> None:
        # A refused body is still read to the end (up to a bound), or closing the socket on unread
        # data makes the client see a connection reset instead of our answer.
        if (req.content_length or 0) <= self._settings.max_body_bytes * _DRAIN_FACTOR:
            req.bounded_stream.exhaust()

    def _send(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            message = compose(parse_form(req.content_type, req.bounded_stream.read()), self._settings.domain)
        except (FormError, SendError) as exc:
            _json(resp, 400, str(exc))
            return
        stored = self._store.add(message)
        self._stats.stored()
        resp.media = {"id": stored.id, "message": QUEUED}

    def _authorized(self, header: str | None) -> bool:
        scheme, _, encoded = (header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return False
        # Constant-time compare: the habit matters more than the threat in a local sandbox.
        return user == b"api" and hmac.compare_digest(password, self._settings.api_key.encode())


def _json(resp: falcon.Response, status: int, message: str, **extra: Any) -> None:
    resp.status = status
    resp.media = {"message": message, **extra}


def _forbidden(resp: falcon.Response) -> None:
    # Mailgun answers a bad key with a bare text body, not JSON; clients match on that.
    resp.status = 401
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = "Forbidden"
    resp.set_header("WWW-Authenticate", 'Basic realm="MG API"')


def _answer_fault(resp: falcon.Response, fault: SendFault) -> None:
    resp.status = fault.status or 500
    resp.media = fault.body()
    if fault.retry_after is not None:
        resp.set_header("Retry-After", str(fault.retry_after))
