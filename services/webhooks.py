"""Paystack webhooks: signature check over the raw body, store once, process in a worker."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging

import peewee as pw

from models import db
from models.transactions import WebhookEvent
from services.jobs import PROCESS_WEBHOOK, Dispatcher, unit_of_work

log = logging.getLogger(__name__)


def signature_valid(raw_body: bytes, signature: str | None, secret_key: str) -> bool:
    if not signature or not secret_key:
        return False
    expected = hmac.new(secret_key.encode(), raw_body, hashlib.sha512).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def record(raw_body: bytes, payload: dict, dispatcher: Dispatcher) -> bool:
    """Store a verified event and enqueue its processing; False if this exact event was seen before.

    A repeat of an event that is still unprocessed enqueues it again: the first enqueue may have
    been lost (a crash after the commit), and the provider's retry is then what heals it."""
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    reference = data.get("reference")
    digest = hashlib.sha256(raw_body).hexdigest()
    try:
        with unit_of_work(dispatcher) as uow:
            event = WebhookEvent.create(
                id=db.new_id("evt"), digest=digest,
                event=str(payload.get("event", ""))[:64], payload=raw_body.decode("utf-8"),
                reference=str(reference)[:100] if reference else None)
            uow.after_commit(PROCESS_WEBHOOK, event.id)
    except pw.IntegrityError:
        seen = WebhookEvent.get_or_none(WebhookEvent.digest == digest, WebhookEvent.processed_at.is_null())
        if seen is not None:
            try:
                dispatcher.dispatch(PROCESS_WEBHOOK, seen.id)
            except Exception:
                log.exception("enqueue failed for a repeated webhook", extra={"event_id": seen.id})
        return False
    return True


def load(event_id: str) -> tuple[str, dict] | None:
    event = WebhookEvent.get_or_none(WebhookEvent.id == event_id)
    if event is None or event.processed_at is not None:
        return None
    return event.event, json.loads(event.payload)


def mark_processed(event_id: str) -> None:
    with db.atomic():
        (WebhookEvent.update(processed_at=db.utcnow(), updated_at=db.utcnow())
         .where(WebhookEvent.id == event_id, WebhookEvent.processed_at.is_null()).execute())
