"""Funding under provider faults: declined, unpaid and expired checkouts, amount and currency
mismatches, forged / replayed / duplicated / delayed / reordered / dropped webhooks, and verify
answering 500s. Real gunicorn web and Dramatiq worker processes, the Paystack sandbox over HTTP;
every test ends with exact balances and a clean ledger audit."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from models import db
from models.identity import User
from models.transactions import FUNDING, REQUIRES_ACTION, Alert, Transaction, WebhookEvent
from services.payments import new_reference
from tests.support import ledger_fixtures as lf
from tests.support.money import (
    Api,
    active_faults,
    assert_ledger_clean,
    decline_checkout,
    fund,
    pay_checkout,
    resend_webhook,
    sandbox_fault,
    signed_in_user,
    webhook_deliveries,
    webhooks_settled,
)
from tests.support.procs import NoJobs, wait_until
from workers.payments.flows import Payments

AMOUNT = 250_000


def checkout(api: Api, amount: int = AMOUNT) -> dict[str, Any]:
    """A funding intent with its checkout issued (requires_action)."""
    intent = api.post("/v1/fundings", {"amount": amount})
    assert intent.status_code == 202, intent.text
    return api.wait_status(intent.json()["id"], REQUIRES_ACTION)


def customer_returns(web: str, reference: str) -> None:
    """The checkout's redirect back to callback_url: it only nudges the worker to verify."""
    page = requests.get(f"{web}/v1/fundings/callback", params={"reference": reference}, timeout=10)
    assert page.status_code == 200


def signed(body: bytes, key: str) -> dict[str, str]:
    return {"x-paystack-signature": hmac.new(key.encode(), body, hashlib.sha512).hexdigest(),
            "Content-Type": "application/json"}


def flags(txn_id: str) -> list[str]:
    return sorted(a.kind for a in Alert.select().where(Alert.transaction_id == txn_id))


# --- verify outcomes -----------------------------------------------------------------------------

def test_a_declined_payment_fails_the_funding(web, worker, stack, deps):
    buyer = signed_in_user(web, "buyer@example.com", deps)
    ready = checkout(buyer)
    decline_checkout(stack.paystack_url, ready["reference"])
    customer_returns(web, ready["reference"])
    failed = buyer.wait_status(ready["id"], "failed")
    assert failed["failure_reason"] == "payment_failed"
    assert buyer.wallet() == {"currency": "NGN", "balance": 0, "held": 0, "available": 0}
    assert_ledger_clean()


def test_paying_after_a_decline_is_flagged_not_lost(web, worker, stack, deps):
    """The sandbox (like Paystack) lets the customer pay after a decline; the funding is already
    final, so the money cannot be credited automatically: operators are told, nothing moves."""
    buyer = signed_in_user(web, "buyer@example.com", deps)
    ready = checkout(buyer)
    decline_checkout(stack.paystack_url, ready["reference"])
    customer_returns(web, ready["reference"])
    buyer.wait_status(ready["id"], "failed")
    pay_checkout(stack.paystack_url, ready["reference"])
    wait_until(lambda: flags(ready["id"]) == ["paid_after_failure"], message="the late payment to be flagged")
    txn = Transaction.get_by_id(ready["id"])
    assert (txn.status, txn.failure_reason) == ("failed", "payment_failed")
    assert txn.flagged_reason.startswith("paid_after_failure")
    assert buyer.wallet()["balance"] == 0
    assert_ledger_clean()


def test_an_unpaid_checkout_waits_and_stays_payable(web, worker, stack, deps):
    buyer = signed_in_user(web, "buyer@example.com", deps)
    ready = checkout(buyer)
    # Verify says "abandoned" (not paid yet): the funding keeps waiting, however often it is asked.
    payments = Payments(stack.settings, deps.paystack, NoJobs())
    assert [payments.confirm_funding(ready["id"]) for _ in range(2)] == ["waiting", "waiting"]
    customer_returns(web, ready["reference"])
    assert Transaction.get_by_id(ready["id"]).status == REQUIRES_ACTION
    pay_checkout(stack.paystack_url, ready["reference"])
    assert buyer.wait_status(ready["id"], "succeeded", "failed")["status"] == "succeeded"
    assert buyer.wallet()["balance"] == AMOUNT
    assert_ledger_clean()


def test_an_expired_checkout_fails_as_abandoned_and_a_late_payment_is_flagged(web, worker, stack, deps):
    buyer = signed_in_user(web, "buyer@example.com", deps)
    ready = checkout(buyer)
    with db.atomic():
        Transaction.update(created_at=db.utcnow() - dt.timedelta(hours=24, minutes=1)).where(
            Transaction.id == ready["id"]).execute()
    customer_returns(web, ready["reference"])
    assert buyer.wait_status(ready["id"], "failed")["failure_reason"] == "payment_abandoned"
    pay_checkout(stack.paystack_url, ready["reference"])
    wait_until(lambda: flags(ready["id"]) == ["paid_after_failure"], message="the late payment to be flagged")
    assert buyer.wallet()["balance"] == 0
    assert_ledger_clean()


@dataclass
class Verifies:
    """A provider whose verify endpoint answers what the test says (states the sandbox never shows)."""

    answer: dict[str, Any]

    def verify_transaction(self, reference: str) -> dict[str, Any]:
        return {"reference": reference, **self.answer}


def waiting_funding(age: dt.timedelta, owner: User | None = None) -> Transaction:
    owner = owner or lf.user("buyer@example.com")
    with db.atomic():
        return Transaction.create(id=db.new_id("txn"), kind=FUNDING, status=REQUIRES_ACTION, user=owner,
                                  amount=AMOUNT, currency="NGN", reference=new_reference(FUNDING),
                                  authorization_url="https://checkout.invalid/x", created_at=db.utcnow() - age)


@pytest.mark.parametrize("status", ["abandoned", "ongoing", "pending"])
def test_waiting_checkouts_expire_only_after_the_checkout_expiry(stack, status):
    provider = Verifies({"status": status, "amount": AMOUNT, "currency": "NGN"})
    payments = Payments(stack.settings, provider, NoJobs())
    fresh = waiting_funding(payments.checkout_expiry - dt.timedelta(minutes=5))
    assert payments.confirm_funding(fresh.id) == "waiting"
    assert Transaction.get_by_id(fresh.id).status == REQUIRES_ACTION
    stale = waiting_funding(payments.checkout_expiry + dt.timedelta(minutes=5), owner=fresh.user)
    assert payments.confirm_funding(stale.id) == "abandoned"
    assert payments.confirm_funding(stale.id) == "skipped"
    txn = Transaction.get_by_id(stale.id)
    assert (txn.status, txn.failure_reason) == ("failed", "payment_abandoned")
    assert lf.balance(txn.user_id) == 0
    assert_ledger_clean()


@pytest.mark.parametrize("answer", [{"amount": AMOUNT, "currency": "USD"}, {"amount": AMOUNT + 1, "currency": "NGN"}])
def test_a_mismatched_success_credits_nothing_and_is_flagged(stack, answer):
    payments = Payments(stack.settings, Verifies({"status": "success", **answer}), NoJobs())
    txn = waiting_funding(dt.timedelta(minutes=1))
    assert payments.confirm_funding(txn.id) == "amount_mismatch"
    assert payments.confirm_funding(txn.id) == "skipped"
    txn = Transaction.get_by_id(txn.id)
    assert (txn.status, txn.failure_reason) == ("failed", "amount_mismatch")
    assert flags(txn.id) == ["amount_mismatch"] and txn.flagged_reason.startswith("amount_mismatch")
    assert lf.balance(txn.user_id) == 0
    assert_ledger_clean()


def test_verify_reporting_another_amount_credits_nothing_and_flags_it(web, worker, stack, deps):
    buyer = signed_in_user(web, "buyer@example.com", deps)
    sandbox_fault(stack.paystack_url, {"endpoint": "transaction.verify", "amount_delta": -100})
    ready = checkout(buyer)
    pay_checkout(stack.paystack_url, ready["reference"])
    failed = buyer.wait_status(ready["id"], "failed", "succeeded")
    assert failed["status"] == "failed" and failed["failure_reason"] == "amount_mismatch"
    txn = Transaction.get_by_id(ready["id"])
    assert flags(txn.id) == ["amount_mismatch"]
    assert str(AMOUNT - 100) in txn.flagged_reason and str(AMOUNT) in txn.flagged_reason
    # The honest event again (the fault is spent): a final funding does not move.
    resend_webhook(stack.paystack_url, ready["reference"])
    wait_until(lambda: webhooks_settled(ready["reference"], 1), message="the resent event to be processed")
    assert buyer.wallet()["balance"] == 0
    assert buyer.get(f"/v1/transactions/{ready['id']}").json()["status"] == "failed"
    assert_ledger_clean()


# --- webhooks ------------------------------------------------------------------------------------

def test_forged_and_replayed_events_change_nothing_more(web, worker, stack, deps):
    buyer = signed_in_user(web, "buyer@example.com", deps)
    ready = checkout(buyer)
    claim = json.dumps({"event": "charge.success", "data": {"reference": ready["reference"], "amount": AMOUNT,
                                                            "currency": "NGN", "status": "success"}}).encode()
    forged = requests.post(f"{web}/v1/webhooks/paystack", data=claim, headers=signed(claim, "guessed-key"),
                           timeout=10)
    assert forged.status_code == 401 and WebhookEvent.select().count() == 0
    # Correctly signed but untrue (nobody paid): verify says abandoned, nothing is credited.
    key = stack.settings.paystack_secret_key
    assert requests.post(f"{web}/v1/webhooks/paystack", data=claim, headers=signed(claim, key),
                         timeout=10).status_code == 200
    wait_until(lambda: webhooks_settled(ready["reference"], 1), message="the untrue event to be processed")
    assert Transaction.get_by_id(ready["id"]).status == REQUIRES_ACTION

    pay_checkout(stack.paystack_url, ready["reference"])
    assert buyer.wait_status(ready["id"], "succeeded")["amount"] == AMOUNT
    wait_until(lambda: webhooks_settled(ready["reference"], 2), message="the real event to be processed")
    # Replays: the provider's own resend (byte-identical), ours again, and a re-serialised copy.
    resend_webhook(stack.paystack_url, ready["reference"])
    requests.post(f"{web}/v1/webhooks/paystack", data=claim, headers=signed(claim, key), timeout=10)
    respaced = json.dumps(json.loads(claim), indent=1).encode()
    requests.post(f"{web}/v1/webhooks/paystack", data=respaced, headers=signed(respaced, key), timeout=10)
    wait_until(lambda: webhooks_settled(ready["reference"], 3), message="the replays to be processed")
    assert buyer.wallet() == {"currency": "NGN", "balance": AMOUNT, "held": 0, "available": AMOUNT}
    assert_ledger_clean()


def test_duplicated_webhooks_credit_once(web, worker, stack, deps):
    buyer = signed_in_user(web, "buyer@example.com", deps)
    sandbox_fault(stack.paystack_url, {"webhooks": "duplicate", "count": 1})
    funded = fund(buyer, stack.paystack_url, AMOUNT)
    assert funded["status"] == "succeeded"
    wait_until(lambda: webhook_deliveries(stack.paystack_url, funded["reference"]) == 2
               and webhooks_settled(funded["reference"], 1), message="one stored event for two deliveries")
    assert buyer.wallet()["balance"] == AMOUNT
    assert_ledger_clean()


def test_a_delayed_webhook_still_credits(web, worker, stack, deps):
    buyer = signed_in_user(web, "buyer@example.com", deps)
    sandbox_fault(stack.paystack_url, {"webhooks": "delay", "delay_ms": 500})
    ready = checkout(buyer)
    pay_checkout(stack.paystack_url, ready["reference"])
    assert buyer.get(f"/v1/transactions/{ready['id']}").json()["status"] == REQUIRES_ACTION
    assert buyer.wait_status(ready["id"], "succeeded", "failed")["status"] == "succeeded"
    assert buyer.wallet()["balance"] == AMOUNT
    assert_ledger_clean()


def test_reordered_webhooks_credit_each_funding_once(web, worker, stack, deps):
    buyer = signed_in_user(web, "buyer@example.com", deps)
    first, second = checkout(buyer, 100_000), checkout(buyer, 30_000)
    sandbox_fault(stack.paystack_url, {"webhooks": "reorder", "count": 1, "delay_ms": 3000})
    pay_checkout(stack.paystack_url, first["reference"])  # its event is held back ...
    pay_checkout(stack.paystack_url, second["reference"])  # ... until this one was sent
    assert buyer.wait_status(second["id"], "succeeded")["status"] == "succeeded"
    assert buyer.wait_status(first["id"], "succeeded")["status"] == "succeeded"
    wait_until(lambda: webhooks_settled(first["reference"], 1) and webhooks_settled(second["reference"], 1),
               message="both events to be processed")
    assert buyer.wallet()["balance"] == 130_000
    assert_ledger_clean()


def test_a_dropped_webhook_is_healed_by_a_resend_and_more_resends_change_nothing(web, worker, stack, deps):
    buyer = signed_in_user(web, "buyer@example.com", deps)
    sandbox_fault(stack.paystack_url, {"webhooks": "drop", "count": 1})
    ready = checkout(buyer)
    pay_checkout(stack.paystack_url, ready["reference"])
    assert Transaction.get_by_id(ready["id"]).status == REQUIRES_ACTION, "nothing arrived, nothing moved"
    resend_webhook(stack.paystack_url, ready["reference"])
    assert buyer.wait_status(ready["id"], "succeeded")["status"] == "succeeded"
    for _ in range(2):
        resend_webhook(stack.paystack_url, ready["reference"])
    wait_until(lambda: webhooks_settled(ready["reference"], 1), message="the resends to be absorbed")
    assert buyer.wallet()["balance"] == AMOUNT
    assert_ledger_clean()


# --- provider errors -----------------------------------------------------------------------------

@pytest.mark.parametrize("failures", [2, 5], ids=["absorbed-by-client-retries", "actor-retries"])
def test_verify_answering_500_then_recovering_credits_once(web, worker, stack, deps, failures):
    """2 failures are ridden out by the client's paced read retries; 5 outlast them (3 per run), so
    the actor itself must fail and be retried by Dramatiq with backoff."""
    buyer = signed_in_user(web, "buyer@example.com", deps)
    ready = checkout(buyer)
    sandbox_fault(stack.paystack_url, {"endpoint": "transaction.verify", "status": 500, "count": failures})
    pay_checkout(stack.paystack_url, ready["reference"])
    assert buyer.wait_status(ready["id"], "succeeded", "failed")["status"] == "succeeded"
    assert active_faults(stack.paystack_url) == [], "every injected 500 was answered to a verify"
    wait_until(lambda: webhooks_settled(ready["reference"], 1), message="the event to be marked processed")
    assert buyer.wallet()["balance"] == AMOUNT
    assert_ledger_clean()
