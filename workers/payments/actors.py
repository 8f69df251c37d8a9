"""Payment actors. Each takes an id, reloads its row and is safe to run any number of times."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable

import dramatiq

from models import db
from models.transactions import FUNDING, WITHDRAWAL, Transaction
from services import settlement, webhooks
from services.jobs import (
    CONFIRM_FUNDING,
    CONFIRM_PAYOUT,
    INITIALIZE_FUNDING,
    PROCESS_WEBHOOK,
    SETTLE_PURCHASE,
    START_PAYOUT,
    BrokerDispatcher,
    Job,
)
from workers import runtime
from workers.payments.flows import Payments
from workers.payments.paystack import PaystackClient

_settings = runtime.settings()
# Provider hiccups and transient DB errors retry with backoff; the reconciler re-drives the rest.
_RETRY = {"max_retries": 20, "min_backoff": _settings.payments_min_backoff_ms,
          "max_backoff": _settings.payments_max_backoff_ms}


@functools.cache
def payments() -> Payments:
    client = PaystackClient(_settings.paystack_base_url, _settings.paystack_secret_key,
                            timeout=_settings.http_timeout_seconds)
    return Payments(_settings, client, BrokerDispatcher(dramatiq.get_broker()),
                    checkout_expiry=dt.timedelta(seconds=_settings.checkout_expiry_seconds))


def actor(job: Job, **options: object) -> Callable[[Callable[..., None]], dramatiq.Actor]:
    return dramatiq.actor(actor_name=job.actor, queue_name=job.queue, **options)


@actor(INITIALIZE_FUNDING, **_RETRY)
def initialize_funding(txn_id: str) -> None:
    with db.connection():
        payments().initialize_funding(txn_id)


@actor(CONFIRM_FUNDING, **_RETRY)
def confirm_funding(txn_id: str) -> None:
    with db.connection():
        payments().confirm_funding(txn_id)


@actor(SETTLE_PURCHASE, **_RETRY)
def settle_purchase(txn_id: str) -> None:
    with db.connection():
        settlement.settle_purchase(txn_id, payments().dispatcher)


@actor(START_PAYOUT, **_RETRY)
def start_payout(txn_id: str) -> None:
    with db.connection():
        payments().start_payout(txn_id)


@actor(CONFIRM_PAYOUT, **_RETRY)
def confirm_payout(txn_id: str) -> None:
    with db.connection():
        payments().confirm_payout(txn_id)


@actor(PROCESS_WEBHOOK, **_RETRY)
def process_webhook(event_id: str) -> None:
    """Webhooks only say "look again": amounts always come from the verify endpoints."""
    with db.connection():
        loaded = webhooks.load(event_id)
        if loaded is None:
            return
        event, payload = loaded
        reference = str((payload.get("data") or {}).get("reference") or "")
        txn = Transaction.get_or_none(Transaction.reference == reference) if reference else None
        if txn is not None and event == "charge.success" and txn.kind == FUNDING:
            payments().confirm_funding(txn.id)
        elif txn is not None and event.startswith("transfer.") and txn.kind == WITHDRAWAL:
            payments().confirm_payout(txn.id)
        webhooks.mark_processed(event_id)
