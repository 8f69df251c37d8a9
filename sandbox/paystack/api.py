"""Falcon resources for the Paystack API surface. Each declares `endpoints` (method -> fault name)."""

from __future__ import annotations

import base64
import binascii

import falcon

from sandbox.paystack.banks import RESOLVE_ERROR, bank_by_code, nigerian_banks, resolve_account_name
from sandbox.paystack.errors import ApiError, validation
from sandbox.paystack.faults import Faults
from sandbox.paystack.payments import TRANSACTION_STATUSES, Transactions
from sandbox.paystack.shapes import recipient as recipient_shape
from sandbox.paystack.transfers import TRANSFER_STATUSES, Transfers
from sandbox.paystack.web import MAX_PER_PAGE, client_ip, int_param, list_query, ok, read_body


class TransactionInitialize:
    endpoints = {"POST": "transaction.initialize"}

    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        data = self._tx.initialize(read_body(req), req.prefix, client_ip(req))
        ok(resp, "Authorization URL created", data)


class TransactionVerify:
    endpoints = {"GET": "transaction.verify"}

    def __init__(self, transactions: Transactions, faults: Faults) -> None:
        self._tx = transactions
        self._faults = faults

    def on_get(self, req: falcon.Request, resp: falcon.Response, reference: str) -> None:
        tx = self._tx.get(reference)
        delta = self._faults.take_amount_delta("transaction.verify")
        ok(resp, "Verification successful", self._tx.verify_data(tx, delta))


class TransactionFetch:
    endpoints = {"GET": "transaction.fetch"}

    def __init__(self, transactions: Transactions, faults: Faults) -> None:
        self._tx = transactions
        self._faults = faults

    def on_get(self, req: falcon.Request, resp: falcon.Response, transaction_id: int) -> None:
        tx = self._tx.fetch(transaction_id)
        delta = self._faults.take_amount_delta("transaction.fetch")
        ok(resp, "Transaction retrieved", self._tx.verify_data(tx, delta))


class TransactionList:
    endpoints = {"GET": "transaction.list"}

    def __init__(self, transactions: Transactions) -> None:
        self._tx = transactions

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        items, meta = self._tx.list_transactions(list_query(req, TRANSACTION_STATUSES))
        ok(resp, "Transactions retrieved", items, meta=meta)


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"bank:{offset}".encode()).decode()


def _offset(cursor: str) -> int:
    try:
        kind, _, value = base64.urlsafe_b64decode(cursor.encode()).decode().partition(":")
        if kind == "bank" and value.isdigit():
            return int(value)
    except (binascii.Error, UnicodeDecodeError):
        pass
    raise validation("Invalid cursor")


class BankList:
    """GET /bank: Nigerian banks only; other countries/currencies list nothing. Cursor paging via `next`."""

    endpoints = {"GET": "bank.list"}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        banks = nigerian_banks()
        country, currency, type_ = req.get_param("country"), req.get_param("currency"), req.get_param("type")
        if (country and country.lower() != "nigeria") or (currency and currency != "NGN") or \
                (type_ and type_ != "nuban"):
            banks = []
        per_page = int_param(req, ("perPage", "per_page"), 50, MAX_PER_PAGE)
        cursor = req.get_param("next") or req.get_param("previous")
        start = _offset(cursor) if cursor else (int_param(req, ("page",), 1, 1_000_000) - 1) * per_page
        page = banks[start:start + per_page]
        meta = {"next": _cursor(start + per_page) if start + per_page < len(banks) else None,
                "previous": _cursor(max(start - per_page, 0)) if start > 0 else None, "perPage": per_page}
        ok(resp, "Banks retrieved", page, meta=meta)


class BankResolve:
    endpoints = {"GET": "bank.resolve"}

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        number, code = req.get_param("account_number") or "", req.get_param("bank_code") or ""
        name = resolve_account_name(number, code)
        bank = bank_by_code(code)
        if name is None or bank is None:
            raise ApiError(422, RESOLVE_ERROR)
        ok(resp, "Account number resolved", {"account_number": number, "account_name": name, "bank_id": bank["id"]})


class TransferRecipients:
    endpoints = {"POST": "transferrecipient.create", "GET": "transferrecipient.list"}

    def __init__(self, transfers: Transfers, integration_id: int) -> None:
        self._transfers = transfers
        self._integration = integration_id

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        doc = self._transfers.create_recipient(read_body(req))
        ok(resp, "Transfer recipient created successfully", recipient_shape(doc, self._integration), status=201)

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        items, meta = self._transfers.list_recipients(list_query(req, None))
        ok(resp, "Recipients retrieved", items, meta=meta)


class TransferCollection:
    endpoints = {"POST": "transfer.create", "GET": "transfer.list"}

    def __init__(self, transfers: Transfers) -> None:
        self._transfers = transfers

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        doc = self._transfers.initiate(read_body(req))
        message = "Transfer requires OTP to continue" if doc["status"] == "otp" else "Transfer has been queued"
        ok(resp, message, self._transfers.created_data(doc))

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        items, meta = self._transfers.list_transfers(list_query(req, TRANSFER_STATUSES), req.get_param("recipient"))
        ok(resp, "Transfers retrieved", items, meta=meta)


class TransferFinalize:
    endpoints = {"POST": "transfer.finalize"}

    def __init__(self, transfers: Transfers) -> None:
        self._transfers = transfers

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        doc = self._transfers.finalize(read_body(req))
        ok(resp, "Transfer has been queued", self._transfers.created_data(doc))


class TransferVerify:
    endpoints = {"GET": "transfer.verify"}

    def __init__(self, transfers: Transfers) -> None:
        self._transfers = transfers

    def on_get(self, req: falcon.Request, resp: falcon.Response, reference: str) -> None:
        ok(resp, "Transfer retrieved", self._transfers.data(self._transfers.get(reference)))


class TransferFetch:
    endpoints = {"GET": "transfer.fetch"}

    def __init__(self, transfers: Transfers) -> None:
        self._transfers = transfers

    def on_get(self, req: falcon.Request, resp: falcon.Response, code: str) -> None:
        ok(resp, "Transfer retrieved", self._transfers.data(self._transfers.by_code(code)))


class Balance:
    endpoints = {"GET": "balance.fetch"}

    def __init__(self, transfers: Transfers) -> None:
        self._transfers = transfers

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        ok(resp, "Balances retrieved", self._transfers.balances())
