"""Transactions: initialize, the customer's pay/decline on the hosted checkout, verify and list."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from urllib.parse import urlsplit

from sandbox.paystack import shapes
from sandbox.paystack.errors import ApiError, not_found, validation
from sandbox.paystack.listing import ListQuery, paginate, select
from sandbox.paystack.settings import NGN, Settings
from sandbox.paystack.store import Document, Store
from sandbox.paystack.util import iso_now, parse_amount, random_code
from sandbox.paystack.webhooks import Dispatcher

TX = "transaction"
CUSTOMER = "customer"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_REFERENCE = re.compile(r"^[A-Za-z0-9.=-]{1,100}$")
TRANSACTION_STATUSES = ("success", "failed", "abandoned", "reversed")


def card_fee(amount: int) -> int:
    """Paystack's local card fee in kobo: 1.5% + NGN 100 (waived under NGN 2,500), capped at NGN 2,000."""
    fee = amount * 15 // 1000 + (10_000 if amount >= 250_000 else 0)
    return min(fee, 200_000)


def _test_card() -> dict[str, Any]:
    return {
        "authorization_code": f"AUTH_{random_code(10)}", "bin": "408408", "last4": "4081", "exp_month": "12",
        "exp_year": "2030", "channel": "card", "card_type": "visa ", "bank": "TEST BANK", "country_code": "NG",
        "brand": "visa", "reusable": True, "signature": f"SIG_{random_code(20)}", "account_name": None,
    }


def _attempt_log(success: bool) -> dict[str, Any]:
    outcome = ("success", "Successfully paid with card") if success else ("error", "Declined")
    return {
        "start_time": int(time.time()) - 4, "time_spent": 4, "attempts": 1, "errors": 0 if success else 1,
        "success": success, "mobile": False, "input": [],
        "history": [{"type": "action", "message": "Attempted to pay with card", "time": 3},
                    {"type": outcome[0], "message": outcome[1], "time": 4}],
    }


def _metadata(value: object) -> dict[str, Any] | str | None:
    """Paystack takes metadata as an object or as a JSON string of one."""
    if value is None or isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return value
        return parsed if isinstance(parsed, dict) else value
    raise validation("Invalid metadata. Pass a JSON object")


class Transactions:
    def __init__(self, store: Store, settings: Settings, dispatcher: Dispatcher) -> None:
        self._store = store
        self._settings = settings
        self._dispatcher = dispatcher

    def initialize(self, body: dict[str, Any], base_url: str, ip_address: str) -> dict[str, Any]:
        email, amount, currency, reference, callback_url = self._validate_initialize(body)
        metadata = _metadata(body.get("metadata"))
        with self._store.atomic():
            if self._store.get(TX, reference) is not None:
                raise validation("Duplicate Transaction Reference", code="duplicate_reference",
                                 next_step="Try and create the Transaction or Charge with a new reference")
            tx = {
                "id": self._store.next_id(TX), "reference": reference, "access_code": random_code(15),
                "email": email, "amount": amount, "currency": currency, "callback_url": callback_url,
                "metadata": metadata, "status": "abandoned", "gateway_response": "The transaction was not completed",
                "paid_at": None, "created_at": iso_now(), "channel": "card", "ip_address": ip_address,
                "fees": None, "log": None, "authorization": None,
            }
            self._customer(email)
            self._store.put(TX, reference, tx)
        root = (self._settings.public_url or base_url).rstrip("/")
        return {"authorization_url": f"{root}/checkout/{tx['access_code']}", "access_code": tx["access_code"],
                "reference": reference}

    def _validate_initialize(self, body: dict[str, Any]) -> tuple[str, int, str, str, str | None]:
        email = body.get("email")
        if not isinstance(email, str) or not _EMAIL.match(email.strip()):
            raise validation("Invalid Email Address Passed", code="invalid_email")
        amount = parse_amount(body.get("amount"))
        if amount is None or amount <= 0:
            raise validation("Invalid Amount Sent", code="invalid_amount")
        currency = body.get("currency") or NGN
        if currency not in self._settings.supported_currencies:
            raise validation("Currency not supported by merchant", code="unsupported_currency")
        reference = body.get("reference") or random_code(10)
        if not isinstance(reference, str) or not _REFERENCE.match(reference):
            raise validation("Invalid transaction reference. Only -, ., = and alphanumeric characters allowed",
                             code="invalid_reference")
        callback_url = body.get("callback_url") or None
        if callback_url is not None and (
            not isinstance(callback_url, str) or urlsplit(callback_url).scheme not in ("http", "https")
        ):
            raise validation("Invalid callback_url. Pass a fully qualified URL", code="invalid_callback_url")
        return email.strip(), amount, currency, reference, callback_url

    def _customer(self, email: str) -> Document:
        key = email.lower()
        existing = self._store.get(CUSTOMER, key)
        if existing is not None:
            return existing
        doc = {"id": self._store.next_id(CUSTOMER), "email": email, "customer_code": f"CUS_{random_code(15)}"}
        self._store.put(CUSTOMER, key, doc)
        return doc

    def get(self, reference: str) -> Document:
        tx = self._store.get(TX, reference)
        if tx is None:
            raise not_found("Transaction reference not found", status=400)
        return tx

    def by_access_code(self, access_code: str) -> Document | None:
        return self._store.find(TX, "access_code", access_code)

    def verify_data(self, tx: Document, amount_delta: int = 0) -> dict[str, Any]:
        return shapes.transaction_verify(tx, self._customer(tx["email"]), amount_delta)

    def fetch(self, tx_id: int) -> Document:
        tx = self._store.find(TX, "id", tx_id)
        if tx is None:
            raise not_found("Transaction not found")
        return tx

    def list_transactions(self, query: ListQuery) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        chosen = select(self._store.all(TX), query)
        page, meta = paginate(chosen, query)
        meta["total_volume"] = sum(tx["amount"] for tx in chosen if tx["status"] == "success")
        return [shapes.transaction_list_item(tx, self._customer(tx["email"])) for tx in page], meta

    def pay(self, reference: str) -> Document:
        """The customer pays: success once, a `charge.success` event once; paying again changes nothing."""
        with self._store.atomic():
            tx = self.get(reference)
            if tx["status"] == "success":
                return tx
            tx.update(status="success", paid_at=iso_now(), gateway_response="Successful", fees=card_fee(tx["amount"]),
                      log=_attempt_log(True), authorization=_test_card())
            self._store.put(TX, reference, tx)
            self._dispatcher.emit("charge.success", self.verify_data(tx), reference)
        return tx

    def decline(self, reference: str) -> Document:
        """The card is declined; Paystack sends no webhook for that by default, and neither do we."""
        with self._store.atomic():
            tx = self.get(reference)
            if tx["status"] == "success":
                raise ApiError(409, "Transaction has already been paid", type_="validation_error")
            tx.update(status="failed", gateway_response="Declined", log=_attempt_log(False))
            self._store.put(TX, reference, tx)
        return tx
