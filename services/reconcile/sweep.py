"""Housekeeping the reconciler owns: expired idempotency keys, stray receipt files, old run records.
Deletes run in bounded batches over indexed ranges (expires_at; job, created_at)."""

from __future__ import annotations

import datetime as dt

import peewee as pw

from config import Settings
from models import db
from models.reconcile import ReconcileRun
from models.transactions import IdempotencyKey
from services import receipts
from services.reconcile import runs

MAX_BATCHES = 20  # per run and kind; the rest waits for the next run


def run(settings: Settings, run_id: str | None = None, now: dt.datetime | None = None) -> None:
    now = now or db.utcnow()
    batch = settings.reconcile_batch_size
    with runs.recorded(runs.SWEEP, run_id) as report:
        keys = delete_in_batches(IdempotencyKey, IdempotencyKey.expires_at < now, batch)
        retention = now - dt.timedelta(days=settings.reconcile_run_retention_days)
        old_runs = sum(delete_in_batches(ReconcileRun, ReconcileRun.job == job, batch,
                                         ReconcileRun.created_at < retention) for job in runs.JOBS)
        strays = receipts.sweep_strays(settings.media_root)
        report.changed = keys + old_runs + len(strays)
        report.detail = {"idempotency_keys": keys, "runs": old_runs, "stray_receipts": strays[:runs.DETAIL_CAP]}


def delete_in_batches(model: type[pw.Model], condition: pw.Expression, batch: int, *more: pw.Expression) -> int:
    deleted = 0
    for _ in range(MAX_BATCHES):
        ids = model.select(model._meta.primary_key).where(condition, *more).limit(batch)
        with db.atomic():
            count = model.delete().where(model._meta.primary_key.in_(ids)).execute()
        deleted += count
        if count < batch:
            break
    return deleted
