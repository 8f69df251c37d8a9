"""Crashes: real Dramatiq worker processes SIGKILLed while they settle purchases or while a transfer
call is in flight, and jobs lost between a commit and their enqueue. Redelivered or re-sent jobs
must settle everything exactly once: exact balances and stock, one provider transfer, a clean audit.

The killed workers consume a private broker namespace, so the suite's own worker cannot take their
jobs; under APP_ENV=test the broker declares a silent worker dead after 5 s (production: 60 s)."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import redis
import requests

from models import db
from models.catalogue import Product
from models.ledger import HOLD_CAPTURED, Hold, Posting
from models.transactions import (
    FAILED,
    FINAL,
    PENDING,
    PROCESSING,
    REQUIRES_ACTION,
    SUCCEEDED,
    WITHDRAWAL,
    BankAccount,
    Transaction,
    WebhookEvent,
)
from services import idempotency, webhooks
from services.jobs import INITIALIZE_FUNDING, PROCESS_WEBHOOK, SETTLE_PURCHASE, START_PAYOUT, BrokerDispatcher
from services.payments import PaymentsService, ensure_wallet, new_reference
from tests.support import ledger_fixtures as lf
from tests.support.money import (
    active_faults,
    assert_ledger_clean,
    pay_checkout,
    provider_transfers,
    resend_webhook,
    sandbox_fault,
    sandbox_webhooks,
    signed_in_user,
    webhooks_settled,
)
from tests.support.procs import PYTHON, NoJobs, spawn, stop, wait_until
from workers.broker import make_broker

PRICE = 1_000


@dataclass
class CrashSite:
    """Worker processes of our own on a private broker namespace, and a dispatcher that feeds them."""

    stack: object
    namespace: str
    dispatcher: BrokerDispatcher
    procs: list[subprocess.Popen] = field(default_factory=list)

    def start_worker(self, name: str) -> subprocess.Popen:
        # Payments only: emails and receipts queued by settling wait in the namespace, unconsumed.
        proc = spawn([PYTHON, "-m", "dramatiq", "workers.main", "--processes", "1", "--threads", "4",
                      "--queues", "payments"], env={**self.stack.env, "REDIS_NAMESPACE": self.namespace},
                     log_path=self.stack.logs / f"{name}.log")
        self.procs.append(proc)
        return proc

    def unacked(self) -> int:
        """Messages taken by a worker (running or prefetched) and not acknowledged."""
        client = redis.Redis.from_url(self.stack.settings.redis_url)
        return sum(client.scard(key) for key in client.scan_iter(match=f"{self.namespace}-dramatiq:__acks__.*"))

    @staticmethod
    def sigkill(proc: subprocess.Popen) -> None:
        """No goodbye: the whole process group (dramatiq's parent and its worker child) at once."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@pytest.fixture
def crash_site(stack) -> Iterator[CrashSite]:
    namespace = f"{stack.settings.redis_namespace}-crash-{secrets.token_hex(3)}"
    site = CrashSite(stack, namespace, BrokerDispatcher(make_broker(stack.settings.replace(redis_namespace=namespace))))
    assert stack.settings.broker_heartbeat_timeout_ms <= 5_000, "redelivery would take a minute"
    yield site
    for proc in site.procs:
        stop(proc, timeout=10)
    client = redis.Redis.from_url(stack.settings.redis_url)
    for key in client.scan_iter(match=f"{namespace}*", count=1000):
        client.delete(key)


def statuses(ids: list[str]) -> Counter:
    return Counter(t.status for t in Transaction.select(Transaction.status).where(Transaction.id.in_(ids)))


def final(ids: list[str]) -> int:
    return sum(n for status, n in statuses(ids).items() if status in FINAL)


def test_workers_killed_mid_settlement_leave_nothing_half_done(stack, crash_site):
    """120 purchases for 80 in stock; 20 buyers who can each pay for 5 of their 6. Whatever was
    running or prefetched when the worker died is redelivered and settles exactly once."""
    seller = lf.user("seller@example.com")
    item = lf.product(seller, PRICE, stock=80)
    buyers = [lf.funded_user(f"buyer{i}@example.com", 5 * PRICE) for i in range(20)]
    ids = [lf.purchase_intent(buyer, item).id for _ in range(6) for buyer in buyers]
    for txn_id in ids:
        crash_site.dispatcher.dispatch(SETTLE_PURCHASE, txn_id)

    doomed = crash_site.start_worker("crash-worker-killed")
    wait_until(lambda: final(ids) >= 10, timeout=20, interval=0.005, message="the first purchases to settle")
    crash_site.sigkill(doomed)
    assert final(ids) < len(ids), "the worker finished before it was killed; add purchases"
    assert crash_site.unacked() > 0, "the dead worker held messages it had not acknowledged"

    crash_site.start_worker("crash-worker-recovery")
    wait_until(lambda: final(ids) == len(ids), timeout=40, interval=0.1, message="every purchase to be final")

    assert statuses(ids) == Counter({SUCCEEDED: 80, FAILED: 40})
    reasons = Counter(t.failure_reason for t in Transaction.select().where(Transaction.id.in_(ids),
                                                                            Transaction.status == FAILED))
    assert set(reasons) <= {"out_of_stock", "insufficient_funds"}, reasons
    assert Product.get_by_id(item.id).stock == 0
    assert lf.balance(seller.id) == 80 * PRICE
    bought = Counter(t.user_id for t in Transaction.select().where(Transaction.id.in_(ids),
                                                                    Transaction.status == SUCCEEDED))
    assert all(bought[b.id] <= 5 and lf.balance(b.id) == (5 - bought[b.id]) * PRICE for b in buyers)
    postings = Counter(p.transaction_id for p in Posting.select().where(Posting.transaction_id.in_(ids)))
    assert len(postings) == 80 and set(postings.values()) == {1}, "one posting per succeeded purchase"
    assert_ledger_clean()


def bank_account(owner, deps) -> BankAccount:
    code = deps.paystack.list_banks()[0]["code"]
    with db.atomic():
        return BankAccount.create(id=db.new_id("bnk"), user=owner, bank_code=code, bank_name="Bank",
                                  account_number="0123456789", account_name="Seller")


def test_a_worker_killed_during_the_transfer_call_never_pays_twice(stack, deps, crash_site):
    """The provider has the transfer request when the worker dies, and carries it out; the success
    event is lost. The redelivered job must find the transfer by its reference and capture the hold."""
    owner = lf.funded_user("seller@example.com", 100_000)
    account = bank_account(owner, deps)
    with db.atomic():
        txn = Transaction.create(id=db.new_id("txn"), kind=WITHDRAWAL, user=owner, amount=60_000, currency="NGN",
                                 reference=new_reference(WITHDRAWAL), bank_account_id=account.id)
    sandbox_fault(stack.paystack_url, {"endpoint": "transfer.create", "delay_ms": 1_500})
    sandbox_fault(stack.paystack_url, {"webhooks": "drop", "count": 1})
    crash_site.dispatcher.dispatch(START_PAYOUT, txn.id)

    doomed = crash_site.start_worker("crash-payout-killed")
    wait_until(lambda: not any(f["kind"] == "endpoint" for f in active_faults(stack.paystack_url)), timeout=20,
               message="the transfer request to reach the provider")
    crash_site.sigkill(doomed)
    assert crash_site.unacked() == 1
    assert Transaction.get_by_id(txn.id).status == PROCESSING and Transaction.get_by_id(txn.id).transfer_code is None
    key = stack.settings.paystack_secret_key
    wait_until(lambda: provider_transfers(stack.paystack_url, key, txn.reference), message="the provider to pay")

    crash_site.start_worker("crash-payout-recovery")
    wait_until(lambda: Transaction.get_by_id(txn.id).status in FINAL, timeout=30, message="the withdrawal to settle")
    assert Transaction.get_by_id(txn.id).status == SUCCEEDED
    assert [t["status"] for t in provider_transfers(stack.paystack_url, key, txn.reference)] == ["success"]
    assert Hold.get(Hold.transaction_id == txn.id).status == HOLD_CAPTURED
    wallet = ensure_wallet(owner.id, "NGN")
    assert (wallet.balance, wallet.held) == (40_000, 0)
    assert_ledger_clean()


# --- a crash between commit and enqueue ----------------------------------------------------------

def recorded_without_jobs(stack, owner, create) -> Transaction:
    """Record an intent as the API does, with the process dying before its job was enqueued."""
    claim = idempotency.claim(owner.id, secrets.token_hex(8), "0" * 64)
    return create(PaymentsService(stack.settings, NoJobs()), claim, lambda t: {"id": t.id})


def test_a_purchase_whose_job_was_lost_settles_once_when_sent_again(stack, worker, deps):
    seller = lf.user("seller@example.com")
    item = lf.product(seller, PRICE, stock=5)
    buyer = lf.funded_user("buyer@example.com", 10 * PRICE)
    txn = recorded_without_jobs(stack, buyer, lambda s, c, r: s.create_purchase(buyer, item.id, 2, c, r))
    assert Transaction.get_by_id(txn.id).status == PENDING
    for _ in range(3):  # the reconciler's re-send, racing a redelivery, racing another re-send
        deps.dispatcher.dispatch(SETTLE_PURCHASE, txn.id)
    wait_until(lambda: Transaction.get_by_id(txn.id).status in FINAL, message="the purchase to settle")
    assert Transaction.get_by_id(txn.id).status == SUCCEEDED
    assert Posting.select().where(Posting.transaction_id == txn.id).count() == 1
    assert (lf.balance(buyer.id), lf.balance(seller.id)) == (8 * PRICE, 2 * PRICE)
    assert Product.get_by_id(item.id).stock == 3
    assert_ledger_clean()


def test_a_funding_whose_job_was_lost_opens_one_checkout_when_sent_again(stack, worker, web, deps):
    owner = lf.user("buyer@example.com")
    txn = recorded_without_jobs(stack, owner, lambda s, c, r: s.create_funding(owner, 70_000, "NGN", c, r))
    assert Transaction.get_by_id(txn.id).status == PENDING
    for _ in range(3):
        deps.dispatcher.dispatch(INITIALIZE_FUNDING, txn.id)
    wait_until(lambda: Transaction.get_by_id(txn.id).status != PENDING, message="the checkout to open")
    assert Transaction.get_by_id(txn.id).status == REQUIRES_ACTION, Transaction.get_by_id(txn.id).failure_reason
    pay_checkout(stack.paystack_url, txn.reference)
    wait_until(lambda: Transaction.get_by_id(txn.id).status in FINAL, message="the funding to settle")
    assert Transaction.get_by_id(txn.id).status == SUCCEEDED
    assert lf.balance(owner.id) == 70_000
    paid = requests.get(f"{stack.paystack_url}/transaction", params={"perPage": 100}, timeout=5,
                        headers={"Authorization": f"Bearer {stack.settings.paystack_secret_key}"}).json()["data"]
    assert [t["status"] for t in paid if t["reference"] == txn.reference] == ["success"]
    assert_ledger_clean()


def test_a_withdrawal_whose_job_was_lost_pays_once_when_sent_again(stack, worker, web, deps):
    owner = lf.funded_user("seller@example.com", 100_000)
    account = bank_account(owner, deps)
    txn = recorded_without_jobs(stack, owner, lambda s, c, r: s.create_withdrawal(owner, 60_000, account.id, c, r))
    for _ in range(3):
        deps.dispatcher.dispatch(START_PAYOUT, txn.id)
    wait_until(lambda: Transaction.get_by_id(txn.id).status in FINAL, message="the withdrawal to settle")
    assert Transaction.get_by_id(txn.id).status == SUCCEEDED
    key = stack.settings.paystack_secret_key
    assert [t["status"] for t in provider_transfers(stack.paystack_url, key, txn.reference)] == ["success"]
    assert lf.balance(owner.id) == 40_000
    assert_ledger_clean()


def test_a_webhook_stored_without_its_job_is_processed_when_the_provider_retries(stack, worker, web, deps):
    """The web process stored the event and died before enqueueing it (and before answering): the
    provider's retry of the same bytes is deduplicated, and must still get the event processed."""
    buyer = signed_in_user(web, "buyer@example.com", deps)
    intent = buyer.post("/v1/fundings", {"amount": 45_000}).json()
    reference = buyer.wait_status(intent["id"], REQUIRES_ACTION)["reference"]
    sandbox_fault(stack.paystack_url, {"webhooks": "drop", "count": 1})
    pay_checkout(stack.paystack_url, reference)
    sent = wait_until(lambda: sandbox_webhooks(stack.paystack_url, reference), message="the provider's event")
    raw = json.dumps(sent[0]["payload"], separators=(",", ":")).encode()  # the sandbox's exact bytes
    assert webhooks.record(raw, json.loads(raw), NoJobs())
    assert Transaction.get_by_id(intent["id"]).status == REQUIRES_ACTION

    resend_webhook(stack.paystack_url, reference)  # byte-identical to the stored event
    assert buyer.wait_status(intent["id"], SUCCEEDED, FAILED)["status"] == SUCCEEDED
    event = WebhookEvent.get(WebhookEvent.reference == reference)
    for _ in range(2):  # and the job itself, delivered again
        deps.dispatcher.dispatch(PROCESS_WEBHOOK, event.id)
    resend_webhook(stack.paystack_url, reference)
    wait_until(lambda: webhooks_settled(reference, 1), message="the repeats to be absorbed")
    assert buyer.wallet()["balance"] == 45_000
    assert_ledger_clean()
