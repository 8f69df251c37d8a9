"""The ledger's own guarantees, on the real database."""

from __future__ import annotations

import peewee as pw
import pytest

from models import db
from models.accounts import Account
from models.ledger import (
    InsufficientFunds,
    LedgerEntry,
    Leg,
    audit,
    capture_hold,
    hold,
    post,
    system_account,
    void_hold,
)
from services.payments import ensure_wallet
from tests.support import ledger_fixtures as lf


def wallet(user) -> Account:
    return ensure_wallet(user.id, "NGN")


def test_posting_moves_money_and_records_exact_balances(stack):
    alice, bob = lf.funded_user("alice@example.com", 10_000), lf.user("bob@example.com")
    with db.atomic():
        post("txn_x", "transfer", "Test", [Leg(wallet(alice).id, -2_500), Leg(wallet(bob).id, 2_500)])
    assert wallet(alice).balance == 7_500 and wallet(bob).balance == 2_500
    entries = list(LedgerEntry.select().where(LedgerEntry.transaction_id == "txn_x").order_by(LedgerEntry.amount))
    assert [(e.amount, e.balance_after) for e in entries] == [(-2_500, 7_500), (2_500, 2_500)]
    assert audit() == []


def test_unbalanced_postings_and_writes_outside_a_transaction_are_refused(stack):
    alice = lf.funded_user("alice@example.com", 1_000)
    with pytest.raises(ValueError), db.atomic():
        post("txn_y", "x", "Bad", [Leg(wallet(alice).id, -10)])
    with pytest.raises(RuntimeError):
        post("txn_y", "x", "Outside", [Leg(wallet(alice).id, -10), Leg(system_account("platform_fees", "NGN"), 10)])


def test_a_wallet_never_goes_below_zero(stack):
    alice, bob = lf.funded_user("alice@example.com", 1_000), lf.user("bob@example.com")
    with pytest.raises(InsufficientFunds), db.atomic():
        post("txn_z", "x", "Too much", [Leg(wallet(alice).id, -1_001), Leg(wallet(bob).id, 1_001)])
    assert wallet(alice).balance == 1_000 and wallet(bob).balance == 0
    # The CHECK constraint is the second wall: even a raw UPDATE cannot overdraw a wallet.
    with pytest.raises(pw.IntegrityError), db.atomic():
        Account.update(balance=-1).where(Account.id == wallet(bob).id).execute()


def test_the_same_posting_cannot_be_written_twice(stack):
    alice, bob = lf.funded_user("alice@example.com", 1_000), lf.user("bob@example.com")
    legs = [Leg(wallet(alice).id, -100), Leg(wallet(bob).id, 100)]
    with db.atomic():
        post("txn_dup", "sale", "Once", legs)
    with pytest.raises(pw.IntegrityError), db.atomic():
        post("txn_dup", "sale", "Twice", legs)
    assert wallet(bob).balance == 100


def test_holds_reserve_then_capture_or_void(stack):
    alice = lf.funded_user("alice@example.com", 1_000)
    payout = system_account("payout_clearing", "NGN")
    with db.atomic():
        hold("txn_h1", wallet(alice).id, 600)
    assert (wallet(alice).balance, wallet(alice).held) == (1_000, 600)
    with pytest.raises(InsufficientFunds), db.atomic():
        hold("txn_h2", wallet(alice).id, 500)  # only 400 available
    with db.atomic():
        assert capture_hold("txn_h1", "withdrawal", "Paid out", payout) is not None
        assert capture_hold("txn_h1", "withdrawal", "Paid out", payout) is None, "captured once"
    assert (wallet(alice).balance, wallet(alice).held) == (400, 0)
    with db.atomic():
        hold("txn_h3", wallet(alice).id, 400)
        assert void_hold("txn_h3") and not void_hold("txn_h3")
    assert (wallet(alice).balance, wallet(alice).held) == (400, 0)
    assert audit() == []


def test_audit_reports_tampering_without_fixing_it(stack):
    alice = lf.funded_user("alice@example.com", 1_000)
    Account.update(balance=Account.balance + 1).where(Account.id == wallet(alice).id).execute()
    violations = audit()
    assert [v.rule for v in violations] == ["balance_matches_entries"]
    assert wallet(alice).balance == 1_001, "the audit reports, it never repairs"


def test_illegal_transitions_are_refused_and_logged(stack, caplog):
    from models.transactions import Transaction, transition

    buyer, seller = lf.funded_user("b@example.com", 5_000), lf.user("s@example.com")
    txn = lf.purchase_intent(buyer, lf.product(seller, 1_000, 1))
    with db.atomic():
        assert not transition(txn.id, "pending", "reversed"), "pending -> reversed is not in the table"
        assert transition(txn.id, "pending", "failed")
        assert not transition(txn.id, "pending", "succeeded"), "no longer pending: someone else moved it"
        assert not transition(txn.id, "failed", "succeeded"), "failed is final"
    assert Transaction.get_by_id(txn.id).status == "failed"
    assert any(r.getMessage() == "illegal transition refused" for r in caplog.records)
