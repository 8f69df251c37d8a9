"""Money intents as the API records them, and what clients read back.

Recording an intent only validates, writes a pending transaction (plus its idempotency response)
and enqueues the work after commit: no provider call happens on the request path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import peewee as pw

from config import Settings
from models import db
from models.accounts import WALLET, Account
from models.catalogue import Product
from models.identity import User
from models.ledger import LedgerEntry
from models.transactions import (
    FUNDING,
    PURCHASE,
    WITHDRAWAL,
    BankAccount,
    OrderItem,
    Transaction,
)
from services import errors
from services.idempotency import Claim
from services.jobs import INITIALIZE_FUNDING, SETTLE_PURCHASE, START_PAYOUT, Dispatcher, Job, unit_of_work
from services.money import platform_fee
from services.pagination import newest_first

Respond = Callable[[Transaction], dict[str, Any]]
ACCEPTED = 202


class OwnProduct(errors.DomainError):
    status, code, title = 422, "own_product", "You cannot buy your own product"


def ensure_wallet(user_id: str, currency: str) -> Account:
    """The user's wallet in `currency`, created on first use (NGN exists from registration)."""
    Account.insert(id=db.new_id("acc"), kind=WALLET, user=user_id, currency=currency).on_conflict_ignore().execute()
    return Account.get(Account.user == user_id, Account.kind == WALLET, Account.currency == currency)


def new_reference(kind: str) -> str:
    """Accepted by Paystack for transactions ([A-Za-z0-9.=-]) and transfers ([a-z0-9_-]) alike:
    lowercase letters, digits and dashes, 30 characters."""
    return db.new_id(f"mkt-{kind[:3]}").replace("_", "-")


@dataclass(frozen=True)
class PaymentsService:
    settings: Settings
    dispatcher: Dispatcher

    # --- intents ---------------------------------------------------------------------------

    def create_funding(self, user: User, amount: int, currency: str, claim: Claim, respond: Respond) -> Transaction:
        return self._record(claim, respond, INITIALIZE_FUNDING, lambda: self._new(user, FUNDING, amount, currency))

    def create_purchase(self, user: User, product_id: str, quantity: int, claim: Claim,
                        respond: Respond) -> Transaction:
        def record() -> Transaction:
            product = Product.get_or_none(Product.id == product_id, Product.deleted_at.is_null())
            if product is None:
                raise errors.NotFound("No such product.")
            if product.seller_id == user.id:
                raise OwnProduct("Sellers cannot buy their own products.")
            amount = product.price * quantity
            fee = platform_fee(amount, self.settings.platform_fee_bps)
            txn = self._new(user, PURCHASE, amount, product.currency, fee=fee)
            # Name and price as the buyer saw them; later edits or deletion do not change the order.
            OrderItem.create(id=db.new_id("itm"), transaction=txn, product_id=product.id, seller=product.seller_id,
                             name=product.name, unit_price=product.price, quantity=quantity, fee=fee)
            return txn

        return self._record(claim, respond, SETTLE_PURCHASE, record)

    def create_withdrawal(self, user: User, amount: int, bank_account_id: str, claim: Claim,
                          respond: Respond) -> Transaction:
        def record() -> Transaction:
            account = BankAccount.get_or_none(BankAccount.id == bank_account_id, BankAccount.user == user.id)
            if account is None:
                raise errors.NotFound("No such bank account.")
            return self._new(user, WITHDRAWAL, amount, account.currency, bank_account_id=account.id)

        return self._record(claim, respond, START_PAYOUT, record)

    def _new(self, user: User, kind: str, amount: int, currency: str, **fields: Any) -> Transaction:
        ensure_wallet(user.id, currency)
        return Transaction.create(id=db.new_id("txn"), kind=kind, user=user, amount=amount, currency=currency,
                                  reference=new_reference(kind), **fields)

    def _record(self, claim: Claim, respond: Respond, job: Job, record: Callable[[], Transaction]) -> Transaction:
        with unit_of_work(self.dispatcher) as uow:
            txn = record()
            claim.complete(ACCEPTED, respond(txn))
            uow.after_commit(job, txn.id)
        return txn

    def add_bank_account(self, user: User, bank_code: str, bank_name: str, number: str, name: str) -> BankAccount:
        """Record a bank account whose holder the provider resolved; the same account twice is one row."""
        with db.atomic():
            BankAccount.insert(id=db.new_id("bnk"), user=user.id, bank_code=bank_code, bank_name=bank_name,
                               account_number=number, account_name=name).on_conflict_ignore().execute()
        return BankAccount.get(BankAccount.user == user.id, BankAccount.bank_code == bank_code,
                               BankAccount.account_number == number)

    # --- reads -----------------------------------------------------------------------------

    def visible_transaction(self, user: User, transaction_id: str) -> Transaction:
        """The buyer/funder/withdrawer sees their transaction; a seller sees a sale of theirs."""
        sold = OrderItem.select().where(OrderItem.transaction == Transaction.id, OrderItem.seller == user.id)
        txn = (Transaction.select()
               .where(Transaction.id == transaction_id, (Transaction.user == user.id) | pw.fn.EXISTS(sold))
               .first())
        if txn is None:
            raise errors.NotFound("No such transaction.")
        return txn

    def list_transactions(self, user: User, limit: int, cursor: str | None, kind: str | None = None,
                          status: str | None = None) -> tuple[Sequence[Transaction], str | None]:
        query = Transaction.select().where(Transaction.user == user.id)
        if kind:
            query = query.where(Transaction.kind == kind)
        if status:
            query = query.where(Transaction.status == status)
        return newest_first(query, Transaction.id, limit, cursor)

    def wallet(self, user: User, currency: str) -> Account:
        return ensure_wallet(user.id, currency)

    def entries(self, user: User, currency: str, limit: int,
                cursor: str | None) -> tuple[Sequence[LedgerEntry], str | None]:
        wallet = ensure_wallet(user.id, currency)
        return newest_first(LedgerEntry.select().where(LedgerEntry.account == wallet.id), LedgerEntry.id, limit, cursor)

    def items(self, txn: Transaction) -> list[OrderItem]:
        return list(OrderItem.select().where(OrderItem.transaction == txn.id).order_by(OrderItem.id))
