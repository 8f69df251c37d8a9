"""Webhook events: signed like Paystack's, delivered by one background thread, retried with backoff.

Each event keeps a stable id and its exact body bytes, so a retry, a duplicate or a resend is
byte-identical (and carries the same signature) as the first delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import threading
import urllib.error
import urllib.request
from typing import Any

from sandbox.paystack.faults import Faults
from sandbox.paystack.scheduler import Scheduler
from sandbox.paystack.settings import Settings
from sandbox.paystack.store import Document, Store
from sandbox.paystack.util import iso_now, random_code

log = logging.getLogger(__name__)

EVENT_KIND = "event"
EVENT_ID_HEADER = "X-Sandbox-Event-Id"


def sign(body: bytes, secret_key: str) -> str:
    """Paystack's `x-paystack-signature`: hex HMAC-SHA512 of the raw body, keyed with the secret key."""
    return hmac.new(secret_key.encode(), body, hashlib.sha512).hexdigest()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect answer is a failed delivery, as with Paystack: never re-POST elsewhere.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# No proxies: deliveries go straight to the receiver, which is on this machine.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


class Dispatcher:
    def __init__(self, store: Store, settings: Settings, faults: Faults, scheduler: Scheduler) -> None:
        self._store = store
        self._settings = settings
        self._faults = faults
        self._scheduler = scheduler
        self._held: set[str] = set()  # events kept back by the "reorder" fault
        self._lock = threading.Lock()
        self._generation = 0  # bumped by reset() so jobs from before it do nothing

    def emit(self, event: str, data: dict[str, Any], reference: str) -> Document:
        body = json.dumps({"event": event, "data": data}, separators=(",", ":"))
        record: Document = {
            "id": f"evt_{random_code(20)}", "event": event, "reference": reference, "body": body,
            "attempts": 0, "deliveries": 0, "last_status": None, "last_error": None, "delivered": False,
            "dropped": False, "gave_up": False, "fault": None, "created_at": iso_now(), "last_attempt_at": None,
        }
        rule = self._faults.take_webhook()
        record["fault"] = rule.target if rule else None
        record["dropped"] = bool(rule and rule.target == "drop")
        self._store.put(EVENT_KIND, record["id"], record)
        if rule is None:
            self._schedule(record["id"], 0, 0, 0.0)
        elif rule.target == "duplicate":
            self._schedule(record["id"], 0, 1, 0.0)
        elif rule.target == "delay":
            self._schedule(record["id"], 0, 0, rule.delay_ms / 1000)
        elif rule.target == "reorder":
            self._hold(record["id"], rule.delay_ms / 1000)
        return record

    def resend(self, reference: str) -> Document | None:
        """Queue the latest event of `reference` again, with a fresh retry budget."""
        events = [e for e in self._store.all(EVENT_KIND) if e["reference"] == reference]
        if not events:
            return None
        record = events[-1]
        record["gave_up"] = False
        self._store.put(EVENT_KIND, record["id"], record)
        self._schedule(record["id"], 0, 0, 0.0)
        return record

    def restore(self) -> None:
        """After a restart with --store, carry on delivering what was still owed."""
        for record in self._store.all(EVENT_KIND):
            if not (record["delivered"] or record["dropped"] or record["gave_up"]):
                self._schedule(record["id"], min(record["attempts"], len(self._settings.webhook_retry_delays)), 0, 0)

    def entries(self) -> list[dict[str, Any]]:
        return [
            {**{k: v for k, v in record.items() if k != "body"}, "payload": json.loads(record["body"])}
            for record in self._store.all(EVENT_KIND)
        ]

    def reset(self) -> None:
        with self._lock:
            self._generation += 1
            self._held.clear()

    def _schedule(self, event_id: str, retry_index: int, copies: int, delay: float) -> None:
        generation = self._generation
        self._scheduler.call_later(delay, lambda: self._attempt(event_id, retry_index, copies, generation))

    def _hold(self, event_id: str, max_hold: float) -> None:
        with self._lock:
            self._held.add(event_id)
        self._scheduler.call_later(max_hold, lambda: self._release(event_id))

    def _release(self, event_id: str) -> None:
        with self._lock:
            if event_id not in self._held:
                return
            self._held.discard(event_id)
        self._schedule(event_id, 0, 0, 0.0)

    def _release_all(self) -> None:
        with self._lock:
            held, self._held = sorted(self._held), set()
        for event_id in held:
            self._schedule(event_id, 0, 0, 0.0)

    def _attempt(self, event_id: str, retry_index: int, copies: int, generation: int) -> None:
        record = self._store.get(EVENT_KIND, event_id)
        if record is None or generation != self._generation:
            return
        url = self._settings.webhook_url
        if not url:
            record["last_error"] = "no --webhook-url configured"
            self._store.put(EVENT_KIND, event_id, record)
            return
        status, error = self._post(url, record["body"].encode(), event_id)
        accepted = status is not None and 200 <= status < 300
        self._record_attempt(record, status, error, accepted)
        if not accepted:
            self._retry_or_give_up(record, retry_index, copies)
        elif copies:  # the "duplicate" fault: send the very same event once more
            self._schedule(event_id, 0, copies - 1, 0.0)
        self._store.put(EVENT_KIND, event_id, record)
        self._release_all()

    def _record_attempt(self, record: Document, status: int | None, error: str | None, accepted: bool) -> None:
        record["attempts"] += 1
        record["last_status"] = status
        record["last_error"] = error
        record["last_attempt_at"] = iso_now()
        if accepted:
            record["delivered"] = True
            record["deliveries"] += 1
        log.info("webhook %s %s for %s -> %s", record["id"], record["event"], record["reference"],
                 status if status is not None else error)

    def _retry_or_give_up(self, record: Document, retry_index: int, copies: int) -> None:
        delays = self._settings.webhook_retry_delays
        if retry_index < len(delays):
            self._schedule(record["id"], retry_index + 1, copies, delays[retry_index])
        else:
            record["gave_up"] = True

    def _post(self, url: str, body: bytes, event_id: str) -> tuple[int | None, str | None]:
        request = urllib.request.Request(  # noqa: S310 - the URL scheme is checked at start-up
            url, data=body, method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "paystack-sandbox",
                "x-paystack-signature": sign(body, self._settings.secret_key),
                EVENT_ID_HEADER: event_id,
            },
        )
        try:
            with _OPENER.open(request, timeout=self._settings.webhook_timeout) as response:
                return response.status, None
        except urllib.error.HTTPError as exc:
            return exc.code, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            return None, f"{type(exc).__name__}: {reason}"
