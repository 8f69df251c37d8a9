"""Reconciliation actors. Each takes the id of the run the scheduler queued and records it."""

from __future__ import annotations

import functools

import dramatiq

from models import db
from services.jobs import AUDIT_LEDGER, RECONCILE_PROVIDER, RECONCILE_SWEEP, BrokerDispatcher
from services.reconcile import audit, provider, sweep
from workers import runtime
from workers.payments.paystack import PaystackClient
from workers.reconcile.paystack import PaystackProvider

_settings = runtime.settings()
_RETRY = {"max_retries": 3, "min_backoff": 5_000, "max_backoff": 60_000}


@functools.cache
def _provider() -> PaystackProvider:
    return PaystackProvider(PaystackClient(_settings.paystack_base_url, _settings.paystack_secret_key,
                                           timeout=_settings.http_timeout_seconds))


@dramatiq.actor(actor_name=AUDIT_LEDGER.actor, queue_name=AUDIT_LEDGER.queue, time_limit=2 * 3600 * 1000,
                **_RETRY)
def audit_ledger(run_id: str | None = None, full: bool = False) -> None:
    with db.connection():
        (audit.run_full if full else audit.run_incremental)(_settings, run_id)


@dramatiq.actor(actor_name=RECONCILE_PROVIDER.actor, queue_name=RECONCILE_PROVIDER.queue, time_limit=3600 * 1000,
                **_RETRY)
def reconcile_provider(run_id: str | None = None) -> None:
    with db.connection():
        provider.run(_settings, _provider(), BrokerDispatcher(dramatiq.get_broker()), run_id)


@dramatiq.actor(actor_name=RECONCILE_SWEEP.actor, queue_name=RECONCILE_SWEEP.queue, **_RETRY)
def reconcile_sweep(run_id: str | None = None) -> None:
    with db.connection():
        sweep.run(_settings, run_id)
