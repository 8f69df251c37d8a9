"""Settling intents: each function is one DB transaction that changes a transaction's state, its
ledger postings and its emails together, or nothing at all. Every function is safe to run twice:
state moves are conditional, and postings are unique per (transaction, kind).

Provider I/O stays in workers/payments; this module only decides and writes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from models import db
from models.accounts import Account
from models.catalogue import Product
from models.identity import User
from models.ledger import InsufficientFunds, Leg, capture_hold, hold, post, system_account, void_hold
from models.transactions import (
    FAILED,
    PENDING,
    PROCESSING,
    REQUIRES_ACTION,
    REVERSED,
    SUCCEEDED,
    Alert,
    OrderItem,
    Transaction,
    transition,
)
from services.catalogue import take_stock
from services.jobs import PURCHASE_SETTLED, Dispatcher, UnitOfWork, unit_of_work
from services.money import format_amount
from services.outbox import queue_email
from services.payments import ensure_wallet

log = logging.getLogger(__name__)
PROVIDER_CLEARING, PAYOUT_CLEARING, PLATFORM_FEES = "provider_clearing", "payout_clearing", "platform_fees"


class SettlementFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def flag(transaction_id: str, kind: str, detail: str) -> None:
    """Raise an operator alert (once per kind and transaction). Call inside a DB transaction."""
    Alert.insert(id=db.new_id("alr"), kind=kind, transaction_id=transaction_id, detail=detail).on_conflict_ignore(
    ).execute()
    Transaction.update(flagged_reason=f"{kind}: {detail}"[:255]).where(Transaction.id == transaction_id).execute()
    log.error("transaction flagged for operators", extra={"transaction_id": transaction_id, "kind": kind,
                                                          "detail": detail})


def _email(uow: UnitOfWork, user_id: str, template: str, tag: str, **context: object) -> None:
    user = User.get_by_id(user_id)
    queue_email(uow, to=user.email, template=template, tag=tag, context={"full_name": user.full_name, **context})


def _money(txn: Transaction) -> dict[str, object]:
    return {"amount": format_amount(txn.amount, txn.currency), "reference": txn.reference,
            "transaction_id": txn.id}


# --- funding ---------------------------------------------------------------------------------

def mark_requires_action(txn: Transaction, authorization_url: str, access_code: str) -> bool:
    with db.atomic():
        return transition(txn.id, PENDING, REQUIRES_ACTION, authorization_url=authorization_url,
                          access_code=access_code)


def credit_funding(txn_id: str, dispatcher: Dispatcher) -> bool:
    """Provider confirmed the payment (amount already checked): provider clearing -> wallet, once."""
    with unit_of_work(dispatcher) as uow:
        txn = Transaction.get_by_id(txn_id)
        if txn.status not in (PENDING, REQUIRES_ACTION) or not transition(txn.id, txn.status, SUCCEEDED):
            return False
        wallet = ensure_wallet(txn.user_id, txn.currency)
        post(txn.id, "funding", "Wallet funding", [
            Leg(system_account(PROVIDER_CLEARING, txn.currency), -txn.amount), Leg(wallet.id, txn.amount)])
        _email(uow, txn.user_id, "wallet_funded", "funding", **_money(txn),
               balance=format_amount(Account.get_by_id(wallet.id).balance, txn.currency))
        return True


def fail_funding(txn_id: str, reason: str, dispatcher: Dispatcher, alert: str | None = None,
                 sources: tuple[str, ...] = (PENDING, REQUIRES_ACTION)) -> bool:
    """`sources` narrows the states it may fail from (a checkout that was opened is not failed
    by a problem opening it)."""
    with unit_of_work(dispatcher) as uow:
        txn = Transaction.get_by_id(txn_id)
        if txn.status not in sources or not transition(txn.id, txn.status, FAILED, failure_reason=reason):
            return False
        if alert:
            flag(txn.id, reason, alert)
        _email(uow, txn.user_id, "funding_failed", "funding", reason=reason, **_money(txn))
        return True


# --- purchases -------------------------------------------------------------------------------

@dataclass(frozen=True)
class PurchasePlan:
    """What settling one purchase writes: stock decrements and one balanced posting."""

    transaction_id: str
    stock: Sequence[tuple[str, int]]  # (product id, quantity), in lock order
    legs: Sequence[Leg]


def plan_purchase(txn: Transaction, items: Sequence[OrderItem], buyer_wallet: str, seller_wallets: dict[str, str],
                  fee_account: str) -> PurchasePlan:
    """Pure: intent rows in, the stock and ledger changes out. The buyer pays the total; each seller
    receives their lines minus the fee; the fee goes to the platform."""
    credits: dict[str, int] = {}
    fees = 0
    for item in items:
        line_total = item.unit_price * item.quantity
        wallet = seller_wallets[item.seller_id]
        credits[wallet] = credits.get(wallet, 0) + line_total - item.fee
        fees += item.fee
    legs = [Leg(buyer_wallet, -txn.amount), *(Leg(w, amount) for w, amount in credits.items() if amount)]
    if fees:
        legs.append(Leg(fee_account, fees))
    stock = sorted((item.product_id, item.quantity) for item in items)
    return PurchasePlan(txn.id, stock, legs)


def settle_purchase(txn_id: str, dispatcher: Dispatcher) -> str:
    """Settle one pending purchase: succeeded, failed (with reason), or skipped (already final)."""
    try:
        with unit_of_work(dispatcher) as uow:
            txn = Transaction.get_or_none(Transaction.id == txn_id)
            # The conditional move first: a concurrent duplicate blocks here, then finds nothing to do.
            if txn is None or not transition(txn.id, PENDING, SUCCEEDED):
                return "skipped"
            items = list(OrderItem.select().where(OrderItem.transaction == txn.id))
            _apply_purchase(_plan(txn, items))
            for seller_id in sorted({item.seller_id for item in items}):
                sold = [i for i in items if i.seller_id == seller_id]
                _email(uow, seller_id, "sale_made", "sale", **_money(txn),
                       items=[{"name": i.name, "quantity": i.quantity} for i in sold],
                       earned=format_amount(sum(i.unit_price * i.quantity - i.fee for i in sold), txn.currency))
            uow.after_commit(PURCHASE_SETTLED, txn.id)
            return SUCCEEDED
    except SettlementFailed as failure:
        with db.atomic():
            transition(txn_id, PENDING, FAILED, failure_reason=failure.reason)
        return FAILED


def _plan(txn: Transaction, items: Sequence[OrderItem]) -> PurchasePlan:
    buyer = ensure_wallet(txn.user_id, txn.currency).id
    sellers = {item.seller_id: ensure_wallet(item.seller_id, txn.currency).id for item in items}
    return plan_purchase(txn, items, buyer, sellers, system_account(PLATFORM_FEES, txn.currency))


def _apply_purchase(plan: PurchasePlan) -> None:
    for product_id, quantity in plan.stock:
        if not take_stock(product_id, quantity):
            deleted = Product.get_or_none(Product.id == product_id, Product.deleted_at.is_null()) is None
            raise SettlementFailed("product_unavailable" if deleted else "out_of_stock")
    try:
        post(plan.transaction_id, "purchase", "Purchase", plan.legs)
    except InsufficientFunds:
        raise SettlementFailed("insufficient_funds") from None  # rolls back the stock taken above


# --- withdrawals -----------------------------------------------------------------------------

def hold_for_payout(txn_id: str, dispatcher: Dispatcher) -> bool:
    """Phase one: reserve the amount and move to processing; insufficient funds fail it."""
    try:
        with db.atomic():
            txn = Transaction.get_by_id(txn_id)
            if not transition(txn.id, PENDING, PROCESSING):
                return False
            hold(txn.id, ensure_wallet(txn.user_id, txn.currency).id, txn.amount)
            return True
    except InsufficientFunds:
        fail_payout(txn_id, "insufficient_funds", dispatcher, source=PENDING)
        return False


def capture_payout(txn_id: str, dispatcher: Dispatcher) -> bool:
    """The provider paid the bank: the hold becomes a posting (wallet -> payout clearing)."""
    with unit_of_work(dispatcher) as uow:
        txn = Transaction.get_by_id(txn_id)
        if not transition(txn.id, PROCESSING, SUCCEEDED):
            return False
        _capture(txn)
        _email(uow, txn.user_id, "withdrawal_paid", "withdrawal", **_money(txn))
        return True


def _capture(txn: Transaction) -> None:
    if capture_hold(txn.id, "withdrawal", "Withdrawal to bank",
                    system_account(PAYOUT_CLEARING, txn.currency)) is None:
        raise RuntimeError(f"withdrawal {txn.id} succeeded without a pending hold")


def fail_payout(txn_id: str, reason: str, dispatcher: Dispatcher, source: str = PROCESSING) -> bool:
    """The transfer failed (or never could start): void the hold, the money is available again."""
    with unit_of_work(dispatcher) as uow:
        txn = Transaction.get_by_id(txn_id)
        if not transition(txn.id, source, FAILED, failure_reason=reason):
            return False
        void_hold(txn.id)
        _email(uow, txn.user_id, "withdrawal_failed", "withdrawal", reason=reason, **_money(txn))
        return True


def reverse_payout(txn_id: str, dispatcher: Dispatcher) -> bool:
    """The bank sent a paid-out transfer back: a correcting posting returns the money.

    If the success was never seen (its event lost, late or overtaken by the reversal), its capture
    is recorded first in the same DB transaction, so the withdrawal ends `reversed` whatever order
    the provider's news arrived in."""
    with unit_of_work(dispatcher) as uow:
        txn = Transaction.get_by_id(txn_id)
        if transition(txn.id, PROCESSING, SUCCEEDED):
            _capture(txn)
        if not transition(txn.id, SUCCEEDED, REVERSED):
            return False
        post(txn.id, "withdrawal_reversal", "Withdrawal returned by the bank", [
            Leg(system_account(PAYOUT_CLEARING, txn.currency), -txn.amount),
            Leg(ensure_wallet(txn.user_id, txn.currency).id, txn.amount)])
        _email(uow, txn.user_id, "withdrawal_reversed", "withdrawal", **_money(txn))
        return True
