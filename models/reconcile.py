"""What the reconciler leaves for operators: its runs, the provider discrepancies it found, and the
per-account checkpoints that make the ledger audit incremental.

It also declares the indexes its finders need on tables owned by other modules (added here, not in
their Meta, so that each finder's index lives next to the reasoning about it). Every one of them is
created by migration 0005.
"""

from __future__ import annotations

import peewee as pw

from models.accounts import Account
from models.db import BaseModel
from models.ledger import Hold, LedgerEntry, Posting
from models.transactions import Alert, Transaction

QUEUED, RUNNING, OK, FAILED, SKIPPED = "queued", "running", "ok", "failed", "skipped"
RUN_STATUSES = (QUEUED, RUNNING, OK, FAILED, SKIPPED)

# Discrepancy kinds (provider reconciliation).
MISSING_AT_PROVIDER, MISSING_LOCALLY = "missing_at_provider", "missing_locally"
AMOUNT_MISMATCH, CURRENCY_MISMATCH, STATUS_MISMATCH = "amount_mismatch", "currency_mismatch", "status_mismatch"


class ReconcileRun(BaseModel):
    """One run of one reconciler job: when, what it looked at, what it changed, what it found."""

    id = pw.CharField(primary_key=True, max_length=40)
    job = pw.CharField(max_length=40)
    status = pw.CharField(max_length=16, default=QUEUED)
    runner = pw.CharField(max_length=120, null=True)  # host:pid of the process that ran it
    started_at = pw.DateTimeField(null=True)
    finished_at = pw.DateTimeField(null=True)
    window_start = pw.DateTimeField(null=True)  # the time range it covered, where that applies
    window_end = pw.DateTimeField(null=True)
    examined = pw.IntegerField(default=0)
    changed = pw.IntegerField(default=0)
    discrepancies = pw.IntegerField(default=0)  # violations, mismatches or flags raised by this run
    detail = pw.TextField(default="{}")  # JSON: ids acted on, violations (capped)
    error = pw.TextField(null=True)

    class Meta:
        table_name = "reconcile_runs"
        indexes = ((("job", "created_at"), False),)  # latest run per job, retention per job
        constraints = [pw.Check("status IN ('queued', 'running', 'ok', 'failed', 'skipped')")]


class Discrepancy(BaseModel):
    """Our record and the provider's disagree. One row per (reference, kind), reopened if it recurs."""

    id = pw.CharField(primary_key=True, max_length=40)
    kind = pw.CharField(max_length=32)
    subject = pw.CharField(max_length=16)  # funding (provider transaction) or withdrawal (provider transfer)
    reference = pw.CharField(max_length=100)
    transaction_id = pw.CharField(max_length=40, null=True)
    ours = pw.TextField(default="{}")  # JSON {status, amount, currency}
    theirs = pw.TextField(default="{}")
    detail = pw.TextField()
    first_run_id = pw.CharField(max_length=40)
    last_run_id = pw.CharField(max_length=40)
    last_seen_at = pw.DateTimeField()
    resolved_at = pw.DateTimeField(null=True)
    resolution = pw.CharField(max_length=255, null=True)

    class Meta:
        table_name = "reconcile_discrepancies"
        indexes = ((("reference", "kind"), True),)


class AuditCheckpoint(BaseModel):
    """The sum of an account's entries created up to `as_of`: the incremental audit's starting point."""

    account = pw.ForeignKeyField(Account, primary_key=True, on_delete="RESTRICT")
    entry_sum = pw.BigIntegerField()
    as_of = pw.DateTimeField()

    class Meta:
        table_name = "audit_checkpoints"


# Open discrepancies by kind (metrics, dashboard) without reading the resolved history.
Discrepancy.add_index(Discrepancy.index(Discrepancy.kind, where=Discrepancy.resolved_at.is_null(),
                                        name="reconcile_discrepancies_open"))
# Succeeded purchases still waiting for their receipt: the receipts finder reads only these rows. Same
# columns as (status, updated_at), so planners prefer this much smaller index for the finder's query.
Transaction.add_index(Transaction.index(
    Transaction.status, Transaction.updated_at, name="transactions_receipt_pending",
    where=(Transaction.kind == "purchase") & (Transaction.status == "succeeded") & Transaction.receipt_path.is_null()))
# Open alerts by kind (metrics) without reading resolved ones.
Alert.add_index(Alert.index(Alert.kind, where=Alert.resolved_at.is_null(), name="alerts_open_kind"))
# Incremental ledger audit: postings of a time window, an account's entries after its checkpoint,
# and holds that moved in the window.
Posting.add_index(Posting.index(Posting.created_at, name="postings_created_at"))
LedgerEntry.add_index(LedgerEntry.index(LedgerEntry.account, LedgerEntry.created_at,
                                        name="ledger_entries_account_id_created_at"))
Hold.add_index(Hold.index(Hold.updated_at, name="holds_updated_at"))
