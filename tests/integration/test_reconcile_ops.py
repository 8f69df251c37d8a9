"""What operators get from the reconciler: DB-backed Prometheus metrics, run records and the
schedule they drive, housekeeping, and finders that read only what they find."""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest

from models import db
from models.reconcile import FAILED, OK, Discrepancy, ReconcileRun
from models.transactions import IdempotencyKey, Transaction
from services.reconcile import runs, stuck, sweep
from tests.support import ledger_fixtures as lf

HOUR = dt.timedelta(hours=1)


def test_metrics_count_from_the_database_whoever_did_the_work(stack, client):
    seller = lf.user("seller@example.com")
    buyer = lf.funded_user("buyer@example.com", 100_000)
    item = lf.product(seller, 1_000, stock=5)
    old = lf.purchase_intent(buyer, item)
    lf.purchase_intent(buyer, item)
    with db.atomic():
        Transaction.update(updated_at=db.utcnow() - HOUR).where(Transaction.id == old.id).execute()
        Discrepancy.create(id=db.new_id("dsc"), kind="missing_locally", subject="funding", reference="ref-x",
                           detail="x", first_run_id="run_x", last_run_id="run_x", last_seen_at=db.utcnow())
    with runs.recorded(runs.SWEEP) as report:
        report.discrepancies = 0
    text = client.simulate_get("/metrics").text
    assert 'mkt_transactions_open{kind="purchase",status="pending"} 2.0' in text
    assert 'mkt_transactions_stuck{status="pending"} 1.0' in text
    assert 'mkt_reconcile_discrepancies_open{kind="missing_locally"} 1.0' in text
    assert 'mkt_reconcile_last_run_timestamp_seconds{job="sweep"}' in text
    assert 'mkt_reconcile_last_run_failed{job="sweep"} 0.0' in text
    assert "mkt_reconcile_metrics_up 1.0" in text


def test_a_failed_run_records_its_error_and_shows_in_metrics(stack, client):
    with pytest.raises(RuntimeError), runs.recorded(runs.PROVIDER):
        raise RuntimeError("provider unreachable")
    failed = runs.latest(runs.PROVIDER)
    assert failed.status == FAILED and failed.error == "RuntimeError: provider unreachable"
    assert failed.started_at and failed.finished_at and failed.runner
    assert 'mkt_reconcile_last_run_failed{job="provider_reconcile"} 1.0' in client.simulate_get("/metrics").text


def test_periodic_jobs_are_due_from_their_run_records(stack):
    now = db.utcnow()
    every, stale = dt.timedelta(seconds=60), dt.timedelta(minutes=10)
    assert runs.due_every(runs.SWEEP, every, now, stale), "never ran"
    with db.atomic():
        queued = runs.queue(runs.SWEEP)
    assert not runs.due_every(runs.SWEEP, every, now + HOUR / 12, stale), "queued and not lost yet"
    assert runs.due_every(runs.SWEEP, every, now + HOUR, stale), "queued so long ago its message was lost"
    with db.atomic():
        ReconcileRun.update(status=OK).where(ReconcileRun.id == queued.id).execute()
    assert not runs.due_every(runs.SWEEP, every, now + dt.timedelta(seconds=30), stale)
    assert runs.due_every(runs.SWEEP, every, now + dt.timedelta(seconds=61), stale)

    morning = now.replace(hour=2, minute=0)
    assert runs.due_daily(runs.LEDGER_AUDIT_FULL, 3, morning, stale), "a fresh install audits at once"
    with db.atomic():
        ReconcileRun.create(id=db.new_id("run"), job=runs.LEDGER_AUDIT_FULL, status=OK,
                            created_at=morning - dt.timedelta(hours=1))
    assert not runs.due_daily(runs.LEDGER_AUDIT_FULL, 3, morning, stale), "today's slot has not come"
    assert runs.due_daily(runs.LEDGER_AUDIT_FULL, 3, morning + 2 * HOUR, stale)


def test_sweep_removes_expired_keys_stray_receipts_and_old_runs(stack):
    buyer = lf.user("buyer@example.com")
    now = db.utcnow()
    with db.atomic():
        for index, expires in enumerate((now - HOUR, now - HOUR, now + HOUR)):
            IdempotencyKey.create(id=db.new_id("idk"), user=buyer, key=f"k{index}", request_hash="h",
                                  expires_at=expires)
        ReconcileRun.create(id=db.new_id("run"), job=runs.STUCK_EMAILS, status=OK, created_at=now - 40 * 24 * HOUR)
    stray = stack.settings.media_root / "receipts" / "MKT-000999-abc.pdf"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"%PDF")
    os.utime(stray, (time.time() - 7200, time.time() - 7200))

    sweep.run(stack.settings)
    assert [k.key for k in IdempotencyKey.select()] == ["k2"]
    assert not stray.exists()
    assert ReconcileRun.select().where(ReconcileRun.job == runs.STUCK_EMAILS).count() == 0
    assert runs.latest(runs.SWEEP).changed == 4


def test_stuck_finders_skip_what_is_not_due(stack):
    seller = lf.user("seller@example.com")
    buyer = lf.funded_user("buyer@example.com", 100_000)
    item = lf.product(seller, 1_000, stock=5)
    fresh, waiting, due = (lf.purchase_intent(buyer, item) for _ in range(3))
    now = db.utcnow() + dt.timedelta(seconds=stack.settings.reconcile_after_seconds + 1)
    with db.atomic():
        Transaction.update(updated_at=now).where(Transaction.id == fresh.id).execute()
        Transaction.update(attempts=1, next_attempt_at=now + HOUR).where(Transaction.id == waiting.id).execute()
    found = stuck.stuck_transactions(now, stack.settings, limit=10)
    assert [t.id for t in found] == [due.id]


@pytest.mark.skipif(os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="SQLite's planner")
def test_finders_read_only_their_index_ranges(stack):
    now = db.utcnow()
    queries = [stuck.stuck_query(now, stack.settings, 10), stuck.receipts_query(now, stack.settings, 10),
               *stuck.email_queries(now, stack.settings, 10)]
    for query in queries:
        sql, params = query.sql()
        plan = [row[-1] for row in db.database.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
        assert any("USING INDEX" in step for step in plan), plan
        assert not any(step.startswith("SCAN") and "INDEX" not in step for step in plan), plan
    receipts_plan = str(db.database.execute_sql("EXPLAIN QUERY PLAN " + queries[1].sql()[0],
                                                queries[1].sql()[1]).fetchall())
    assert "transactions_receipt_pending" in receipts_plan
