"""Helpers for reconciliation tests: the real scheduler process on a short interval, intents whose
messages were lost, provider-backed fundings, and "has everything converged" checks."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import subprocess
from collections.abc import Iterator
from typing import Any

import redis

from models import db
from models.identity import User
from models.ledger import Posting, audit
from models.reconcile import OK, Discrepancy, ReconcileRun
from models.transactions import FUNDING, REQUIRES_ACTION, WITHDRAWAL, Alert, BankAccount, Transaction
from services import settlement
from services.idempotency import claim, fingerprint
from services.payments import PaymentsService, ensure_wallet, new_reference
from services.reconcile import runs
from services.reconcile.audit import ALERT_KIND
from tests.support.money import pay_checkout
from tests.support.procs import PYTHON, NoJobs, spawn, stop, wait_until
from workers.payments.paystack import PaystackClient

# What the issue asks the tests to run the scheduler with.
SCHEDULER_ENV = {"RECONCILE_INTERVAL_SECONDS": "1", "RECONCILE_AFTER_SECONDS": "1"}


def leader_key(stack: Any) -> str:
    return f"{stack.settings.redis_namespace}:scheduler:leader"


def leader_pid(stack: Any) -> int | None:
    """The pid inside the leader lock's token (host:pid:random), if someone holds it."""
    token = redis.Redis.from_url(stack.settings.redis_url).get(leader_key(stack))
    return int(token.decode().split(":")[1]) if token else None


def start_scheduler(stack: Any, name: str = "scheduler") -> subprocess.Popen:
    """`python -m scheduler` (the Procfile's process) on the suite's services, ticking every second."""
    return spawn([PYTHON, "-m", "scheduler"], env={**stack.env, **SCHEDULER_ENV},
                 log_path=stack.logs / f"{name}.log")


@contextlib.contextmanager
def schedulers(stack: Any, count: int = 1) -> Iterator[list[subprocess.Popen]]:
    procs = [start_scheduler(stack, f"scheduler-{index}") for index in range(count)]
    try:
        wait_until(lambda: leader_pid(stack) in {p.pid for p in procs}, timeout=20, message="a scheduler to lead")
        yield procs
    finally:
        for proc in procs:
            stop(proc)


# --- intents whose job was never enqueued ---------------------------------------------------------

def lost_messages(stack: Any) -> PaymentsService:
    """The API's service with a dispatcher that sends nothing: as if every enqueue after commit was lost."""
    return PaymentsService(stack.settings, NoJobs())


def intent_claim(user: User) -> Any:
    return claim(user.id, secrets.token_hex(8), fingerprint("POST", "/test", {"nonce": secrets.token_hex(4)}))


def respond(txn: Transaction) -> dict[str, Any]:
    return {"id": txn.id}


def bank_account(stack: Any, user: User, account_number: str = "0123456789") -> BankAccount:
    client = provider_client(stack)
    bank = client.list_banks()[0]
    name = client.resolve_account(account_number, bank["code"])["account_name"]
    with db.atomic():
        return BankAccount.create(id=db.new_id("bnk"), user=user, bank_code=bank["code"], bank_name=bank["name"],
                                  account_number=account_number, account_name=name)


def wallet(user: User) -> str:
    return ensure_wallet(user.id, "NGN").id


def withdrawal_intent(user: User, amount: int, bank: BankAccount | None = None) -> Transaction:
    with db.atomic():
        return Transaction.create(id=db.new_id("txn"), kind=WITHDRAWAL, user=user, amount=amount, currency="NGN",
                                  reference=new_reference(WITHDRAWAL), bank_account_id=bank.id if bank else None)


def provider_client(stack: Any) -> PaystackClient:
    return PaystackClient(stack.paystack_url, stack.settings.paystack_secret_key, timeout=5)


def checkout(stack: Any, user: User, amount: int, created_at: dt.datetime | None = None) -> Transaction:
    """A funding waiting for the customer: initialised with the provider, not paid yet."""
    with db.atomic():
        txn = Transaction.create(id=db.new_id("txn"), kind=FUNDING, status=REQUIRES_ACTION, user=user, amount=amount,
                                 currency="NGN", reference=new_reference(FUNDING),
                                 created_at=created_at or db.utcnow(), updated_at=created_at or db.utcnow())
    data = provider_client(stack).initialize_transaction(
        email=user.email, amount=amount, reference=txn.reference, currency="NGN",
        callback_url=f"{stack.env['PUBLIC_BASE_URL']}/v1/fundings/callback")
    with db.atomic():
        Transaction.update(authorization_url=data["authorization_url"], access_code=data["access_code"]).where(
            Transaction.id == txn.id).execute()
    return txn


def provider_credit(stack: Any, user: User, amount: int) -> Transaction:
    """A funding the provider really received (checkout paid), credited as the worker would."""
    txn = checkout(stack, user, amount)
    pay_checkout(stack.paystack_url, txn.reference)
    assert settlement.credit_funding(txn.id, NoJobs())
    return Transaction.get_by_id(txn.id)


# --- convergence ---------------------------------------------------------------------------------

def status(txn_id: str) -> str:
    return Transaction.get_by_id(txn_id).status


def wait_status(txn_id: str, *statuses: str, timeout: float = 30.0) -> Transaction:
    return wait_until(lambda: Transaction.get_or_none(Transaction.id == txn_id, Transaction.status.in_(statuses)),
                      timeout=timeout, message=f"{txn_id} to reach {statuses}")


def postings(txn_id: str) -> list[str]:
    return sorted(p.kind for p in Posting.select().where(Posting.transaction_id == txn_id))


def audited_since(moment: dt.datetime) -> ReconcileRun | None:
    """A finished incremental audit whose window reaches `moment`."""
    return (ReconcileRun.select().where(ReconcileRun.job == runs.LEDGER_AUDIT, ReconcileRun.status == OK,
                                        ReconcileRun.window_end >= moment).first())


def provider_checked_since(moment: dt.datetime) -> ReconcileRun | None:
    return (ReconcileRun.select().where(ReconcileRun.job == runs.PROVIDER, ReconcileRun.status == OK,
                                        ReconcileRun.started_at >= moment).first())


def assert_reconciled(timeout: float = 20.0) -> None:
    """The scheduler's own audit has covered everything so far and found nothing; the full audit
    agrees; a provider reconciliation that started after now finds every record matching."""
    now = db.utcnow()
    wait_until(lambda: audited_since(now), timeout=timeout, message="the incremental audit to catch up")
    wait_until(lambda: provider_checked_since(now), timeout=timeout, message="a provider reconciliation")
    assert audit() == []
    assert [a.detail for a in Alert.select().where(Alert.kind == ALERT_KIND)] == []
    assert [(d.kind, d.reference) for d in Discrepancy.select().where(Discrepancy.resolved_at.is_null())] == []
