"""Wallet, money movement, bank accounts and the provider's webhook: thin adapters to services."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import falcon

from api.errors import PROBLEM_JSON, ApiError, problem_body
from api.pages import render
from api.resources import money_schemas as s
from api.schemas import utc
from api.spec import operation, read_raw
from models import db
from models.identity import User
from models.transactions import FUNDING, PURCHASE, BankAccount, Transaction
from services import idempotency, receipts, webhooks
from services.errors import DomainError, NotFound
from services.jobs import CONFIRM_FUNDING
from workers.payments.paystack import PaystackError, PaystackRejected

TAGS = ("money",)
IDEMPOTENCY = {"Idempotency-Key": "1-255 characters; the same key and body replay the first response"}
IDEMPOTENCY_ERRORS = {400: ["idempotency_key_required"], 409: ["idempotency_key_in_use"],
                      422: ["idempotency_key_reused"]}
BANKS_CACHE_SECONDS = 24 * 3600
WEBHOOK_MAX_BYTES = 1024 * 1024


def transaction_out(txn: Transaction, deps: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": txn.id, "kind": txn.kind, "status": txn.status, "amount": txn.amount, "currency": txn.currency,
        "reference": txn.reference, "failure_reason": txn.failure_reason,
        "created_at": utc(txn.created_at), "updated_at": utc(txn.updated_at),
    }
    if txn.kind == FUNDING:
        body["authorization_url"] = txn.authorization_url
    elif txn.kind == PURCHASE:
        items = deps.payments.items(txn)
        first = items[0]
        receipt = f"{deps.settings.public_base_url}/v1/transactions/{txn.id}/receipt" if txn.receipt_path else None
        body.update(product_id=first.product_id, quantity=first.quantity, unit_price=first.unit_price,
                    seller_id=first.seller_id, fee=txn.fee, receipt_url=receipt,
                    items=[{"product_id": i.product_id, "seller_id": i.seller_id, "name": i.name,
                            "unit_price": i.unit_price, "quantity": i.quantity,
                            "line_total": i.unit_price * i.quantity} for i in items])
    else:
        body["bank_account_id"] = txn.bank_account_id
    return s.TransactionOut.model_validate(body).model_dump(mode="json")


def idempotent(req: falcon.Request, resp: falcon.Response, create: Callable[..., Transaction]) -> None:
    """Run `create(user, claim, respond)` at most once per (user, Idempotency-Key)."""
    user: User = req.context.user
    deps = req.context.deps
    key = idempotency.validate_key(req.get_header("Idempotency-Key"))
    request_hash = idempotency.fingerprint(req.method, req.path, req.context.body.model_dump(mode="json"))
    outcome = idempotency.claim(user.id, key, request_hash)
    if isinstance(outcome, idempotency.StoredResponse):
        resp.status = outcome.status
        resp.set_header("Idempotent-Replayed", "true")
        if outcome.status >= 400:
            resp.content_type = PROBLEM_JSON
            resp.text = json.dumps(outcome.body)
        else:
            resp.media = outcome.body
        return
    try:
        txn = create(user, outcome, lambda t: transaction_out(t, deps))
    except DomainError as exc:
        with db.atomic():  # a refusal is an answer too: the same key replays it
            outcome.complete(exc.status, problem_body(exc.status, exc.code, exc.title, exc.detail))
        raise
    except BaseException:
        outcome.release()
        raise
    resp.status = 202
    resp.media = transaction_out(txn, deps)


class Wallet:
    @operation("The signed-in user's wallet", tags=TAGS, auth=True, query=s.WalletQuery,
               responses={200: s.WalletOut})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        wallet = req.context.deps.payments.wallet(req.context.user, req.context.query.currency)
        resp.media = s.WalletOut(currency=wallet.currency, balance=wallet.balance, held=wallet.held,
                                 available=wallet.balance - wallet.held).model_dump()


class WalletEntries:
    @operation("Ledger entries of the wallet, newest first", tags=TAGS, auth=True, query=s.EntriesQuery,
               responses={200: s.EntryList}, errors={400: ["invalid_cursor"]})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = req.context.query
        rows, cursor = req.context.deps.payments.entries(req.context.user, q.currency, q.limit, q.cursor)
        resp.media = s.EntryList(data=[s.EntryOut(
            id=e.id, transaction_id=e.transaction_id, amount=e.amount, balance_after=e.balance_after,
            description=e.description, created_at=utc(e.created_at)) for e in rows], next_cursor=cursor
        ).model_dump(mode="json")


class Fundings:
    @operation("Fund the wallet through Paystack; poll the transaction for authorization_url", tags=TAGS,
               auth=True, body=s.FundingIn, headers=IDEMPOTENCY, responses={202: s.TransactionOut},
               errors=IDEMPOTENCY_ERRORS)
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = req.context.body
        payments = req.context.deps.payments
        idempotent(req, resp, lambda user, claim, respond: payments.create_funding(
            user, body.amount, body.currency, claim, respond))


class FundingCallback:
    @operation("Where Paystack's checkout returns the customer; triggers verification", tags=TAGS,
               query=s.CallbackQuery, responses={"html": "A page telling the customer what happens next"})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        reference = req.context.query.reference or req.context.query.trxref
        txn = Transaction.get_or_none(Transaction.reference == reference) if reference else None
        if txn is not None and txn.kind == FUNDING:
            # Only a nudge: the worker verifies with Paystack before anything moves.
            req.context.deps.dispatcher.dispatch(CONFIRM_FUNDING, txn.id)
        render(resp, "funding_return.html", found=txn is not None, txn_status=txn.status if txn else None)


class Purchases:
    @operation("Buy a product from the wallet", tags=TAGS, auth=True, body=s.PurchaseIn, headers=IDEMPOTENCY,
               responses={202: s.TransactionOut},
               errors={**IDEMPOTENCY_ERRORS, 404: ["not_found"], 422: ["own_product", "idempotency_key_reused"]})
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = req.context.body
        payments = req.context.deps.payments
        idempotent(req, resp, lambda user, claim, respond: payments.create_purchase(
            user, body.product_id, body.quantity, claim, respond))


class Withdrawals:
    @operation("Withdraw from the wallet to a bank account", tags=TAGS, auth=True, body=s.WithdrawalIn,
               headers=IDEMPOTENCY, responses={202: s.TransactionOut},
               errors={**IDEMPOTENCY_ERRORS, 404: ["not_found"]})
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = req.context.body
        payments = req.context.deps.payments
        idempotent(req, resp, lambda user, claim, respond: payments.create_withdrawal(
            user, body.amount, body.bank_account_id, claim, respond))


class TransactionItem:
    @operation("One transaction (the seller may read a sale); ETag and If-None-Match", tags=TAGS, auth=True,
               responses={200: s.TransactionOut, 304: None}, errors={404: ["not_found"]})
    def on_get(self, req: falcon.Request, resp: falcon.Response, transaction_id: str) -> None:
        txn = req.context.deps.payments.visible_transaction(req.context.user, transaction_id)
        body = transaction_out(txn, req.context.deps)
        etag = '"' + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32] + '"'
        resp.etag = etag
        resp.cache_control = ["private", "no-cache"]
        if etag in _tags(req.get_header("If-None-Match")):
            resp.status = 304
            return
        resp.media = body


class Transactions:
    @operation("The user's transactions, newest first", tags=TAGS, auth=True, query=s.TransactionsQuery,
               responses={200: s.TransactionList}, errors={400: ["invalid_cursor"]})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        q = req.context.query
        rows, cursor = req.context.deps.payments.list_transactions(req.context.user, q.limit, q.cursor, q.kind,
                                                                   q.status)
        resp.media = {"data": [transaction_out(t, req.context.deps) for t in rows], "next_cursor": cursor}


class Receipt:
    @operation("The purchase receipt as a PDF", tags=TAGS, auth=True,
               responses={200: ("application/pdf", "The receipt"), 304: None},
               errors={404: ["not_found", "receipt_not_ready"]})
    def on_get(self, req: falcon.Request, resp: falcon.Response, transaction_id: str) -> None:
        txn = req.context.deps.payments.visible_transaction(req.context.user, transaction_id)
        if txn.kind != PURCHASE:
            raise NotFound("Only purchases have receipts.")
        receipt = receipts.stored(txn.id, req.context.deps.settings.media_root)
        if receipt is None:
            raise ApiError(404, "receipt_not_ready", "Receipt not ready", "The receipt has not been rendered yet.")
        resp.etag = receipt.etag
        resp.cache_control = ["private", "max-age=3600"]
        if receipt.etag in _tags(req.get_header("If-None-Match")):
            resp.status = 304
            return
        resp.content_type = "application/pdf"
        resp.downloadable_as = receipt.filename
        resp.data = receipt.path.read_bytes()


def _tags(header: str | None) -> list[str]:
    return [tag.strip() for tag in (header or "").split(",")]


class Banks:
    @operation("Banks that accept withdrawals", tags=TAGS, auth=True, responses={200: s.BankList},
               errors={503: ["provider_unavailable"]})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"data": cached_banks(req.context.deps)}


def cached_banks(deps: Any) -> list[dict[str, str]]:
    key = f"{deps.settings.redis_namespace}:cache:banks:NGN"
    cached = deps.redis.get(key)
    if cached:
        return json.loads(cached)
    try:
        banks = [{"name": b["name"], "code": b["code"]} for b in deps.paystack.list_banks("NGN")]
    except PaystackError:
        raise ApiError(503, "provider_unavailable", "Payment provider unavailable",
                       "The bank list cannot be fetched right now; try again shortly.") from None
    deps.redis.set(key, json.dumps(banks), ex=BANKS_CACHE_SECONDS)
    return banks


def bank_account_out(account: BankAccount) -> dict[str, str]:
    return s.BankAccountOut(id=account.id, bank_code=account.bank_code, bank_name=account.bank_name,
                            account_number=account.account_number, account_name=account.account_name).model_dump()


class BankAccounts:
    @operation("Add a bank account; its holder's name is resolved with the provider", tags=TAGS, auth=True,
               body=s.BankAccountIn, responses={201: s.BankAccountOut},
               errors={422: ["account_unresolvable"], 503: ["provider_unavailable"]})
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body, deps, user = req.context.body, req.context.deps, req.context.user
        banks = {b["code"]: b["name"] for b in cached_banks(deps)}
        if body.bank_code not in banks:
            raise ApiError(422, "account_unresolvable", "Account cannot be resolved", "Unknown bank_code.")
        try:
            resolved = deps.paystack.resolve_account(body.account_number, body.bank_code)
        except PaystackRejected:
            raise ApiError(422, "account_unresolvable", "Account cannot be resolved",
                           "The bank could not confirm this account number.") from None
        except PaystackError:
            raise ApiError(503, "provider_unavailable", "Payment provider unavailable",
                           "Account names cannot be checked right now; try again shortly.") from None
        account = deps.payments.add_bank_account(user, body.bank_code, banks[body.bank_code], body.account_number,
                                   str(resolved.get("account_name", ""))[:200])
        resp.status = 201
        resp.media = bank_account_out(account)

    @operation("The user's bank accounts", tags=TAGS, auth=True, responses={200: s.BankAccountList})
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        rows = BankAccount.select().where(BankAccount.user == req.context.user.id).order_by(BankAccount.id.desc())
        resp.media = {"data": [bank_account_out(a) for a in rows], "next_cursor": None}


class PaystackWebhook:
    @operation("Paystack events, signed with x-paystack-signature (HMAC-SHA512 of the raw body)",
               tags=("webhooks",), responses={200: s.WebhookAck}, errors={401: ["invalid_signature"]})
    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        deps = req.context.deps
        raw = read_raw(req, WEBHOOK_MAX_BYTES)
        if not webhooks.signature_valid(raw, req.get_header("x-paystack-signature"),
                                        deps.settings.paystack_secret_key):
            raise ApiError(401, "invalid_signature", "Invalid signature",
                           "The x-paystack-signature header does not match the body.")
        try:
            payload = json.loads(raw)
        except ValueError:
            raise ApiError(400, "invalid_json", "Malformed JSON", "The body is not valid JSON.") from None
        if not isinstance(payload, dict):
            raise ApiError(400, "invalid_json", "Malformed JSON", "The body must be a JSON object.")
        webhooks.record(raw, payload, deps.dispatcher)
        resp.media = {"received": True}


ROUTES = [
    ("/v1/wallet", Wallet()),
    ("/v1/wallet/entries", WalletEntries()),
    ("/v1/fundings", Fundings()),
    ("/v1/fundings/callback", FundingCallback()),
    ("/v1/purchases", Purchases()),
    ("/v1/withdrawals", Withdrawals()),
    ("/v1/transactions", Transactions()),
    ("/v1/transactions/{transaction_id}", TransactionItem()),
    ("/v1/transactions/{transaction_id}/receipt", Receipt()),
    ("/v1/banks", Banks()),
    ("/v1/bank-accounts", BankAccounts()),
    ("/v1/webhooks/paystack", PaystackWebhook()),
]
