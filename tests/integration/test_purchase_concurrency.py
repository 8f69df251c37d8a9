"""Purchases racing each other end exact: stock, balances, no negative wallet, a clean ledger.

Settled by real Dramatiq worker processes (several processes, several threads each) on the
suite's database (SQLite or PostgreSQL), and by plain threads calling the settle function."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from models import db
from models.catalogue import Product
from models.ledger import audit
from models.transactions import FAILED, SUCCEEDED, Transaction
from services.jobs import SETTLE_PURCHASE, BrokerDispatcher
from services.settlement import settle_purchase
from tests.support import ledger_fixtures as lf
from tests.support.procs import PYTHON, NoJobs, spawn, stop, wait_until
from workers.broker import make_broker

PRICE = 1_000


@pytest.fixture
def many_workers(stack):
    """Two worker processes with four threads each, on top of the suite's own worker."""
    proc = spawn([PYTHON, "-m", "dramatiq", "workers.main", "--processes", "2", "--threads", "4"],
                 env=stack.env, log_path=stack.logs / "many-workers.log")
    yield proc
    stop(proc, timeout=15)


def final_statuses(ids: list[str]) -> Counter:
    return Counter(t.status for t in Transaction.select().where(Transaction.id.in_(ids)))


def settle_through_workers(stack, ids: list[str]) -> Counter:
    dispatcher = BrokerDispatcher(make_broker(stack.settings))
    for txn_id in ids:
        dispatcher.dispatch(SETTLE_PURCHASE, txn_id)
    wait_until(lambda: sum(final_statuses(ids)[s] for s in (SUCCEEDED, FAILED)) == len(ids), timeout=60,
               message="every purchase to settle")
    return final_statuses(ids)


def test_fifty_buyers_race_for_the_last_ten(stack, worker, many_workers):
    seller = lf.user("seller@example.com")
    item = lf.product(seller, PRICE, stock=10)
    buyers = [lf.funded_user(f"buyer{i}@example.com", 5 * PRICE) for i in range(50)]
    ids = [lf.purchase_intent(buyer, item).id for buyer in buyers]

    assert settle_through_workers(stack, ids) == Counter({SUCCEEDED: 10, FAILED: 40})
    assert Product.get_by_id(item.id).stock == 0
    reasons = Counter(t.failure_reason for t in Transaction.select().where(Transaction.id.in_(ids),
                                                                            Transaction.status == FAILED))
    assert reasons == Counter({"out_of_stock": 40})
    assert lf.balance(seller.id) == 10 * PRICE
    assert sorted(lf.balance(b.id) for b in buyers) == [4 * PRICE] * 10 + [5 * PRICE] * 40
    assert audit() == []


def test_one_buyer_overspending_with_twenty_purchases(stack, worker, many_workers):
    seller = lf.user("seller@example.com")
    item = lf.product(seller, PRICE, stock=100)
    buyer = lf.funded_user("buyer@example.com", 7 * PRICE + 500)  # enough for 7 of the 20
    ids = [lf.purchase_intent(buyer, item).id for _ in range(20)]

    assert settle_through_workers(stack, ids) == Counter({SUCCEEDED: 7, FAILED: 13})
    assert lf.balance(buyer.id) == 500
    assert lf.balance(seller.id) == 7 * PRICE
    assert Product.get_by_id(item.id).stock == 93, "a purchase that cannot be paid takes no stock"
    assert audit() == []


def test_threads_settling_the_same_purchase_settle_it_once(stack):
    seller = lf.user("seller@example.com")
    item = lf.product(seller, PRICE, stock=5)
    buyer = lf.funded_user("buyer@example.com", 10 * PRICE)
    txn = lf.purchase_intent(buyer, item, quantity=2)
    outcomes: list[str] = []

    def run() -> None:
        with db.connection():
            outcomes.append(settle_purchase(txn.id, NoJobs()))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(outcomes) == Counter({SUCCEEDED: 1, "skipped": 7})
    assert Product.get_by_id(item.id).stock == 3
    assert lf.balance(buyer.id) == 8 * PRICE and lf.balance(seller.id) == 2 * PRICE
    assert audit() == []
