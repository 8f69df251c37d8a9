"""Nothing stays stuck: each mishap converges to the right final state and balances, with the ledger
audit clean and the provider matching, driven by the real scheduler process (`python -m scheduler`,
RECONCILE_INTERVAL_SECONDS=1, RECONCILE_AFTER_SECONDS=1) and the real Dramatiq worker."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import time

import pytest

from models import db
from models.catalogue import Product
from models.ledger import HOLD_PENDING, Hold
from models.outbox import Email
from models.receipts import Receipt
from models.reconcile import STATUS_MISMATCH, Discrepancy, ReconcileRun
from models.transactions import PROCESSING, Alert, Transaction, WebhookEvent
from services import settlement
from services.jobs import SETTLE_PURCHASE, BrokerDispatcher
from services.reconcile import runs
from services.reconcile.stuck import STUCK_ALERT
from tests.support import ledger_fixtures as lf
from tests.support.money import (
    active_faults,
    pay_checkout,
    provider_transfers,
    sandbox_fault,
    sandbox_webhooks,
    signed_in_user,
)
from tests.support.procs import PYTHON, NoJobs, spawn, wait_until
from tests.support.reconcile import (
    assert_reconciled,
    bank_account,
    checkout,
    intent_claim,
    lost_messages,
    postings,
    provider_client,
    provider_credit,
    respond,
    schedulers,
    wait_status,
    wallet,
    withdrawal_intent,
)
from workers.broker import make_broker
from workers.payments.flows import Payments

AMOUNT, PRICE = 250_000, 40_000


@pytest.fixture
def scheduler(stack, worker):
    with schedulers(stack) as procs:
        yield procs[0]


def balance(user) -> int:
    return lf.balance(user.id)


def redriven(job: str) -> set[str]:
    """Ids the scheduler's runs of `job` re-drove, from their run records."""
    return {txn_id for run in ReconcileRun.select().where(ReconcileRun.job == job)
            for txn_id in json.loads(run.detail).get("redriven", [])}


def test_a_lost_webhook_is_healed_by_verifying_with_the_provider(web, worker, stack, deps, scheduler):
    buyer = signed_in_user(web, "buyer@example.com", deps)
    sandbox_fault(stack.paystack_url, {"webhooks": "drop", "count": 1})
    intent = buyer.post("/v1/fundings", {"amount": AMOUNT}).json()
    ready = buyer.wait_status(intent["id"], "requires_action")
    pay_checkout(stack.paystack_url, ready["reference"])  # charge.success is lost; nobody visits the callback

    assert buyer.wait_status(intent["id"], "succeeded", "failed")["status"] == "succeeded"
    assert [event["dropped"] for event in sandbox_webhooks(stack.paystack_url, ready["reference"])] == [True]
    assert WebhookEvent.select().count() == 0, "the API never heard of the payment: the reconciler verified it"
    assert buyer.wallet()["balance"] == AMOUNT
    assert postings(intent["id"]) == ["funding"]
    assert_reconciled()


def test_intents_whose_messages_were_lost_are_re_driven(stack, worker, scheduler):
    """Every enqueue after commit lost (NoJobs): the funding, the purchase and the withdrawal are
    re-driven through their normal actors; so are a settled purchase's receipt, a held withdrawal
    whose transfer never started, and emails that were never sent."""
    buyer, seller = lf.user("buyer@example.com"), lf.user("seller@example.com")
    provider_credit(stack, buyer, 200_000)  # its "wallet funded" email was never enqueued either
    provider_credit(stack, seller, 100_000)
    bank = bank_account(stack, seller)
    item = lf.product(seller, PRICE, stock=5)
    service = lost_messages(stack)
    funding = service.create_funding(buyer, AMOUNT, "NGN", intent_claim(buyer), respond)
    purchase = service.create_purchase(buyer, item.id, 2, intent_claim(buyer), respond)
    withdrawal = service.create_withdrawal(seller, 60_000, bank.id, intent_claim(seller), respond)
    settled = lf.purchase_intent(buyer, item)
    assert settlement.settle_purchase(settled.id, NoJobs()) == "succeeded"  # its receipt message is lost
    held = withdrawal_intent(seller, 20_000, bank)
    assert settlement.hold_for_payout(held.id, NoJobs())  # the worker died before calling the provider

    ready = wait_status(funding.id, "requires_action")
    pay_checkout(stack.paystack_url, ready.reference)
    for txn in (funding, purchase, withdrawal, held):
        assert wait_status(txn.id, "succeeded", "failed").status == "succeeded", txn.kind
    for txn in (purchase, settled):
        wait_until(lambda txn=txn: Receipt.get_or_none(Receipt.transaction == txn.id, Receipt.path.is_null(False)),
                   timeout=30, message="the receipt")
    wait_until(lambda: Email.select().where(Email.status != "sent").count() == 0, timeout=30,
               message="every email, including those never enqueued, to be sent")

    assert balance(buyer) == 200_000 + AMOUNT - 3 * PRICE
    assert balance(seller) == 100_000 + 3 * PRICE - 60_000 - 20_000
    assert Product.get_by_id(item.id).stock == 2
    assert [postings(t.id) for t in (funding, purchase, withdrawal, held)] == [
        ["funding"], ["purchase"], ["withdrawal"], ["withdrawal"]]
    assert len(provider_transfers(stack.paystack_url, stack.settings.paystack_secret_key, held.reference)) == 1
    assert redriven(runs.STUCK_RECEIPTS) >= {settled.id}
    assert redriven(runs.STUCK_TRANSACTIONS) >= {funding.id, purchase.id, withdrawal.id, held.id}
    assert redriven(runs.STUCK_EMAILS), "the emails nobody enqueued"
    assert_reconciled()


def test_a_worker_killed_mid_settle_leaves_nothing_and_the_purchase_settles_once(stack, worker, tmp_path):
    seller, buyer = lf.user("seller@example.com"), lf.user("buyer@example.com")
    item = lf.product(seller, PRICE, stock=5)
    provider_credit(stack, buyer, 3 * PRICE)
    txn = lf.purchase_intent(buyer, item, quantity=2)

    # A worker of its own (own queue namespace) takes the message, writes the posting, and is killed
    # before committing: the message dies with it.
    marker, side = tmp_path / "posted", f"{stack.settings.redis_namespace}-hang"
    doomed = spawn([PYTHON, "-m", "dramatiq", "tests.support.hang_worker", "--processes", "1", "--threads", "1"],
                   env={**stack.env, "REDIS_NAMESPACE": side, "HANG_MARKER": str(marker)},
                   log_path=stack.logs / "hang-worker.log")
    try:
        BrokerDispatcher(make_broker(stack.settings.replace(redis_namespace=side))).dispatch(SETTLE_PURCHASE, txn.id)
        wait_until(marker.exists, timeout=30, message="the worker to be mid-settle")
    finally:
        os.killpg(doomed.pid, signal.SIGKILL)
        doomed.wait(10)
    assert Transaction.get_by_id(txn.id).status == "pending", "its transaction rolled back with it"
    assert postings(txn.id) == [] and Product.get_by_id(item.id).stock == 5 and balance(buyer) == 3 * PRICE

    with schedulers(stack):
        assert wait_status(txn.id, "succeeded", "failed").status == "succeeded"
        assert postings(txn.id) == ["purchase"]
        assert Product.get_by_id(item.id).stock == 3
        assert (balance(buyer), balance(seller)) == (PRICE, 2 * PRICE)
        assert_reconciled()


def test_verify_answering_500s_then_recovering(stack, worker, scheduler):
    buyer = lf.user("buyer@example.com")
    txn = checkout(stack, buyer, AMOUNT)
    sandbox_fault(stack.paystack_url, {"webhooks": "drop", "count": 1})
    sandbox_fault(stack.paystack_url, {"endpoint": "transaction.verify", "status": 500, "count": 6})
    pay_checkout(stack.paystack_url, txn.reference)

    assert wait_status(txn.id, "succeeded", "failed", timeout=45).status == "succeeded"
    assert active_faults(stack.paystack_url) == [], "every 500 was answered to someone before it worked"
    assert Transaction.get_by_id(txn.id).attempts >= 1
    assert balance(buyer) == AMOUNT and postings(txn.id) == ["funding"]
    assert_reconciled()


def test_an_abandoned_checkout_fails_after_its_expiry_and_a_fresh_one_waits(stack, worker, scheduler):
    buyer = lf.user("buyer@example.com")
    expiry = dt.timedelta(seconds=stack.settings.checkout_expiry_seconds)
    stale = checkout(stack, buyer, AMOUNT, created_at=db.utcnow() - expiry - dt.timedelta(minutes=1))
    fresh = checkout(stack, buyer, AMOUNT)

    failed = wait_status(stale.id, "failed")
    assert failed.failure_reason == "payment_abandoned"
    wait_until(lambda: Transaction.get_by_id(fresh.id).attempts >= 2, message="the fresh checkout to be verified")
    waiting = Transaction.get_by_id(fresh.id)
    assert waiting.status == "requires_action" and waiting.flagged_reason is None
    assert balance(buyer) == 0 and postings(stale.id) == []
    wait_until(lambda: Email.get_or_none(Email.template == "funding_failed", Email.status == "sent"),
               message="the funding-failed email")
    assert_reconciled()


def test_a_transfer_reversed_after_we_recorded_it_paid(stack, worker):
    """Both transfer webhooks are lost; the provider reconciliation sees the reversal."""
    seller = lf.user("seller@example.com")
    provider_credit(stack, seller, AMOUNT)
    txn = withdrawal_intent(seller, 60_000, bank_account(stack, seller))
    sandbox_fault(stack.paystack_url, {"transfers": "reverse"})
    sandbox_fault(stack.paystack_url, {"webhooks": "drop", "count": 2})
    client = provider_client(stack)
    assert Payments(stack.settings, client, NoJobs()).start_payout(txn.id) == "pending"
    wait_until(lambda: client.verify_transfer(txn.reference)["status"] == "success", interval=0.01,
               message="the transfer to be paid")
    assert settlement.capture_payout(txn.id, NoJobs())  # what the success webhook would have led to
    wait_until(lambda: client.verify_transfer(txn.reference)["status"] == "reversed", message="the bank to reverse")
    assert balance(seller) == AMOUNT - 60_000

    with schedulers(stack):
        assert wait_status(txn.id, "reversed").status == "reversed"
        assert balance(seller) == AMOUNT
        assert postings(txn.id) == ["withdrawal", "withdrawal_reversal"]
        found = Discrepancy.get(Discrepancy.reference == txn.reference)
        assert (found.kind, found.detail) == (STATUS_MISMATCH, "ours succeeded, provider reversed")
        assert_reconciled()
    assert Discrepancy.get_by_id(found.id).resolved_at is not None
    assert len(provider_transfers(stack.paystack_url, stack.settings.paystack_secret_key, txn.reference)) == 1


def test_a_transaction_that_never_converges_is_flagged_and_left_alone(stack, worker, client):
    """A withdrawal whose transfer the provider has never heard of: re-driven with backoff, then
    flagged with the reason after the maximum number of attempts, and not re-driven any more."""
    seller = lf.user("seller@example.com")
    provider_credit(stack, seller, AMOUNT)
    txn = withdrawal_intent(seller, 60_000)
    assert settlement.hold_for_payout(txn.id, NoJobs())
    most = stack.settings.reconcile_max_attempts
    with db.atomic():  # most of its attempts already used, to keep the test short
        Transaction.update(transfer_code="TRF_unknown", attempts=most - 1).where(Transaction.id == txn.id).execute()

    with schedulers(stack):
        wait_until(lambda: Transaction.get_by_id(txn.id).flagged_reason, timeout=20, message="the flag")
        time.sleep(2)  # two more ticks: nothing more happens to it
        flagged = Transaction.get_by_id(txn.id)
    assert flagged.attempts == most + 1 and flagged.status == PROCESSING
    assert flagged.flagged_reason.startswith(f"{STUCK_ALERT}: withdrawal still processing after {most} re-drives")
    assert [a.kind for a in Alert.select().where(Alert.transaction_id == txn.id)] == [STUCK_ALERT]
    assert Hold.get(Hold.transaction_id == txn.id).status == HOLD_PENDING, "an operator decides, not the reconciler"
    assert lf.balance(seller.id) == AMOUNT
    flagging = [r for r in ReconcileRun.select().where(ReconcileRun.job == runs.STUCK_TRANSACTIONS)
                if txn.id in json.loads(r.detail).get("flagged", [])]
    assert len(flagging) == 1
    assert "mkt_transactions_flagged 1.0" in client.simulate_get("/metrics").text
    assert wallet(seller)
