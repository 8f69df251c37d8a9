"""Withdrawals under provider faults: two-phase hold -> capture / void, reversals, OTP-gated
transfers, lost and late transfer answers, untrue, duplicated and reordered transfer webhooks. Real
gunicorn web and Dramatiq worker processes and the Paystack sandbox over HTTP (a stub provider only
for answers the sandbox cannot give); every test ends with exact balances, at most one provider
transfer per withdrawal and a clean ledger audit."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from models import db
from models.ledger import HOLD_CAPTURED, HOLD_PENDING, HOLD_VOIDED, Hold
from models.transactions import PROCESSING, WITHDRAWAL, Alert, BankAccount, Transaction
from services.payments import ensure_wallet, new_reference
from tests.support import ledger_fixtures as lf
from tests.support.money import (
    Api,
    active_faults,
    add_bank_account,
    assert_ledger_clean,
    fund,
    provider_transfers,
    resend_webhook,
    sandbox_fault,
    signed_in_user,
    webhook_deliveries,
    webhooks_settled,
)
from tests.support.procs import NoJobs, wait_until
from workers.payments.flows import Payments
from workers.payments.paystack import PaystackNotFound, PaystackRejected

FUNDED, OUT = 100_000, 60_000


@pytest.fixture
def seller(web, worker, stack, deps) -> Api:
    """A signed-in user with a funded wallet and a resolved bank account (`seller.bank`)."""
    api = signed_in_user(web, "seller@example.com", deps)
    assert fund(api, stack.paystack_url, FUNDED)["status"] == "succeeded"
    api.bank = add_bank_account(api)
    return api


def withdraw(api: Api, amount: int = OUT) -> dict[str, Any]:
    response = api.post("/v1/withdrawals", {"amount": amount, "bank_account_id": api.bank})
    assert response.status_code == 202, response.text
    return response.json()


def wallet(balance: int, held: int = 0) -> dict[str, Any]:
    return {"currency": "NGN", "balance": balance, "held": held, "available": balance - held}


def transfers(stack, reference: str) -> list[dict[str, Any]]:
    return provider_transfers(stack.paystack_url, stack.settings.paystack_secret_key, reference)


def amounts(api: Api) -> list[int]:
    return [e["amount"] for e in reversed(api.get("/v1/wallet/entries").json()["data"])]


def wallet_row(user_id: str) -> tuple[int, int]:
    account = ensure_wallet(user_id, "NGN")
    return account.balance, account.held


def hold_status(txn_id: str) -> str | None:
    held = Hold.get_or_none(Hold.transaction_id == txn_id)
    return held.status if held else None


def test_a_paid_transfer_captures_the_hold(seller, stack):
    intent = withdraw(seller)
    assert seller.wait_status(intent["id"], "succeeded", "failed")["status"] == "succeeded"
    assert seller.wallet() == wallet(FUNDED - OUT)
    assert hold_status(intent["id"]) == HOLD_CAPTURED
    assert [t["status"] for t in transfers(stack, intent["reference"])] == ["success"]
    assert_ledger_clean()


def test_a_failed_transfer_voids_the_hold_and_the_money_is_back(seller, stack):
    sandbox_fault(stack.paystack_url, {"transfers": "fail"})
    intent = withdraw(seller)
    failed = seller.wait_status(intent["id"], "failed", "succeeded")
    assert (failed["status"], failed["failure_reason"]) == ("failed", "transfer_failed")
    assert seller.wallet() == wallet(FUNDED)
    assert hold_status(intent["id"]) == HOLD_VOIDED
    assert amounts(seller) == [FUNDED], "a voided hold leaves no ledger entry"
    assert [t["status"] for t in transfers(stack, intent["reference"])] == ["failed"]
    assert_ledger_clean()


def test_a_reversed_transfer_is_reversed_and_the_money_is_back(seller, stack):
    sandbox_fault(stack.paystack_url, {"transfers": "reverse"})
    intent = withdraw(seller)
    reversed_ = seller.wait_status(intent["id"], "reversed", "failed")
    assert reversed_["status"] == "reversed"
    wait_until(lambda: webhooks_settled(intent["reference"], 2), message="success and reversal events processed")
    assert seller.wallet() == wallet(FUNDED)
    assert amounts(seller) == [FUNDED, -OUT, OUT], "the paid-out posting and its correcting posting"
    assert len(transfers(stack, intent["reference"])) == 1
    assert_ledger_clean()


@pytest.mark.parametrize(("mishap", "deliveries", "stored"), [
    ({"webhooks": "duplicate", "count": 2}, 4, 2),
    ({"webhooks": "reorder", "count": 1, "delay_ms": 3000}, 2, 2),
    ({"webhooks": "drop", "count": 1}, 1, 1),
], ids=["duplicated", "reordered", "success-lost"])
def test_a_reversal_survives_duplicated_reordered_or_missing_events(seller, stack, mishap, deliveries, stored):
    """reorder holds transfer.success back until transfer.reversed was sent; drop loses the success."""
    sandbox_fault(stack.paystack_url, {"transfers": "reverse"})
    sandbox_fault(stack.paystack_url, mishap)
    intent = withdraw(seller)
    reference = intent["reference"]
    assert seller.wait_status(intent["id"], "reversed", "failed")["status"] == "reversed"
    wait_until(lambda: webhook_deliveries(stack.paystack_url, reference) == deliveries
               and webhooks_settled(reference, stored), message="every event to be delivered and processed")
    assert active_faults(stack.paystack_url) == []
    resend_webhook(stack.paystack_url, reference)
    wait_until(lambda: webhooks_settled(reference, stored), message="the resent event to be processed")
    assert seller.wallet() == wallet(FUNDED)
    assert amounts(seller) == [FUNDED, -OUT, OUT]
    assert Transaction.get_by_id(intent["id"]).status == "reversed"
    assert_ledger_clean()


def test_an_otp_transfer_is_flagged_for_operators_and_not_retried(seller, stack, deps):
    sandbox_fault(stack.paystack_url, {"transfers": "otp"})
    intent = withdraw(seller)
    flagged = wait_until(lambda: Transaction.get_or_none(Transaction.id == intent["id"],
                                                         Transaction.flagged_reason.is_null(False)),
                         message="the OTP transfer to be flagged")
    assert flagged.status == PROCESSING and "OTP" in flagged.flagged_reason
    assert [a.kind for a in Alert.select().where(Alert.transaction_id == intent["id"])] == ["transfer_needs_otp"]
    assert flagged.transfer_code, "the transfer is known, so nothing will send it again"
    assert seller.wallet() == wallet(FUNDED, held=OUT), "the money stays held until an operator decides"
    assert hold_status(intent["id"]) == HOLD_PENDING
    # Running the jobs again (redelivery, reconciler) asks, but sends nothing new.
    payments = Payments(stack.settings, deps.paystack, NoJobs())
    assert payments.start_payout(intent["id"]) == "skipped"
    assert payments.confirm_payout(intent["id"]) == "otp"
    assert [t["status"] for t in transfers(stack, intent["reference"])] == ["otp"]
    assert Alert.select().where(Alert.transaction_id == intent["id"]).count() == 1
    assert_ledger_clean()


def test_a_transfer_call_that_timed_out_is_resolved_by_its_reference(seller, stack):
    """The provider answers after the client gave up (its timeout is 2 s under APP_ENV=test); the
    transfer still happens. The retry must find it, not create another."""
    assert stack.settings.http_timeout_seconds < 3
    sandbox_fault(stack.paystack_url, {"endpoint": "transfer.create", "delay_ms": 3_000})
    intent = withdraw(seller)
    paid = seller.wait_status(intent["id"], "succeeded", "failed", timeout=20)
    assert paid["status"] == "succeeded", paid
    assert len(transfers(stack, intent["reference"])) == 1
    assert seller.wallet() == wallet(FUNDED - OUT)
    assert amounts(seller) == [FUNDED, -OUT]
    assert_ledger_clean()


def test_a_transfer_whose_answer_was_lost_is_found_not_sent_again(seller, stack):
    """The provider takes the transfer, then answers 500: the outcome is unknown to us."""
    sandbox_fault(stack.paystack_url, {"endpoint": "transfer.create", "status": 500, "after": True})
    intent = withdraw(seller)
    assert seller.wait_status(intent["id"], "succeeded", "failed")["status"] == "succeeded"
    assert len(transfers(stack, intent["reference"])) == 1
    assert seller.wallet() == wallet(FUNDED - OUT)
    assert_ledger_clean()


def test_transfer_verify_500s_then_recovery(seller, stack):
    sandbox_fault(stack.paystack_url, {"endpoint": "transfer.verify", "status": 500, "count": 5})
    intent = withdraw(seller)
    assert seller.wait_status(intent["id"], "succeeded", "failed")["status"] == "succeeded"
    assert len(transfers(stack, intent["reference"])) == 1
    assert seller.wallet() == wallet(FUNDED - OUT)
    assert_ledger_clean()


def test_insufficient_funds_fail_the_withdrawal_and_hold_nothing(seller, stack):
    intent = withdraw(seller, FUNDED + 1)
    failed = seller.wait_status(intent["id"], "failed", "succeeded")
    assert (failed["status"], failed["failure_reason"]) == ("failed", "insufficient_funds")
    assert hold_status(intent["id"]) is None
    assert seller.wallet() == wallet(FUNDED)
    assert transfers(stack, intent["reference"]) == []
    assert_ledger_clean()


def test_an_untrue_transfer_success_does_not_capture_a_failed_transfer(seller, stack, web):
    sandbox_fault(stack.paystack_url, {"transfers": "fail"})
    intent = withdraw(seller)
    assert seller.wait_status(intent["id"], "failed", "succeeded")["status"] == "failed"
    body = json.dumps({"event": "transfer.success", "data": {"reference": intent["reference"], "amount": OUT,
                                                             "status": "success"}}).encode()
    key = stack.settings.paystack_secret_key.encode()
    response = requests.post(f"{web}/v1/webhooks/paystack", data=body, timeout=10, headers={
        "x-paystack-signature": hmac.new(key, body, hashlib.sha512).hexdigest(), "Content-Type": "application/json"})
    assert response.status_code == 200
    wait_until(lambda: webhooks_settled(intent["reference"], 2), message="the untrue event to be processed")
    assert Transaction.get_by_id(intent["id"]).status == "failed"
    assert seller.wallet() == wallet(FUNDED)
    assert_ledger_clean()


@dataclass
class LateLandingProvider:
    """The first transfer call timed out; when the retry asks, the provider has not recorded it yet,
    and by the time the retry sends it again, the first one has landed: a duplicate reference."""

    asked: int = 0
    sent: list[str] = field(default_factory=list)

    def verify_transfer(self, reference: str) -> dict[str, Any]:
        self.asked += 1
        if self.asked == 1:
            raise PaystackNotFound(404, "Transfer not found")
        return {"reference": reference, "status": "success", "transfer_code": "TRF_landed_late"}

    def initiate_transfer(self, *, reference: str, **_: Any) -> dict[str, Any]:
        self.sent.append(reference)
        raise PaystackRejected(400, "Please provide a unique reference. Reference already exists on a transfer")


def test_a_duplicate_reference_answer_is_followed_by_its_reference_at_once(stack):
    """Without waiting for a transfer webhook that may never come: the duplicate is verified and
    settled in the same run."""
    owner = lf.funded_user("seller@example.com", FUNDED)
    with db.atomic():
        bank = BankAccount.create(id=db.new_id("bnk"), user=owner, bank_code="058", bank_name="Bank",
                                  account_number="0123456789", account_name="Seller", recipient_code="RCP_x")
        txn = Transaction.create(id=db.new_id("txn"), kind=WITHDRAWAL, user=owner, amount=OUT, currency="NGN",
                                 reference=new_reference(WITHDRAWAL), bank_account_id=bank.id)
    provider = LateLandingProvider()
    assert Payments(stack.settings, provider, NoJobs()).start_payout(txn.id) == "success"
    assert provider.sent == [txn.reference], "sent once by this run, refused as the duplicate it is"
    assert Transaction.get_by_id(txn.id).status == "succeeded"
    assert hold_status(txn.id) == HOLD_CAPTURED
    assert wallet_row(owner.id) == (FUNDED - OUT, 0)
    assert_ledger_clean()


@dataclass
class Answers:
    """A provider whose transfer verify answers a status the sandbox never produces."""

    status: str

    def verify_transfer(self, reference: str) -> dict[str, Any]:
        return {"reference": reference, "status": self.status, "transfer_code": "TRF_x"}


@pytest.mark.parametrize("status", ["abandoned", "blocked", "rejected"])
def test_other_final_transfer_failures_void_the_hold(stack, status):
    owner = lf.funded_user("seller@example.com", FUNDED)
    with db.atomic():
        txn = Transaction.create(id=db.new_id("txn"), kind=WITHDRAWAL, user=owner, amount=OUT, currency="NGN",
                                 reference=new_reference(WITHDRAWAL), bank_account_id="bnk_unused")
    assert Payments(stack.settings, Answers(status), NoJobs()).start_payout(txn.id) == status
    txn = Transaction.get_by_id(txn.id)
    assert (txn.status, txn.failure_reason) == ("failed", "transfer_failed")
    assert hold_status(txn.id) == HOLD_VOIDED
    assert wallet_row(owner.id) == (FUNDED, 0)
    assert_ledger_clean()
