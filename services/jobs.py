"""Background jobs by name, and sending them only after the transaction that caused them commits.

The API and the scheduler enqueue by job name; only workers/ defines the actors, so nothing here
imports workers (actors import services, never the other way round).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import dramatiq

from models import db
from services.log import request_id_var

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    actor: str
    queue: str


SEND_EMAIL = Job("send_email", "email")
INITIALIZE_FUNDING = Job("initialize_funding", "payments")
CONFIRM_FUNDING = Job("confirm_funding", "payments")
SETTLE_PURCHASE = Job("settle_purchase", "payments")
START_PAYOUT = Job("start_payout", "payments")
CONFIRM_PAYOUT = Job("confirm_payout", "payments")
PROCESS_WEBHOOK = Job("process_webhook", "payments")
# The one "purchase settled" event; the receipts worker subscribes to it.
PURCHASE_SETTLED = Job("purchase_settled", "receipts")
QUEUES = ("email", "payments", "receipts", "reconcile")
# Reconciliation work that is not an existing actor (workers/reconcile); the scheduler enqueues it.
AUDIT_LEDGER = Job("audit_ledger", "reconcile")
RECONCILE_PROVIDER = Job("reconcile_provider", "reconcile")
RECONCILE_SWEEP = Job("reconcile_sweep", "reconcile")


class Dispatcher(Protocol):
    def dispatch(self, job: Job, *args: Any) -> None: ...


@dataclass
class BrokerDispatcher:
    broker: dramatiq.Broker

    def dispatch(self, job: Job, *args: Any) -> None:
        message = dramatiq.Message(
            queue_name=job.queue,
            actor_name=job.actor,
            args=args,
            kwargs={},
            options={"request_id": request_id_var.get()},
        )
        self.broker.enqueue(message)


@dataclass
class UnitOfWork:
    """Collects jobs during a DB transaction; they are sent only once it has committed."""

    _jobs: list[tuple[Job, tuple[Any, ...]]] = field(default_factory=list)

    def after_commit(self, job: Job, *args: Any) -> None:
        self._jobs.append((job, args))

    def flush(self, dispatcher: Dispatcher) -> None:
        for job, args in self._jobs:
            try:
                dispatcher.dispatch(job, *args)
            except Exception:
                # The rows are committed; the reconciler finds and re-sends what was not enqueued.
                log.exception("enqueue failed after commit", extra={"job": job.actor})
        self._jobs.clear()


@contextlib.contextmanager
def unit_of_work(dispatcher: Dispatcher) -> Iterator[UnitOfWork]:
    if db.database.in_transaction():
        raise RuntimeError("unit_of_work must own its transaction: jobs are sent after its commit")
    uow = UnitOfWork()
    with db.atomic():
        yield uow
    uow.flush(dispatcher)
