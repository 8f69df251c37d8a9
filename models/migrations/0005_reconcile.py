"""Reconciliation: run records, provider discrepancies, ledger audit checkpoints, and the indexes
the reconciler's finders need on existing tables (so each finder reads what it finds, not history).

Frozen copies of the models as they were at this migration, deliberately independent of models/.
"""

import datetime

from peewee import (
    SQL,
    BigIntegerField,
    CharField,
    Check,
    DateTimeField,
    ForeignKeyField,
    IntegerField,
    Model,
    TextField,
)

# (name, table, columns, partial-index predicate or None)
INDEXES = [
    ("reconcile_discrepancies_open", "reconcile_discrepancies", ("kind",), "resolved_at IS NULL"),
    ("transactions_receipt_pending", "transactions", ("status", "updated_at"),
     "kind = 'purchase' AND status = 'succeeded' AND receipt_path IS NULL"),
    ("alerts_open_kind", "alerts", ("kind",), "resolved_at IS NULL"),
    ("postings_created_at", "postings", ("created_at",), None),
    ("ledger_entries_account_id_created_at", "ledger_entries", ("account_id", "created_at"), None),
    ("holds_updated_at", "holds", ("updated_at",), None),
]


def up(migrator, db):
    class Base(Model):
        created_at = DateTimeField(default=datetime.datetime.utcnow)
        updated_at = DateTimeField(default=datetime.datetime.utcnow)

        class Meta:
            database = db
            legacy_table_names = False

    class Account(Model):  # existing table, referenced only
        id = CharField(primary_key=True, max_length=40)

        class Meta:
            database = db
            table_name = "accounts"

    class ReconcileRun(Base):
        id = CharField(primary_key=True, max_length=40)
        job = CharField(max_length=40)
        status = CharField(max_length=16, default="queued")
        runner = CharField(max_length=120, null=True)
        started_at = DateTimeField(null=True)
        finished_at = DateTimeField(null=True)
        window_start = DateTimeField(null=True)
        window_end = DateTimeField(null=True)
        examined = IntegerField(default=0)
        changed = IntegerField(default=0)
        discrepancies = IntegerField(default=0)
        detail = TextField(default="{}")
        error = TextField(null=True)

        class Meta:
            table_name = "reconcile_runs"
            indexes = ((("job", "created_at"), False),)
            constraints = [Check("status IN ('queued', 'running', 'ok', 'failed', 'skipped')")]

    class Discrepancy(Base):
        id = CharField(primary_key=True, max_length=40)
        kind = CharField(max_length=32)
        subject = CharField(max_length=16)
        reference = CharField(max_length=100)
        transaction_id = CharField(max_length=40, null=True)
        ours = TextField(default="{}")
        theirs = TextField(default="{}")
        detail = TextField()
        first_run_id = CharField(max_length=40)
        last_run_id = CharField(max_length=40)
        last_seen_at = DateTimeField()
        resolved_at = DateTimeField(null=True)
        resolution = CharField(max_length=255, null=True)

        class Meta:
            table_name = "reconcile_discrepancies"
            indexes = ((("reference", "kind"), True),)

    class AuditCheckpoint(Base):
        account = ForeignKeyField(Account, primary_key=True, on_delete="RESTRICT")
        entry_sum = BigIntegerField()
        as_of = DateTimeField()

        class Meta:
            table_name = "audit_checkpoints"

    db.create_tables([ReconcileRun, Discrepancy, AuditCheckpoint])
    for name, table, columns, predicate in INDEXES:
        where = SQL(predicate) if predicate else None
        migrator.add_index(table, columns, where=where, name=name).run()
