"""Transfer recipients, transfers from the sandbox balance, and their settlement in the background.

A transfer is debited (amount + fee) when it is initiated and refunded if it fails or is reversed.
The outcome chosen by a transfer fault is fixed at initiation and stored, so it survives a restart.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sandbox.paystack import shapes
from sandbox.paystack.banks import bank_by_code, resolve_account_name
from sandbox.paystack.errors import ApiError, not_found, validation
from sandbox.paystack.faults import Faults
from sandbox.paystack.listing import ListQuery, paginate, select
from sandbox.paystack.scheduler import Scheduler
from sandbox.paystack.settings import NGN, Settings
from sandbox.paystack.store import Document, Store
from sandbox.paystack.util import iso_now, parse_amount, random_code
from sandbox.paystack.webhooks import Dispatcher

RECIPIENT = "recipient"
TRANSFER = "transfer"
SANDBOX_OTP = "123456"  # Paystack's test-mode OTP
_REFERENCE = re.compile(r"^[a-z0-9_-]{1,100}$")
TRANSFER_STATUSES = ("pending", "success", "failed", "otp", "abandoned", "reversed", "blocked", "rejected",
                     "received")


def transfer_fee(amount: int) -> int:
    """Paystack's NGN transfer fee in kobo: NGN 10 up to NGN 5,000, NGN 25 up to NGN 50,000, else NGN 50."""
    if amount <= 500_000:
        return 1_000
    return 2_500 if amount <= 5_000_000 else 5_000


class Transfers:
    def __init__(self, store: Store, settings: Settings, dispatcher: Dispatcher, faults: Faults,
                 scheduler: Scheduler) -> None:
        self._store = store
        self._settings = settings
        self._dispatcher = dispatcher
        self._faults = faults
        self._scheduler = scheduler

    # --- balance -------------------------------------------------------------------------------

    def balance(self, currency: str = NGN) -> int:
        stored = self._store.get_meta(f"balance:{currency}")
        if stored is not None:
            return int(stored)
        return self._settings.initial_balance if currency == NGN else 0

    def set_balance(self, amount: int, currency: str = NGN) -> None:
        self._store.set_meta(f"balance:{currency}", str(amount))

    def balances(self) -> list[dict[str, Any]]:
        return [{"currency": NGN, "balance": self.balance(NGN)}]

    # --- recipients ----------------------------------------------------------------------------

    def create_recipient(self, body: dict[str, Any]) -> Document:
        """Create a nuban recipient; the same account again returns the existing one, as Paystack does."""
        type_, name, account_number, bank_code, currency = self._validate_recipient(body)
        dedupe = f"{type_}:{bank_code}:{account_number}:{currency}"
        with self._store.atomic():
            existing = self._store.find(RECIPIENT, "dedupe", dedupe)
            if existing is not None:
                return existing
            account_name = resolve_account_name(account_number, bank_code)
            if account_name is None:
                raise validation("Cannot resolve account", code="invalid_bank_account")
            now = iso_now()
            doc = {
                "id": self._store.next_id(RECIPIENT), "recipient_code": f"RCP_{random_code(15)}", "dedupe": dedupe,
                "type": type_, "name": name, "currency": currency, "account_number": account_number,
                "account_name": account_name, "bank_code": bank_code, "bank_name": bank_by_code(bank_code)["name"],
                "description": str(body.get("description") or ""), "email": str(body.get("email") or ""),
                "metadata": body.get("metadata") if isinstance(body.get("metadata"), dict) else None,
                "created_at": now, "updated_at": now,
            }
            self._store.put(RECIPIENT, doc["recipient_code"], doc)
        return doc

    def _validate_recipient(self, body: dict[str, Any]) -> tuple[str, str, str, str, str]:
        type_ = body.get("type")
        if type_ != "nuban":
            raise validation("Invalid recipient type. The sandbox supports 'nuban' only", code="invalid_type")
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise validation("Name is required", code="missing_params")
        account_number, bank_code = str(body.get("account_number") or ""), str(body.get("bank_code") or "")
        if not account_number:
            raise validation("Account number is required", code="missing_params")
        if bank_by_code(bank_code) is None:
            raise validation("Bank code is invalid", code="invalid_bank_code")
        currency = body.get("currency") or NGN
        if currency != NGN:
            raise validation("Currency is not supported for a nuban recipient", code="unsupported_currency")
        return type_, name.strip(), account_number, bank_code, currency

    def recipient(self, code: str) -> Document | None:
        return self._store.get(RECIPIENT, code)

    def recipient_by_id(self, recipient_id: int) -> Document:
        found = self._store.find(RECIPIENT, "id", recipient_id)
        if found is None:  # only after a manual state edit: keep the answer well-formed anyway
            raise ApiError(500, "Recipient of this transfer is missing")
        return found

    def list_recipients(self, query: ListQuery) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        page, meta = paginate(select(self._store.all(RECIPIENT), query), query)
        return [shapes.recipient(doc, self._settings.integration_id) for doc in page], meta

    # --- transfers -----------------------------------------------------------------------------

    def initiate(self, body: dict[str, Any]) -> Document:
        amount, rcp, reference, currency = self._validate_transfer(body)
        fee = transfer_fee(amount)
        with self._store.atomic():
            if self._store.get(TRANSFER, reference) is not None:
                raise validation("Please provide a unique reference. Reference already exists on a transfer",
                                 code="duplicate_transfer_reference",
                                 next_step="Create a new reference for the new transfer")
            balance = self.balance(currency)
            if amount + fee > balance:
                raise ApiError(400, "Your balance is not enough to fulfil this request", type_="api_error",
                               code="insufficient_balance", next_step="Top up your balance and try again")
            self.set_balance(balance - amount - fee, currency)
            outcome = self._faults.take_transfer()
            now = iso_now()
            doc = {
                "id": self._store.next_id(TRANSFER), "transfer_code": f"TRF_{random_code(15)}",
                "reference": reference, "amount": amount, "fee": fee, "currency": currency,
                "source": "balance", "reason": str(body.get("reason") or ""), "recipient_code": rcp["recipient_code"],
                "recipient_id": rcp["id"], "request": self._store.next_id("transfer_request"),
                "status": "otp" if outcome == "otp" else "pending",
                "outcome": outcome if outcome in ("fail", "reverse") else "success",
                "session": {"provider": None, "id": None}, "gateway_response": None, "transferred_at": None,
                "created_at": now, "updated_at": now,
            }
            self._store.put(TRANSFER, reference, doc)
        if doc["status"] == "pending":
            self._later(reference, self._settle)
        return doc

    def _validate_transfer(self, body: dict[str, Any]) -> tuple[int, Document, str, str]:
        if (body.get("source") or "balance") != "balance":
            raise validation("Invalid source. Only 'balance' is supported", code="invalid_source")
        amount = parse_amount(body.get("amount"))
        if amount is None or amount <= 0:
            raise validation("Invalid amount", code="invalid_amount")
        rcp = self.recipient(str(body.get("recipient") or ""))
        if rcp is None:
            raise validation("Recipient specified is invalid", code="invalid_recipient")
        reference = body.get("reference") or random_code(24)
        if not isinstance(reference, str) or not _REFERENCE.match(reference):
            raise validation("Invalid transfer reference. Use lowercase letters, digits, - and _ only",
                             code="invalid_transfer_reference")
        currency = body.get("currency") or NGN
        if currency != rcp["currency"]:
            raise validation("Currency does not match the recipient's currency", code="unsupported_currency")
        return amount, rcp, reference, currency

    def finalize(self, body: dict[str, Any]) -> Document:
        """Complete a transfer that answered `otp`; the sandbox OTP is 123456."""
        with self._store.atomic():
            doc = self._store.find(TRANSFER, "transfer_code", str(body.get("transfer_code") or ""))
            if doc is None:
                raise validation("Transfer code is invalid", code="invalid_transfer_code")
            if doc["status"] != "otp":
                raise validation("Transfer is not currently awaiting OTP", code="transfer_not_awaiting_otp")
            if str(body.get("otp") or "") != SANDBOX_OTP:
                raise validation("Invalid OTP provided", code="invalid_otp")
            doc.update(status="pending", updated_at=iso_now())
            self._store.put(TRANSFER, doc["reference"], doc)
        self._later(doc["reference"], self._settle)
        return doc

    def get(self, reference: str) -> Document:
        doc = self._store.get(TRANSFER, reference)
        if doc is None:
            raise not_found("Transfer not found")
        return doc

    def by_code(self, code: str) -> Document:
        doc = self._store.find(TRANSFER, "transfer_code", code)
        if doc is None:
            raise not_found("Transfer not found")
        return doc

    def data(self, doc: Document) -> dict[str, Any]:
        return shapes.transfer(doc, self.recipient_by_id(doc["recipient_id"]), self._settings.integration_id)

    def created_data(self, doc: Document) -> dict[str, Any]:
        return shapes.transfer_created(doc, self.recipient_by_id(doc["recipient_id"]),
                                       self._settings.integration_id)

    def list_transfers(self, query: ListQuery, recipient: str | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        docs = [d for d in self._store.all(TRANSFER) if recipient in (None, d["recipient_code"])]
        page, meta = paginate(select(docs, query), query)
        return [self.data(doc) for doc in page], meta

    # --- settlement ------------------------------------------------------------------------------

    def restore(self) -> None:
        """After a restart with --store, finish what was in flight."""
        for doc in self._store.all(TRANSFER):
            if doc["status"] == "pending":
                self._later(doc["reference"], self._settle)
            elif doc["status"] == "success" and doc["outcome"] == "reverse":
                self._later(doc["reference"], self._reverse)

    def _later(self, reference: str, step: Callable[[str], None]) -> None:
        self._scheduler.call_later(self._settings.transfer_delay, lambda: step(reference))

    def _settle(self, reference: str) -> None:
        with self._store.atomic():
            doc = self._store.get(TRANSFER, reference)
            if doc is None or doc["status"] != "pending":
                return
            now = iso_now()
            if doc["outcome"] == "fail":
                self._refund(doc)
                doc.update(status="failed", gateway_response="Could not complete transfer to the beneficiary",
                           updated_at=now)
            else:
                doc.update(status="success", gateway_response="Approved", transferred_at=now, updated_at=now,
                           session={"provider": "nip", "id": f"{doc['request']:030d}"})
            self._store.put(TRANSFER, reference, doc)
            self._dispatcher.emit(f"transfer.{doc['status']}", self.data(doc), reference)
        if doc["status"] == "success" and doc["outcome"] == "reverse":
            self._later(reference, self._reverse)

    def _reverse(self, reference: str) -> None:
        with self._store.atomic():
            doc = self._store.get(TRANSFER, reference)
            if doc is None or doc["status"] != "success":
                return
            self._refund(doc)
            doc.update(status="reversed", gateway_response="Transfer reversed by the beneficiary bank",
                       updated_at=iso_now())
            self._store.put(TRANSFER, reference, doc)
            self._dispatcher.emit("transfer.reversed", self.data(doc), reference)

    def _refund(self, doc: Document) -> None:
        self.set_balance(self.balance(doc["currency"]) + doc["amount"] + doc["fee"], doc["currency"])
