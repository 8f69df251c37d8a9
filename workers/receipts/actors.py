"""Receipts subscribe to the single "purchase settled" event."""

from __future__ import annotations

import logging

import dramatiq

from models import db
from services.jobs import PURCHASE_SETTLED, BrokerDispatcher
from workers import runtime
from workers.receipts.issue import issue

log = logging.getLogger(__name__)
_settings = runtime.settings()


@dramatiq.actor(actor_name=PURCHASE_SETTLED.actor, queue_name=PURCHASE_SETTLED.queue, max_retries=20,
                min_backoff=1_000, max_backoff=5 * 60 * 1000)
def purchase_settled(txn_id: str) -> None:
    with db.connection():
        outcome = issue(txn_id, _settings, BrokerDispatcher(dramatiq.get_broker()))
    log.info("receipt", extra={"transaction_id": txn_id, "outcome": outcome})
