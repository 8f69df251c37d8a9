"""Finders of stuck work, run by the scheduler: non-final transactions, purchases without a
receipt, unsent emails. Each re-drives through the same actors as the normal flow; nothing here does
the work itself.

Every query reads an index range that holds only the work to find ((status, updated_at) on
transactions and emails, a partial index for receipts), in bounded batches, so a run costs what it
finds, not the history. Recording an attempt is a conditional update from what was read, so two
schedulers (or a slow one) never enqueue the same attempt twice; it leaves `updated_at` alone, which
measures the transaction's own progress.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import peewee as pw

from config import Settings
from models import db
from models.outbox import PENDING as EMAIL_PENDING
from models.outbox import SENDING, Email
from models.transactions import FUNDING, PENDING, PROCESSING, REQUIRES_ACTION, Transaction
from services import settlement
from services.jobs import PURCHASE_SETTLED, SEND_EMAIL, Dispatcher, Job, unit_of_work
from services.reconcile import runs
from services.reconcile.policy import RetryPolicy, Visit, plan_visit, redrive_job

NON_FINAL = (PENDING, REQUIRES_ACTION, PROCESSING)
STUCK_ALERT, RECEIPT_ALERT = "stuck", "receipt_stuck"
# A "sending" email belongs to a live delivery until its claim lease (workers/email/delivery.py) runs out.
EMAIL_CLAIM_LEASE = dt.timedelta(minutes=5)
# Literal predicates, matching the partial index transactions_receipt_pending (SQLite uses a partial
# index only when the query repeats its terms with the same literals, not bound parameters).
RECEIPT_PENDING = pw.SQL("kind = 'purchase' AND status = 'succeeded' AND receipt_path IS NULL")


def _due(now: dt.datetime, policy: RetryPolicy) -> pw.Expression:
    """Not waiting out its backoff, and not already flagged (attempts beyond the maximum)."""
    return ((Transaction.next_attempt_at.is_null() | (Transaction.next_attempt_at <= now))
            & (Transaction.attempts <= policy.max_attempts))


def _fields() -> tuple[pw.Field, ...]:
    t = Transaction
    return t.id, t.kind, t.status, t.attempts, t.created_at, t.updated_at


def stuck_query(now: dt.datetime, settings: Settings, limit: int) -> pw.Select:
    cutoff = now - dt.timedelta(seconds=settings.reconcile_after_seconds)
    return (Transaction.select(*_fields())
            .where(Transaction.status.in_(NON_FINAL), Transaction.updated_at < cutoff,
                   _due(now, RetryPolicy.from_settings(settings)))
            .order_by(Transaction.updated_at).limit(limit))


def receipts_query(now: dt.datetime, settings: Settings, limit: int) -> pw.Select:
    cutoff = now - dt.timedelta(seconds=settings.reconcile_after_seconds)
    return (Transaction.select(*_fields())
            .where(RECEIPT_PENDING, Transaction.updated_at < cutoff, _due(now, RetryPolicy.from_settings(settings)))
            .order_by(Transaction.updated_at).limit(limit))


def email_queries(now: dt.datetime, settings: Settings, limit: int) -> list[pw.Select]:
    """Pending rows nobody sent (lost message, retries exhausted), and claims whose worker died."""
    after = dt.timedelta(seconds=settings.reconcile_after_seconds)
    return [Email.select(Email.id, Email.status, Email.updated_at)
            .where(Email.status == status, Email.updated_at < cutoff).order_by(Email.updated_at).limit(limit)
            for status, cutoff in ((EMAIL_PENDING, now - after), (SENDING, now - max(after, EMAIL_CLAIM_LEASE)))]


def stuck_transactions(now: dt.datetime, settings: Settings, limit: int) -> list[Transaction]:
    return list(stuck_query(now, settings, limit))


def pending_receipts(now: dt.datetime, settings: Settings, limit: int) -> list[Transaction]:
    return list(receipts_query(now, settings, limit))


def stale_emails(now: dt.datetime, settings: Settings, limit: int) -> list[Email]:
    return [email for query in email_queries(now, settings, limit) for email in query][:limit]


# --- re-driving ----------------------------------------------------------------------------------

def redrive_transactions(settings: Settings, dispatcher: Dispatcher, now: dt.datetime | None = None) -> None:
    now = now or db.utcnow()
    with runs.recorded(runs.STUCK_TRANSACTIONS) as report:
        found = stuck_transactions(now, settings, settings.reconcile_batch_size)
        _redrive(found, now, settings, dispatcher, report, lambda txn: redrive_job(txn.kind, txn.status), STUCK_ALERT)


def redrive_receipts(settings: Settings, dispatcher: Dispatcher, now: dt.datetime | None = None) -> None:
    now = now or db.utcnow()
    with runs.recorded(runs.STUCK_RECEIPTS) as report:
        found = pending_receipts(now, settings, settings.reconcile_batch_size)
        _redrive(found, now, settings, dispatcher, report, lambda txn: PURCHASE_SETTLED, RECEIPT_ALERT)


def redrive_emails(settings: Settings, dispatcher: Dispatcher, now: dt.datetime | None = None) -> None:
    """Re-enqueue, touching updated_at so the same row waits another threshold before the next try."""
    now = now or db.utcnow()
    with runs.recorded(runs.STUCK_EMAILS) as report:
        found = stale_emails(now, settings, settings.reconcile_batch_size)
        report.examined = len(found)
        with unit_of_work(dispatcher) as uow:
            for email in found:
                touched = (Email.update(updated_at=now)
                           .where(Email.id == email.id, Email.status == email.status,
                                  Email.updated_at == email.updated_at).execute())
                if touched:
                    uow.after_commit(SEND_EMAIL, email.id)
                    report.changed += 1
                    report.note("redriven", email.id)


def _redrive(found: list[Transaction], now: dt.datetime, settings: Settings, dispatcher: Dispatcher,
             report: runs.RunReport, job_for: Callable[[Transaction], Job | None], alert_kind: str) -> None:
    policy = RetryPolicy.from_settings(settings)
    report.examined = len(found)
    with unit_of_work(dispatcher) as uow:
        for txn in found:
            job = job_for(txn)
            # Nothing can re-drive it: flag it once, out of the finder's range at once.
            visit = (plan_visit(txn.attempts, now, policy, _waiting_until(txn, settings)) if job
                     else Visit(policy.max_attempts + 1, None, flag=True))
            if not _record(txn, visit):
                continue  # it moved, or another scheduler took this attempt
            if visit.flag or job is None:
                settlement.flag(txn.id, alert_kind, _reason(txn, visit, job))
                report.discrepancies += 1
                report.note("flagged", txn.id)
            else:
                uow.after_commit(job, txn.id)
                report.note("redriven", txn.id)
            report.changed += 1


def _waiting_until(txn: Transaction, settings: Settings) -> dt.datetime | None:
    """A checkout the customer may still pay is waiting, not stuck, until it expires."""
    if txn.kind == FUNDING and txn.status == REQUIRES_ACTION:
        return txn.created_at + dt.timedelta(seconds=settings.checkout_expiry_seconds)
    return None


def _record(txn: Transaction, visit: Visit) -> bool:
    """Conditional on the status and attempt count read: exactly one finder gets each attempt."""
    return bool(Transaction.update(attempts=visit.attempts, next_attempt_at=visit.next_attempt_at)
                .where(Transaction.id == txn.id, Transaction.status == txn.status,
                       Transaction.attempts == txn.attempts).execute())


def _reason(txn: Transaction, visit: Visit, job: Job | None) -> str:
    if job is None:
        return f"{txn.kind} in {txn.status} has no automatic re-drive"
    return (f"{txn.kind} still {txn.status} after {visit.attempts - 1} re-drives; "
            f"last progress {txn.updated_at:%Y-%m-%d %H:%M:%S} UTC")
