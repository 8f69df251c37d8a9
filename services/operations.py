"""What operators look at: queues, stuck money, alerts, email delivery, reconciliation runs."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import peewee as pw
import redis

from models import db
from models.outbox import Email
from models.reconcile import Discrepancy, ReconcileRun
from models.transactions import FINAL, Alert, Transaction
from services.jobs import QUEUES


def queue_depths(client: redis.Redis, namespace: str) -> list[dict[str, Any]]:
    """Per Dramatiq queue: ready, in flight, delayed, dead-lettered (its Redis key layout)."""
    prefix = f"{namespace}-dramatiq:"
    pipe = client.pipeline()
    for queue in QUEUES:
        pipe.llen(prefix + queue)
        pipe.hlen(f"{prefix}{queue}.msgs")
        pipe.hlen(f"{prefix}{queue}.DQ.msgs")
        pipe.zcard(f"{prefix}{queue}.XQ")
    values = pipe.execute()
    rows = []
    for index, queue in enumerate(QUEUES):
        ready, total, delayed, dead = values[index * 4: index * 4 + 4]
        rows.append({"queue": queue, "ready": ready, "in_flight": max(0, total - ready), "delayed": delayed,
                     "dead": dead})
    return rows


def open_transactions() -> list[dict[str, Any]]:
    rows = (Transaction.select(Transaction.kind, Transaction.status, pw.fn.COUNT(Transaction.id).alias("count"),
                               pw.fn.MIN(Transaction.updated_at).alias("oldest"))
            .where(Transaction.status.not_in(FINAL)).group_by(Transaction.kind, Transaction.status).dicts())
    now = db.utcnow()
    return [{**r, "oldest_seconds": int((now - _as_datetime(r["oldest"])).total_seconds())} for r in rows]


def _as_datetime(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def email_counts() -> dict[str, int]:
    return {status: count for status, count in
            Email.select(Email.status, pw.fn.COUNT(Email.id)).group_by(Email.status).tuples()}


def dashboard(client: redis.Redis, namespace: str) -> dict[str, Any]:
    heartbeat = client.get(f"{namespace}:scheduler:heartbeat")
    return {
        "generated_at": db.utcnow().isoformat() + "Z",
        "scheduler_heartbeat_age_seconds": int(time.time() - int(heartbeat)) if heartbeat else None,
        "queues": queue_depths(client, namespace),
        "open_transactions": open_transactions(),
        "emails": email_counts(),
        "failed_emails": list(Email.select(Email.id, Email.to_address, Email.template, Email.last_error,
                                           Email.updated_at).where(Email.status == "failed")
                              .order_by(Email.updated_at.desc()).limit(20).dicts()),
        "alerts": list(Alert.select().where(Alert.resolved_at.is_null()).order_by(Alert.id.desc()).limit(50)
                       .dicts()),
        "discrepancies": list(Discrepancy.select().where(Discrepancy.resolved_at.is_null())
                              .order_by(Discrepancy.last_seen_at.desc()).limit(50).dicts()),
        "runs": list(ReconcileRun.select().order_by(ReconcileRun.id.desc()).limit(30).dicts()),
    }
