"""Provider reconciliation against the Paystack sandbox's list and verify endpoints: one to one by
reference; missing on either side, amount / currency / status disagreements become discrepancy rows,
resolved once the sides agree. Called directly (the scheduler-driven runs are in test_reconcile_flows)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from models import db
from models.reconcile import (
    AMOUNT_MISMATCH,
    MISSING_AT_PROVIDER,
    MISSING_LOCALLY,
    STATUS_MISMATCH,
    Discrepancy,
)
from models.transactions import FAILED, Transaction
from services.jobs import CONFIRM_FUNDING, Job
from services.payments import new_reference
from services.reconcile import provider, runs
from tests.support import ledger_fixtures as lf
from tests.support.money import pay_checkout
from tests.support.reconcile import checkout, provider_client, provider_credit
from workers.reconcile.paystack import PaystackProvider


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[Job, tuple[Any, ...]]] = []

    def dispatch(self, job: Job, *args: Any) -> None:
        self.sent.append((job, args))


@pytest.fixture
def reconcile(stack):
    """Run one provider reconciliation; returns (open discrepancies by (kind, reference), dispatched jobs)."""
    def run() -> tuple[dict[tuple[str, str], Discrepancy], list[tuple[Job, tuple[Any, ...]]]]:
        recorder = Recorder()
        provider.run(stack.settings, PaystackProvider(provider_client(stack)), recorder)
        run_ = runs.latest(runs.PROVIDER)
        assert run_.status == "ok", run_.error
        found = {(d.kind, d.reference): d for d in Discrepancy.select().where(Discrepancy.resolved_at.is_null())}
        return found, recorder.sent

    return run


def foreign_payment(stack, amount: int) -> str:
    """Money the provider received for a reference we never issued."""
    reference = new_reference("funding")
    provider_client(stack).initialize_transaction(email="someone@example.com", amount=amount, reference=reference,
                                                  currency="NGN", callback_url="http://127.0.0.1/")
    pay_checkout(stack.paystack_url, reference)
    return reference


def test_matching_records_leave_nothing_to_report(stack, reconcile):
    buyer = lf.user("buyer@example.com")
    provider_credit(stack, buyer, 120_000)
    checkout(stack, buyer, 5_000)  # still waiting for the customer: in flight, no disagreement
    found, sent = reconcile()
    assert found == {} and sent == []
    assert runs.latest(runs.PROVIDER).examined == 2


def test_each_kind_of_disagreement_is_reported_once(stack, reconcile):
    buyer = lf.user("buyer@example.com")
    lf.credit(buyer.id, 10_000)  # credited with no payment at the provider
    unknown = foreign_payment(stack, 70_000)
    mismatched = provider_credit(stack, buyer, 30_000)
    with db.atomic():  # our record says another amount than the provider's
        Transaction.update(amount=31_000).where(Transaction.id == mismatched.id).execute()
    missing = Transaction.get(Transaction.kind == "funding", Transaction.amount == 10_000)

    found, _ = reconcile()
    assert set(found) == {(MISSING_AT_PROVIDER, missing.reference), (MISSING_LOCALLY, unknown),
                          (AMOUNT_MISMATCH, mismatched.reference)}
    row = found[(AMOUNT_MISMATCH, mismatched.reference)]
    assert json.loads(row.ours)["amount"] == 31_000 and json.loads(row.theirs)["amount"] == 30_000
    assert row.transaction_id == mismatched.id
    assert runs.latest(runs.PROVIDER).discrepancies == 3

    again, _ = reconcile()
    assert set(again) == set(found) and Discrepancy.select().count() == 3, "one row per reference and kind"
    assert again[(AMOUNT_MISMATCH, mismatched.reference)].first_run_id == row.first_run_id


def test_a_discrepancy_is_resolved_once_the_sides_agree(stack, reconcile):
    buyer = lf.user("buyer@example.com")
    txn = provider_credit(stack, buyer, 30_000)
    with db.atomic():
        Transaction.update(amount=29_000).where(Transaction.id == txn.id).execute()
    found, _ = reconcile()
    assert list(found) == [(AMOUNT_MISMATCH, txn.reference)]
    with db.atomic():
        Transaction.update(amount=30_000).where(Transaction.id == txn.id).execute()
    found, _ = reconcile()
    assert found == {}
    resolved = Discrepancy.get(Discrepancy.reference == txn.reference)
    assert resolved.resolved_at is not None and "agree" in resolved.resolution


def test_a_funding_paid_after_we_failed_it_is_reported_and_re_driven(stack, reconcile):
    buyer = lf.user("buyer@example.com")
    txn = checkout(stack, buyer, 40_000)
    with db.atomic():
        Transaction.update(status=FAILED, failure_reason="payment_abandoned").where(Transaction.id == txn.id).execute()
    pay_checkout(stack.paystack_url, txn.reference)
    found, sent = reconcile()
    assert list(found) == [(STATUS_MISMATCH, txn.reference)]
    assert found[(STATUS_MISMATCH, txn.reference)].detail == "ours failed, provider success"
    assert sent == [(CONFIRM_FUNDING, (txn.id,))], "confirm_funding flags it for operators (paid_after_failure)"


def test_a_provider_outage_fails_the_run_and_records_why(stack):
    from tests.support.money import sandbox_fault
    from workers.payments.paystack import PaystackUnavailable

    sandbox_fault(stack.paystack_url, {"endpoint": "transaction.list", "status": 500, "count": 3})
    with pytest.raises(PaystackUnavailable):
        provider.run(stack.settings, PaystackProvider(provider_client(stack)), Recorder())
    failed = runs.latest(runs.PROVIDER)
    assert failed.status == "failed" and "PaystackUnavailable" in failed.error
