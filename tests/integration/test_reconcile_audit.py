"""The ledger audit: incremental (cost follows what changed) and full; violations are recorded and
alerted (alert, run record, metric), never corrected. Called directly on the suite's database."""

from __future__ import annotations

import json

from models import db
from models.accounts import Account
from models.ledger import LedgerEntry, Posting, audit
from models.reconcile import OK, AuditCheckpoint, ReconcileRun
from models.transactions import Alert
from services.reconcile import audit as ledger_audit
from services.reconcile import runs
from services.reconcile.audit import ALERT_KIND
from services.settlement import hold_for_payout
from tests.support import ledger_fixtures as lf
from tests.support.procs import NoJobs
from tests.support.reconcile import wallet, withdrawal_intent


def incremental(stack) -> ReconcileRun:
    """An incremental audit up to now: lag 0, as nothing is in flight in these tests."""
    ledger_audit.run_incremental(stack.settings.replace(reconcile_audit_lag_seconds=0))
    return last_run(runs.LEDGER_AUDIT)


def full(stack) -> ReconcileRun:
    ledger_audit.run_full(stack.settings.replace(reconcile_audit_lag_seconds=0))
    return last_run(runs.LEDGER_AUDIT_FULL)


def last_run(job: str) -> ReconcileRun:
    run = runs.latest(job)
    assert run is not None and run.status == OK, run and run.error
    return run


def violations(run: ReconcileRun) -> list[tuple[str, str]]:
    return sorted((v["rule"], v["subject"]) for v in json.loads(run.detail).get("violations", []))


def open_alerts() -> list[tuple[str, str]]:
    return sorted((a.transaction_id, a.detail.split(":")[0])
                  for a in Alert.select().where(Alert.kind == ALERT_KIND, Alert.resolved_at.is_null()))


def test_a_clean_ledger_audits_clean_and_checkpoints_follow_the_entries(stack):
    buyers = [lf.funded_user(f"buyer{i}@example.com", 10_000 * (i + 1)) for i in range(5)]
    run = incremental(stack)
    assert run.discrepancies == 0 and open_alerts() == []
    assert run.examined == 6, "five wallets and the provider clearing account"
    sums = ledger_audit.entry_sums_until(db.utcnow())
    assert {c.account_id: c.entry_sum for c in AuditCheckpoint.select()} == sums
    assert sum(sums.values()) == 0 and len(buyers) == 5


def test_the_incremental_audit_reads_only_what_changed_since_the_last_one(stack):
    for i in range(20):
        lf.funded_user(f"old{i}@example.com", 5_000)
    first = incremental(stack)
    assert first.examined == 21

    newcomer = lf.funded_user("new@example.com", 7_000)
    second = incremental(stack)
    assert second.window_start == first.window_end
    assert second.examined == 2, "the newcomer's wallet and the provider clearing account, not the 20 others"
    assert AuditCheckpoint.get_by_id(wallet(newcomer)).entry_sum == 7_000
    assert second.discrepancies == 0

    assert incremental(stack).examined == 0, "nothing new, nothing read"


def test_holds_are_audited_when_they_move(stack):
    seller = lf.funded_user("seller@example.com", 50_000)
    incremental(stack)
    txn = withdrawal_intent(seller, 20_000)
    assert hold_for_payout(txn.id, NoJobs())
    with db.atomic():  # a bug that reserves without a hold row
        Account.update(held=Account.held + 1).where(Account.id == wallet(seller)).execute()
    run = incremental(stack)
    assert violations(run) == [("held_matches_holds", wallet(seller))]


def test_an_unbalanced_posting_is_recorded_alerted_and_left_alone(stack, client):
    buyer = lf.funded_user("buyer@example.com", 10_000)
    account = wallet(buyer)
    with db.atomic():  # a bug: money from nowhere, balance and entry consistent, the posting not balanced
        posting = Posting.create(id=db.new_id("pst"), transaction_id="txn_bogus", kind="bogus", description="bug")
        LedgerEntry.create(id=db.new_id("ent"), posting=posting, account=account, transaction_id="txn_bogus",
                           amount=500, balance_after=10_500, description="bug")
        Account.update(balance=Account.balance + 500).where(Account.id == account).execute()
    run = incremental(stack)
    assert violations(run) == [("posting_sums_to_zero", posting.id)]
    assert run.discrepancies == 1 and open_alerts() == [(posting.id, "posting_sums_to_zero")]
    assert Account.get_by_id(account).balance == 10_500, "never silently fixed"

    text = client.simulate_get("/metrics").text
    assert f'mkt_alerts_open{{kind="{ALERT_KIND}"}} 1.0' in text
    assert 'mkt_reconcile_last_run_discrepancies{job="ledger_audit"} 1.0' in text


def test_the_full_audit_catches_what_the_incremental_one_cannot_see(stack):
    buyer = lf.funded_user("buyer@example.com", 10_000)
    other = lf.funded_user("other@example.com", 3_000)
    assert full(stack).discrepancies == 0
    with db.atomic():
        # A balance changed without entries, on an account no later posting touches...
        Account.update(balance=Account.balance + 1).where(Account.id == wallet(buyer)).execute()
        # ...and history rewritten under an existing checkpoint (entries are never updated).
        (LedgerEntry.update(amount=LedgerEntry.amount + 7)
         .where(LedgerEntry.account == wallet(other)).execute())
    assert incremental(stack).discrepancies == 0, "nothing touched these accounts since the last audit"

    found = violations(full(stack))
    assert ("balance_matches_entries", wallet(buyer)) in found
    assert ("entries_immutable", wallet(other)) in found
    assert ("entries_sum_to_zero", "NGN") in found
    assert audit() != []


def test_a_resolved_violation_that_recurs_is_reopened(stack):
    buyer = lf.funded_user("buyer@example.com", 10_000)
    account = wallet(buyer)
    with db.atomic():
        Account.update(balance=Account.balance - 1).where(Account.id == account).execute()
    full(stack)
    assert open_alerts() == [(account, "balance_matches_entries")]
    with db.atomic():  # an operator looked and closed it, but nothing was mended
        Alert.update(resolved_at=db.utcnow()).where(Alert.kind == ALERT_KIND).execute()
    assert open_alerts() == []
    full(stack)
    assert open_alerts() == [(account, "balance_matches_entries")]
    assert Alert.select().where(Alert.kind == ALERT_KIND).count() == 1
