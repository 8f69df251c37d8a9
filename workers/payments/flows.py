"""Provider conversations for fundings and withdrawals. Each function reloads the transaction,
asks Paystack, and hands the decision to services.settlement (which writes it exactly once).

Raising PaystackUnavailable lets the actor retry with backoff; every other outcome is final for
this run (the reconciler re-drives anything left non-final).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

from config import Settings
from models import db
from models.transactions import (
    FAILED,
    PENDING,
    PROCESSING,
    REQUIRES_ACTION,
    SUCCEEDED,
    BankAccount,
    Transaction,
)
from services import settlement
from services.jobs import Dispatcher
from workers.payments.paystack import CONNECT_TIMEOUT, PaystackClient, PaystackNotFound, PaystackRejected

log = logging.getLogger(__name__)
CHECKOUT_WAITING = ("abandoned", "ongoing", "pending", "processing", "queued")
TRANSFER_WAITING = ("pending", "processing", "received", "queued", "otp")
# Final answers for a transfer that did not pay out (Paystack's transfer statuses).
TRANSFER_FAILED = ("failed", "abandoned", "blocked", "rejected")
# A funding failed for one of these may still be paid on the provider's checkout afterwards.
LATE_PAYABLE = ("payment_failed", "payment_abandoned")


@dataclass(frozen=True)
class Payments:
    settings: Settings
    client: PaystackClient
    dispatcher: Dispatcher
    checkout_expiry: dt.timedelta = dt.timedelta(hours=24)

    # --- funding ---------------------------------------------------------------------------

    def initialize_funding(self, txn_id: str) -> str:
        txn = Transaction.get_or_none(Transaction.id == txn_id)  # None: an unknown id, nothing to retry
        if txn is None or txn.status != PENDING:
            return "skipped"
        try:
            data = self.client.initialize_transaction(
                email=txn.user.email, amount=txn.amount, reference=txn.reference, currency=txn.currency,
                callback_url=f"{self.settings.public_base_url}/v1/fundings/callback",
                metadata={"transaction_id": txn.id})
        except PaystackRejected as exc:
            if "duplicate" in exc.message.lower():
                if self._opened_by_another_run(txn.id):
                    return "skipped"
                # Our earlier call went through but its answer was lost; the checkout link is gone
                # with it, so the customer must start again. Nothing was charged.
                settlement.fail_funding(txn.id, "payment_failed", self.dispatcher,
                                        alert="checkout initialised twice; link lost", sources=(PENDING,))
                return "failed"
            settlement.fail_funding(txn.id, "payment_failed", self.dispatcher, alert=f"initialize refused: {exc}",
                                    sources=(PENDING,))
            return "failed"
        settlement.mark_requires_action(txn, data["authorization_url"], data.get("access_code", ""))
        return "requires_action"

    def _opened_by_another_run(self, txn_id: str) -> bool:
        """Paystack already has this reference. A run racing this one (a redelivery, a re-send) may
        have opened the checkout and be about to record its link: wait as long as its call may
        take before deciding the answer was lost."""
        deadline = time.monotonic() + CONNECT_TIMEOUT + self.settings.http_timeout_seconds
        while Transaction.get_by_id(txn_id).status == PENDING:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def confirm_funding(self, txn_id: str) -> str:
        """Verify with the provider; credit on success with the exact amount, once."""
        txn = Transaction.get_or_none(Transaction.id == txn_id)
        if txn is None:  # an unknown id: nothing to retry
            return "skipped"
        if txn.status == FAILED and txn.failure_reason in LATE_PAYABLE:
            return self._flag_late_payment(txn)
        if txn.status not in (PENDING, REQUIRES_ACTION):
            return "skipped"
        try:
            data = self.client.verify_transaction(txn.reference)
        except PaystackNotFound:
            return self._expire_if_stale(txn)
        status = str(data.get("status", ""))
        if status == "success":
            if int(data.get("amount", -1)) != txn.amount or str(data.get("currency")) != txn.currency:
                detail = (f"provider reports {data.get('amount')} {data.get('currency')}, "
                          f"intent is {txn.amount} {txn.currency}")
                settlement.fail_funding(txn.id, "amount_mismatch", self.dispatcher, alert=detail)
                return "amount_mismatch"
            settlement.credit_funding(txn.id, self.dispatcher)
            return "succeeded"
        if status in ("failed", "reversed"):
            settlement.fail_funding(txn.id, "payment_failed", self.dispatcher)
            return "failed"
        return self._expire_if_stale(txn) if status in CHECKOUT_WAITING else "waiting"

    def _flag_late_payment(self, txn: Transaction) -> str:
        """The customer paid a checkout after we had failed it (a decline, then Pay; or past the
        expiry). A failed funding never succeeds, so operators must credit or refund it by hand."""
        try:
            data = self.client.verify_transaction(txn.reference)
        except PaystackNotFound:
            return "skipped"
        if str(data.get("status", "")) != "success":
            return "skipped"
        with db.atomic():
            settlement.flag(txn.id, "paid_after_failure",
                            f"provider reports {data.get('amount')} {data.get('currency')} paid after the funding "
                            f"failed ({txn.failure_reason}); credit or refund it by hand")
        return "paid_after_failure"

    def _expire_if_stale(self, txn: Transaction) -> str:
        if db.utcnow() - txn.created_at < self.checkout_expiry:
            return "waiting"  # the customer may still pay; the checkout stays open
        settlement.fail_funding(txn.id, "payment_abandoned", self.dispatcher)
        return "abandoned"

    # --- withdrawals -----------------------------------------------------------------------

    def start_payout(self, txn_id: str) -> str:
        txn = Transaction.get_or_none(Transaction.id == txn_id)
        if txn is None:  # an unknown id: nothing to retry
            return "skipped"
        if txn.status == PENDING and not settlement.hold_for_payout(txn.id, self.dispatcher):
            return "not_held"
        txn = Transaction.get_by_id(txn_id)
        if txn.status != PROCESSING or txn.transfer_code:
            return "skipped"
        # A run that died after the transfer call must not send it again: ask about the reference first.
        try:
            return self._follow_transfer(txn, self.client.verify_transfer(txn.reference))
        except PaystackNotFound:
            pass
        bank = BankAccount.get_by_id(txn.bank_account_id)
        try:
            recipient = self._recipient(bank)
            data = self.client.initiate_transfer(amount=txn.amount, recipient=recipient, reference=txn.reference,
                                                 reason="Marketplace withdrawal", currency=txn.currency)
        except PaystackRejected as exc:
            if "duplicate" in exc.message.lower() or "reference" in exc.message.lower():
                # It exists after all (a run racing this one, or a timed-out call that landed late):
                # follow it by its reference now rather than wait for a webhook that may be lost.
                return self._follow_transfer(txn, self.client.verify_transfer(txn.reference))
            settlement.fail_payout(txn.id, "transfer_failed", self.dispatcher)
            return "failed"
        return self._follow_transfer(txn, data)

    def confirm_payout(self, txn_id: str) -> str:
        txn = Transaction.get_or_none(Transaction.id == txn_id)
        if txn is None:  # an unknown id: nothing to retry
            return "skipped"
        if txn.status not in (PROCESSING, SUCCEEDED):
            return "skipped"
        try:
            data = self.client.verify_transfer(txn.reference)
        except PaystackNotFound:
            return "not_found" if txn.transfer_code else self.start_payout(txn.id)
        return self._follow_transfer(txn, data)

    def _follow_transfer(self, txn: Transaction, data: dict) -> str:
        status = str(data.get("status", ""))
        code = data.get("transfer_code")
        if code and not txn.transfer_code:
            with db.atomic():
                Transaction.update(transfer_code=code, updated_at=db.utcnow()).where(
                    Transaction.id == txn.id, Transaction.transfer_code.is_null()).execute()
        if status == "success":
            settlement.capture_payout(txn.id, self.dispatcher)
        elif status in TRANSFER_FAILED:
            settlement.fail_payout(txn.id, "transfer_failed", self.dispatcher)
        elif status == "reversed":
            settlement.reverse_payout(txn.id, self.dispatcher)
        elif status == "otp":
            with db.atomic():
                settlement.flag(txn.id, "transfer_needs_otp", "Paystack asks for an OTP to release this transfer; "
                                "disable OTP for transfers in the dashboard or finalize it there")
        return status or "unknown"

    def _recipient(self, bank: BankAccount) -> str:
        if bank.recipient_code:
            return bank.recipient_code
        data = self.client.create_recipient(name=bank.account_name, account_number=bank.account_number,
                                            bank_code=bank.bank_code, currency=bank.currency)
        with db.atomic():
            BankAccount.update(recipient_code=data["recipient_code"], updated_at=db.utcnow()).where(
                BankAccount.id == bank.id).execute()
        return data["recipient_code"]
