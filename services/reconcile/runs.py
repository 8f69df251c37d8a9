"""Run records (what each reconciler run looked at, changed and found), when a periodic job is due,
and operator alerts that reopen when the problem recurs."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from models import db
from models.reconcile import FAILED, OK, QUEUED, RUNNING, SKIPPED, Discrepancy, ReconcileRun
from models.transactions import Alert

log = logging.getLogger(__name__)

# Job names as recorded in reconcile_runs.job (and labelled in metrics).
STUCK_TRANSACTIONS = "stuck_transactions"
STUCK_RECEIPTS = "stuck_receipts"
STUCK_EMAILS = "stuck_emails"
LEDGER_AUDIT = "ledger_audit"
LEDGER_AUDIT_FULL = "ledger_audit_full"
PROVIDER = "provider_reconcile"
SWEEP = "sweep"
JOBS = (STUCK_TRANSACTIONS, STUCK_RECEIPTS, STUCK_EMAILS, LEDGER_AUDIT, LEDGER_AUDIT_FULL, PROVIDER, SWEEP)

DETAIL_CAP = 100  # ids kept per list in a run's detail; the counts are always exact


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


@dataclass
class RunReport:
    """Filled in by a job while it runs; written to its run record when it ends."""

    run_id: str = ""
    examined: int = 0
    changed: int = 0
    discrepancies: int = 0
    window_start: dt.datetime | None = None
    window_end: dt.datetime | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False

    def note(self, key: str, value: Any) -> None:
        items = self.detail.setdefault(key, [])
        if len(items) < DETAIL_CAP:
            items.append(value)


def queue(job: str) -> ReconcileRun:
    """A run the scheduler is about to enqueue; its id travels with the message. Call in a transaction."""
    return ReconcileRun.create(id=db.new_id("run"), job=job, status=QUEUED)


@contextlib.contextmanager
def recorded(job: str, run_id: str | None = None) -> Iterator[RunReport]:
    """Record one run: running now, then ok / skipped / failed (with the error) at the end."""
    report = RunReport(run_id=_start(job, run_id))
    run_id = report.run_id
    try:
        yield report
    except Exception as exc:
        _finish(run_id, report, FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    _finish(run_id, report, SKIPPED if report.skipped else OK)


def _start(job: str, run_id: str | None) -> str:
    now = db.utcnow()
    with db.atomic():
        if run_id and ReconcileRun.update(status=RUNNING, started_at=now, finished_at=None, error=None,
                                          runner=runner_id(), updated_at=now).where(
                ReconcileRun.id == run_id).execute():
            return run_id
        # Not queued by a scheduler (a direct call), or its row is gone: record it from here.
        return ReconcileRun.create(id=run_id or db.new_id("run"), job=job, status=RUNNING, started_at=now,
                                   runner=runner_id()).id


def _finish(run_id: str, report: RunReport, status: str, error: str | None = None) -> None:
    now = db.utcnow()
    with db.atomic():
        ReconcileRun.update(
            status=status, finished_at=now, updated_at=now, examined=report.examined, changed=report.changed,
            discrepancies=report.discrepancies, window_start=report.window_start, window_end=report.window_end,
            detail=json.dumps(report.detail, default=str, sort_keys=True), error=error,
        ).where(ReconcileRun.id == run_id).execute()


def latest(job: str, status: str | None = None) -> ReconcileRun | None:
    query = ReconcileRun.select().where(ReconcileRun.job == job)
    if status is not None:
        query = query.where(ReconcileRun.status == status)
    return query.order_by(ReconcileRun.created_at.desc()).first()


def in_flight(run: ReconcileRun, now: dt.datetime, stale_after: dt.timedelta) -> bool:
    """Queued or running, and not so old that its message must have been lost."""
    return run.status in (QUEUED, RUNNING) and run.created_at > now - stale_after


def due_every(job: str, every: dt.timedelta, now: dt.datetime, stale_after: dt.timedelta) -> bool:
    last = latest(job)
    if last is None:
        return True
    return not in_flight(last, now, stale_after) and last.created_at <= now - every


def due_daily(job: str, hour: int, now: dt.datetime, stale_after: dt.timedelta) -> bool:
    """Due once per day from `hour` UTC on (and at once on a fresh install)."""
    slot = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if now < slot:
        slot -= dt.timedelta(days=1)
    last = latest(job)
    if last is None:
        return True
    return not in_flight(last, now, stale_after) and last.created_at < slot


def raise_alert(kind: str, subject: str, detail: str) -> None:
    """One alert per (kind, subject); a recurrence updates it and reopens it if it was resolved.
    Call inside a DB transaction."""
    now = db.utcnow()
    (Alert.insert(id=db.new_id("alr"), kind=kind, transaction_id=subject[:40], detail=detail)
     .on_conflict(conflict_target=[Alert.kind, Alert.transaction_id],
                  update={Alert.detail: detail, Alert.resolved_at: None, Alert.updated_at: now})
     .execute())
    log.error("reconciler alert", extra={"alert_kind": kind, "subject": subject, "detail": detail})


# --- read side for the operators' dashboard ------------------------------------------------------

def recent_runs(job: str | None = None, limit: int = 50) -> list[ReconcileRun]:
    query = ReconcileRun.select()
    if job is not None:
        query = query.where(ReconcileRun.job == job)
    return list(query.order_by(ReconcileRun.created_at.desc()).limit(limit))


def open_alerts(kind: str | None = None, limit: int = 100) -> list[Alert]:
    query = Alert.select().where(Alert.resolved_at.is_null())
    if kind is not None:
        query = query.where(Alert.kind == kind)
    return list(query.order_by(Alert.created_at.desc()).limit(limit))


def open_discrepancies(kind: str | None = None, limit: int = 100) -> list[Discrepancy]:
    query = Discrepancy.select().where(Discrepancy.resolved_at.is_null())
    if kind is not None:
        query = query.where(Discrepancy.kind == kind)
    return list(query.order_by(Discrepancy.last_seen_at.desc()).limit(limit))
