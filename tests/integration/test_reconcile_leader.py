"""Two scheduler processes started by mistake double nothing: one holds the Redis leader lock and
reconciles, the other waits and takes over when the leader stops; every attempt is recorded once."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import redis

from models import db
from models.catalogue import Product
from models.outbox import Email
from models.reconcile import ReconcileRun
from models.transactions import Transaction
from services.reconcile import runs
from services.reconcile.lock import RedisLock
from services.reconcile.stuck import redrive_transactions
from tests.support import ledger_fixtures as lf
from tests.support.money import provider_transfers
from tests.support.procs import stop, wait_until
from tests.support.reconcile import (
    assert_reconciled,
    bank_account,
    intent_claim,
    leader_pid,
    lost_messages,
    postings,
    provider_credit,
    respond,
    schedulers,
    wait_status,
)

PRICE = 30_000


def test_one_holder_and_only_the_holder_renews_or_releases(stack):
    client = redis.Redis.from_url(stack.settings.redis_url)
    key = f"{stack.settings.redis_namespace}:test-lock"
    first, second = RedisLock(client, key, ttl_ms=300), RedisLock(client, key, ttl_ms=300)
    assert first.hold() and not second.hold()
    assert first.hold(), "the holder renews"
    assert not second.release() and first.holder() == first.token
    time.sleep(0.4)  # the holder paused past the expiry
    assert second.hold(), "an expired lock is free"
    assert not first.hold(), "and the old holder cannot extend someone else's"
    assert second.release() and first.hold()


def stuck_runners(job: str = runs.STUCK_TRANSACTIONS) -> set[int]:
    """Pids of the processes that ran the stuck-transaction finder."""
    return {int(run.runner.split(":")[1]) for run in ReconcileRun.select().where(ReconcileRun.job == job)}


def redriven_by(txn_id: str) -> set[int]:
    return {int(run.runner.split(":")[1]) for run in ReconcileRun.select().where(
        ReconcileRun.job == runs.STUCK_TRANSACTIONS) if txn_id in json.loads(run.detail).get("redriven", [])}


def test_two_schedulers_one_leader_nothing_doubled(stack, worker):
    seller = lf.user("seller@example.com")
    provider_credit(stack, seller, 100_000)
    bank = bank_account(stack, seller)
    item = lf.product(seller, PRICE, stock=10)
    buyers = [lf.user(f"buyer{i}@example.com") for i in range(3)]
    latecomer = lf.user("late@example.com")
    for buyer in [*buyers, latecomer]:
        provider_credit(stack, buyer, PRICE)
    service = lost_messages(stack)

    with schedulers(stack, count=2) as procs:
        leader = next(p for p in procs if p.pid == leader_pid(stack))
        standby = next(p for p in procs if p is not leader)
        purchases = [service.create_purchase(b, item.id, 1, intent_claim(b), respond) for b in buyers]
        withdrawal = service.create_withdrawal(seller, 50_000, bank.id, intent_claim(seller), respond)
        for txn in [*purchases, withdrawal]:
            assert wait_status(txn.id, "succeeded", "failed").status == "succeeded"
        assert stuck_runners() == {leader.pid}, "the standby reconciled nothing"

        stop(leader)  # it hands the lock over on its way out
        wait_until(lambda: leader_pid(stack) == standby.pid, message="the standby to take over")
        late = service.create_purchase(latecomer, item.id, 1, intent_claim(latecomer), respond)
        assert wait_status(late.id, "succeeded", "failed").status == "succeeded"
        assert redriven_by(late.id) == {standby.pid}
        assert_reconciled()

    assert [postings(t.id) for t in [*purchases, late]] == [["purchase"]] * 4
    assert postings(withdrawal.id) == ["withdrawal"]
    assert Product.get_by_id(item.id).stock == 6
    assert lf.balance(seller.id) == 100_000 + 4 * PRICE - 50_000
    assert Email.select().where(Email.template == "sale_made").count() == 4
    assert len(provider_transfers(stack.paystack_url, stack.settings.paystack_secret_key, withdrawal.reference)) == 1


def test_even_two_leaders_at_once_enqueue_each_attempt_once(stack):
    """Safety without the lock: finders racing over the same rows record (and enqueue) each attempt once."""
    seller = lf.user("seller@example.com")
    item = lf.product(seller, PRICE, stock=10)
    buyer = lf.funded_user("buyer@example.com", 10 * PRICE)
    stuck = {lf.purchase_intent(buyer, item).id for _ in range(5)}
    settings = stack.settings.replace(reconcile_after_seconds=0)
    sent: list[tuple[str, tuple]] = []
    barrier = threading.Barrier(4)

    class Recorder:
        def dispatch(self, job, *args) -> None:
            sent.append((job.actor, args))

    def finder() -> None:
        barrier.wait()
        with db.connection():
            redrive_transactions(settings, Recorder(), now)

    now = db.utcnow() + dt.timedelta(seconds=1)
    threads = [threading.Thread(target=finder) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(args[0] for _, args in sent) == sorted(stuck)
    assert {t.attempts for t in Transaction.select().where(Transaction.id.in_(list(stuck)))} == {1}
