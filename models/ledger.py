"""The double-entry ledger: the one module that moves money.

A posting is a set of entries summing to zero, written with the cached balances it changes in the
caller's DB transaction. Entries are never updated or deleted; a correction is a new posting.
Balances change only through conditional UPDATEs (never read-then-write), applied in account-id
order so concurrent postings cannot deadlock. Withdrawals use two-phase holds: hold -> capture or void.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import peewee as pw

from models.accounts import WALLET, Account
from models.db import BaseModel, database, new_id, utcnow

HOLD_PENDING, HOLD_CAPTURED, HOLD_VOIDED = "pending", "captured", "voided"


class InsufficientFunds(Exception):
    """A wallet debit or hold would exceed the wallet's available balance."""


class Posting(BaseModel):
    id = pw.CharField(primary_key=True, max_length=40)
    transaction_id = pw.CharField(max_length=40)
    kind = pw.CharField(max_length=40)
    description = pw.CharField(max_length=255)

    class Meta:
        table_name = "postings"
        # One posting of each kind per transaction: settling twice is refused by the database.
        indexes = ((("transaction_id", "kind"), True),)


class LedgerEntry(BaseModel):
    id = pw.CharField(primary_key=True, max_length=40)
    posting = pw.ForeignKeyField(Posting, backref="entries", on_delete="RESTRICT")
    account = pw.ForeignKeyField(Account, backref="entries", on_delete="RESTRICT")
    transaction_id = pw.CharField(max_length=40)
    amount = pw.BigIntegerField(constraints=[pw.Check("amount <> 0")])
    balance_after = pw.BigIntegerField()
    description = pw.CharField(max_length=255)

    class Meta:
        table_name = "ledger_entries"
        indexes = ((("account", "id"), False),)


class Hold(BaseModel):
    id = pw.CharField(primary_key=True, max_length=40)
    transaction_id = pw.CharField(max_length=40, unique=True)
    account = pw.ForeignKeyField(Account, backref="holds", on_delete="RESTRICT")
    amount = pw.BigIntegerField(constraints=[pw.Check("amount > 0")])
    status = pw.CharField(max_length=16, default=HOLD_PENDING)

    class Meta:
        table_name = "holds"
        constraints = [pw.Check("status IN ('pending', 'captured', 'voided')")]


@dataclass(frozen=True)
class Leg:
    account_id: str
    amount: int  # signed minor units: negative debits, positive credits
    release_held: int = 0  # capturing a hold: the debit spends money that was reserved for it


def post(transaction_id: str, kind: str, description: str, legs: Sequence[Leg]) -> Posting:
    """Write one balanced posting. Must run inside the caller's DB transaction.

    Raises InsufficientFunds if a wallet leg would overdraw (the caller's transaction then rolls
    back everything, stock included), and IntegrityError if this posting already exists.
    """
    _require_transaction()
    if sum(leg.amount for leg in legs) != 0 or any(leg.amount == 0 for leg in legs):
        raise ValueError(f"unbalanced or empty legs in {kind} posting")
    posting = Posting.create(id=new_id("pst"), transaction_id=transaction_id, kind=kind,
                             description=description)
    entries = []
    for leg in sorted(legs, key=lambda leg: leg.account_id):
        balance_after = _apply(leg)
        entries.append({"id": new_id("ent"), "posting": posting.id, "account": leg.account_id,
                        "transaction_id": transaction_id, "amount": leg.amount,
                        "balance_after": balance_after, "description": description})
    _check_one_currency([leg.account_id for leg in legs])
    LedgerEntry.insert_many(entries).execute()
    return posting


def _apply(leg: Leg) -> int:
    """balance += amount (held -= release_held) in one conditional statement; returns the new balance."""
    query = Account.update(balance=Account.balance + leg.amount, held=Account.held - leg.release_held,
                           updated_at=utcnow()).where(Account.id == leg.account_id)
    if leg.amount < 0:
        # Wallets may only spend what is available (not held); system accounts may go negative.
        query = query.where((Account.kind != WALLET)
                            | (Account.balance - Account.held + leg.release_held >= -leg.amount))
    rows = list(query.returning(Account.balance).execute())
    if not rows:
        raise InsufficientFunds(leg.account_id)
    return rows[0].balance


def hold(transaction_id: str, account_id: str, amount: int) -> Hold:
    """Reserve `amount` of a wallet's available balance for a later capture or void."""
    _require_transaction()
    reserved = (Account.update(held=Account.held + amount, updated_at=utcnow())
                .where(Account.id == account_id, Account.balance - Account.held >= amount).execute())
    if reserved != 1:
        raise InsufficientFunds(account_id)
    return Hold.create(id=new_id("hld"), transaction_id=transaction_id, account=account_id, amount=amount)


def capture_hold(transaction_id: str, kind: str, description: str, counter_account_id: str) -> Posting | None:
    """Turn a pending hold into a posting (wallet -> counter account). None if it is not pending."""
    _require_transaction()
    held = Hold.get_or_none(Hold.transaction_id == transaction_id)
    if held is None or not _move_hold(held, HOLD_CAPTURED):
        return None
    return post(transaction_id, kind, description, [
        Leg(held.account_id, -held.amount, release_held=held.amount), Leg(counter_account_id, held.amount)])


def void_hold(transaction_id: str) -> bool:
    """Release a pending hold; the money is available again. False if it was not pending."""
    _require_transaction()
    held = Hold.get_or_none(Hold.transaction_id == transaction_id)
    if held is None or not _move_hold(held, HOLD_VOIDED):
        return False
    (Account.update(held=Account.held - held.amount, updated_at=utcnow())
     .where(Account.id == held.account_id).execute())
    return True


def _move_hold(held: Hold, to: str) -> bool:
    return bool(Hold.update(status=to, updated_at=utcnow())
                .where(Hold.id == held.id, Hold.status == HOLD_PENDING).execute())


def _check_one_currency(account_ids: Iterable[str]) -> None:
    currencies = {a.currency for a in Account.select(Account.currency).where(Account.id.in_(list(account_ids)))}
    if len(currencies) != 1:
        raise ValueError(f"a posting must stay in one currency, got {sorted(currencies)}")


def _require_transaction() -> None:
    if not database.in_transaction():
        raise RuntimeError("ledger writes must run inside the caller's DB transaction")


# --- system accounts and wallets -----------------------------------------------------------------

def system_account(kind: str, currency: str) -> str:
    """Id of the system account of `kind` in `currency`, created on first use (deterministic id)."""
    account_id = f"sys_{kind}_{currency.lower()}"
    Account.insert(id=account_id, kind=kind, currency=currency).on_conflict_ignore().execute()
    return account_id


# --- invariants ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Violation:
    rule: str
    subject: str
    detail: str


def audit(since_entry_id: str | None = None) -> list[Violation]:
    """Check the ledger's invariants; returns every violation found (empty means clean).

    `since_entry_id` limits the per-account checks to accounts touched after that entry, so a
    periodic audit costs what changed rather than the whole history.
    """
    violations: list[Violation] = []
    totals: dict[str, int] = defaultdict(int)
    for currency, total in (LedgerEntry.select(Account.currency, pw.fn.SUM(LedgerEntry.amount))
                            .join(Account).group_by(Account.currency).tuples()):
        totals[currency] = int(total)
    violations += [Violation("entries_sum_to_zero", c, f"sum is {t}") for c, t in totals.items() if t != 0]

    accounts = Account.select()
    if since_entry_id is not None:
        touched = LedgerEntry.select(LedgerEntry.account).where(LedgerEntry.id > since_entry_id)
        accounts = accounts.where(Account.id.in_(touched))
    sums = dict(LedgerEntry.select(LedgerEntry.account, pw.fn.SUM(LedgerEntry.amount))
                .where(LedgerEntry.account.in_(accounts.select(Account.id))).group_by(LedgerEntry.account).tuples())
    holds = dict(Hold.select(Hold.account, pw.fn.SUM(Hold.amount)).where(Hold.status == HOLD_PENDING)
                 .group_by(Hold.account).tuples())
    for account in accounts:
        if account.balance != int(sums.get(account.id) or 0):
            violations.append(Violation("balance_matches_entries", account.id,
                                        f"cached {account.balance}, entries {sums.get(account.id) or 0}"))
        if account.held != int(holds.get(account.id) or 0):
            violations.append(Violation("held_matches_holds", account.id,
                                        f"held {account.held}, pending holds {holds.get(account.id) or 0}"))
        if account.kind == WALLET and (account.balance < 0 or account.held > account.balance):
            violations.append(Violation("wallet_not_negative", account.id,
                                        f"balance {account.balance}, held {account.held}"))
    return violations
