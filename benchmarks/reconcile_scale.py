"""Reconciliation at 1,000,000 settled transactions: does each job cost what it finds, not history?

Fills a fresh database twice, first with a baseline of 1,000 settled transactions and then with
1,000,000, each time with the same 100 stuck transactions, 100 unsent emails, 100 purchases without
a receipt and 100 new ledger postings on top. History comes with what it would have left behind:
one sent email and one posting (two ledger entries) per settled transaction, all on the same hot
provider clearing account, and the audit checkpoints of a previous audit. Then it times, in the
scheduler's and worker's own code:

- the stuck-transaction finder (services.reconcile.stuck.stuck_query),
- the receipts and emails finders (receipts_query, email_queries),
- the incremental ledger audit (services.reconcile.audit.run_incremental, rolled back each time),
- the /metrics collector's queries (services.reconcile.metrics),

and prints each one's median at both sizes and the ratio big/small: about 1 means the cost does not
grow with the history. `--explain` prints the finders' query plans.

Run it from the project root (the 1M fill takes a minute or two on SQLite, a few on PostgreSQL):

    .venv/bin/python benchmarks/reconcile_scale.py                      # SQLite, a temporary file
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python benchmarks/reconcile_scale.py

With a PostgreSQL URL it creates a private database on that server (VACUUM ANALYZEd after the fill,
as autovacuum would have done by then) and drops it at the end. SQLite runs without ANALYZE, as the
application does.
Options: --big N (1000000), --small N (1000), --stuck N (100), --repeat N (15), --explain.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import Settings
from models import db
from models.accounts import Account
from models.ledger import LedgerEntry, Leg, Posting, post
from models.migrate import apply_all
from services.reconcile import audit, metrics, runs, stuck
from tests.support.databases import fresh_database

BATCH = 10_000
USERS = 1_000
CLEARING = "sys_provider_clearing_ngn"
SETTINGS = Settings()  # production defaults: 300 s threshold, 60 s audit lag, batches of 500


@dataclass(frozen=True)
class World:
    now: dt.datetime  # the moment the reconciler runs


# --- filling -------------------------------------------------------------------------------------

def bulk_insert(table: str, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """Rows in batches of 10,000, one DB transaction per batch."""
    sql_columns = ", ".join(f'"{c}"' for c in columns)
    count, batch = 0, []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            count += _flush(table, sql_columns, len(columns), batch)
            batch = []
    return count + (_flush(table, sql_columns, len(columns), batch) if batch else 0)


def _flush(table: str, columns: str, width: int, rows: list[tuple]) -> int:
    with db.database.atomic():
        cursor = db.database.cursor()
        if db.is_sqlite():
            sql = f'INSERT INTO "{table}" ({columns}) VALUES ({", ".join("?" * width)})'  # noqa: S608 - constants
            cursor.executemany(sql, rows)
        else:
            from psycopg2.extras import execute_values

            sql = f'INSERT INTO "{table}" ({columns}) VALUES %s'  # noqa: S608 - constants
            execute_values(cursor, sql, rows, page_size=BATCH)
    return len(rows)


def fill(settled: int, stuck_count: int) -> World:
    now = db.utcnow()
    checkpoint_at = now - dt.timedelta(minutes=10)  # the previous audit covered history up to here
    history_start = checkpoint_at - dt.timedelta(days=90)
    step = (checkpoint_at - history_start) / max(settled, 1)
    users = [f"usr_{i:026d}" for i in range(USERS)]
    wallets = [f"acc_{i:026d}" for i in range(USERS)]
    bulk_insert("users", ("id", "email", "full_name", "password_hash", "password_changed_at", "created_at",
                          "updated_at", "is_admin"),
                ((u, f"user{i}@example.com", f"User {i}", "!", now, now, now, False) for i, u in enumerate(users)))
    sums: dict[str, int] = defaultdict(int)

    def settled_rows() -> Iterable[tuple]:
        for i in range(settled):
            at = history_start + step * i
            kind = "purchase" if i % 2 else "funding"
            receipt = f"receipts/MKT-{i:06d}.pdf" if kind == "purchase" else None
            yield (f"txn_{i:026d}", kind, "succeeded", users[i % USERS], 1_000 + i % 5_000, "NGN", f"ref-{i}",
                   0, receipt, 0, at, at)

    txn_columns = ("id", "kind", "status", "user_id", "amount", "currency", "reference", "fee", "receipt_path",
                   "attempts", "created_at", "updated_at")
    bulk_insert("transactions", txn_columns, settled_rows())
    bulk_insert("emails", ("id", "to_address", "template", "context", "attachments", "tag", "status", "attempts",
                           "created_at", "updated_at", "sent_at"),
                ((f"eml_{i:026d}", f"user{i % USERS}@example.com", "wallet_funded", "{}", "[]", "funding", "sent", 1,
                  history_start + step * i, history_start + step * i, history_start + step * i)
                 for i in range(settled)))
    _fill_ledger(settled, history_start, step, wallets, sums, users)
    bulk_insert("audit_checkpoints", ("account_id", "entry_sum", "as_of", "created_at", "updated_at"),
                ((account, total, checkpoint_at, now, now) for account, total in sums.items()))
    bulk_insert("reconcile_runs", ("id", "job", "status", "window_start", "window_end", "created_at", "updated_at",
                                   "examined", "changed", "discrepancies", "detail"),
                [("run_previous", runs.LEDGER_AUDIT, "ok", history_start, checkpoint_at, checkpoint_at, checkpoint_at,
                  0, 0, 0, "{}")])
    _fill_work(stuck_count, now, users, wallets, txn_columns)
    if not db.is_sqlite():  # the steady state autovacuum reaches: statistics, visibility map, hint bits
        db.database.execute_sql("VACUUM ANALYZE")
    return World(now=now + dt.timedelta(seconds=SETTINGS.reconcile_audit_lag_seconds + 60))


def _fill_ledger(settled: int, start: dt.datetime, step: dt.timedelta, wallets: list[str],
                 sums: dict[str, int], users: list[str]) -> None:
    """One funding posting (clearing -> wallet) per settled transaction, and the cached balances."""
    def postings() -> Iterable[tuple]:
        for i in range(settled):
            at = start + step * i
            yield (f"pst_{i:026d}", f"txn_{i:026d}", "funding", "Wallet funding", at, at)

    def entries() -> Iterable[tuple]:
        for i in range(settled):
            at, amount, wallet = start + step * i, 1_000 + i % 5_000, wallets[i % USERS]
            sums[wallet] += amount
            sums[CLEARING] -= amount
            yield (f"ent_{2 * i:026d}", f"pst_{i:026d}", CLEARING, f"txn_{i:026d}", -amount, sums[CLEARING],
                   "Wallet funding", at, at)
            yield (f"ent_{2 * i + 1:026d}", f"pst_{i:026d}", wallet, f"txn_{i:026d}", amount, sums[wallet],
                   "Wallet funding", at, at)

    now = db.utcnow()
    bulk_insert("accounts", ("id", "kind", "user_id", "currency", "balance", "held", "created_at", "updated_at"),
                [(CLEARING, "provider_clearing", None, "NGN", 0, 0, now, now),
                 *((w, "wallet", u, "NGN", 0, 0, now, now) for w, u in zip(wallets, users, strict=True))])
    bulk_insert("postings", ("id", "transaction_id", "kind", "description", "created_at", "updated_at"), postings())
    bulk_insert("ledger_entries", ("id", "posting_id", "account_id", "transaction_id", "amount", "balance_after",
                                   "description", "created_at", "updated_at"), entries())
    with db.database.atomic():
        for account, total in sums.items():
            Account.update(balance=total).where(Account.id == account).execute()


def _fill_work(count: int, now: dt.datetime, users: list[str], wallets: list[str], txn_columns: tuple) -> None:
    """What the reconciler must find: stuck intents, purchases without receipts, unsent emails, and
    the newest postings (after the last audit)."""
    old = now - dt.timedelta(hours=1)
    states = [("purchase", "pending"), ("funding", "requires_action"), ("withdrawal", "processing"),
              ("funding", "pending")]
    bulk_insert("transactions", txn_columns,
                [(f"txn_stuck_{i:020d}", *states[i % 4], users[i % USERS], 2_000, "NGN", f"ref-stuck-{i}", 0, None, 0,
                  old, old) for i in range(count)]
                + [(f"txn_norcpt_{i:020d}", "purchase", "succeeded", users[i % USERS], 2_000, "NGN",
                    f"ref-norcpt-{i}", 0, None, 0, old, old) for i in range(count)])
    bulk_insert("emails", ("id", "to_address", "template", "context", "attachments", "tag", "status", "attempts",
                           "created_at", "updated_at"),
                [(f"eml_stuck_{i:020d}", "someone@example.com", "wallet_funded", "{}", "[]", "funding", "pending", 0,
                  old, old) for i in range(count)])
    recent = now - dt.timedelta(minutes=5)
    for i in range(count):  # through the ledger module, as the application posts
        with db.database.atomic():
            post(f"txn_new_{i}", "funding", "Wallet funding", [Leg(CLEARING, -500), Leg(wallets[(i * 7) % USERS], 500)])
    with db.database.atomic():  # post() stamps them now; place them inside the audit's window
        for model in (Posting, LedgerEntry):
            model.update(created_at=recent).where(model.transaction_id.startswith("txn_new_")).execute()


# --- measuring -----------------------------------------------------------------------------------

def timed(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    result = fn()  # warm-up: caches and prepared plans, as a long-running process has them
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), result


def audit_rolled_back(world: World) -> Callable[[], object]:
    def run() -> object:
        with db.database.atomic() as outer:  # inner transactions become savepoints; nothing stays
            audit.run_incremental(SETTINGS, now=world.now)
            found = runs.latest(runs.LEDGER_AUDIT)
            outer.rollback()
        return (found.examined, found.discrepancies)

    return run


def measure(world: World, repeat: int, explain: bool) -> dict[str, tuple[float, object]]:
    limit = SETTINGS.reconcile_batch_size
    finders = {
        "stuck transactions": lambda: len(list(stuck.stuck_query(world.now, SETTINGS, limit))),
        "receipts to issue": lambda: len(list(stuck.receipts_query(world.now, SETTINGS, limit))),
        "emails to resend": lambda: sum(len(list(q)) for q in stuck.email_queries(world.now, SETTINGS, limit)),
        "incremental audit": audit_rolled_back(world),
        "metrics collector": lambda: len(metrics.ReconcileCollector(SETTINGS)._families(world.now)),
    }
    if explain:
        for name, query in (("stuck", stuck.stuck_query(world.now, SETTINGS, limit)),
                            ("receipts", stuck.receipts_query(world.now, SETTINGS, limit)),
                            *(("emails", q) for q in stuck.email_queries(world.now, SETTINGS, limit))):
            sql, params = query.sql()
            prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite() else "EXPLAIN "
            print(f"  plan of {name}:", *(f"    {row[-1]}" for row in db.database.execute_sql(prefix + sql, params)),
                  sep="\n")
    return {name: timed(fn, repeat) for name, fn in finders.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--stuck", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    server = os.environ.get("DATABASE_URL", "")
    print(f"database: {'postgresql' if server.startswith('postgres') else 'sqlite'}")
    results: dict[int, dict[str, tuple[float, object]]] = {}
    for size in (args.small, args.big):
        with tempfile.TemporaryDirectory() as tmp, fresh_database(server, Path(tmp)) as url:
            database = db.connect(url)
            apply_all(database)
            started = time.perf_counter()
            world = fill(size, args.stuck)
            print(f"{size:>9,} settled + {args.stuck} of each kind of work: filled in "
                  f"{time.perf_counter() - started:.1f} s")
            results[size] = measure(world, args.repeat, args.explain)
            database.close()
    small, big = results[args.small], results[args.big]
    print(f"\n{'job':<22}{'found':>12}{args.small:>12,} ms{args.big:>14,} ms{'ratio':>8}")
    for name in small:
        (fast, found), (slow, found_big) = small[name], big[name]
        assert found == found_big, f"{name}: found {found} vs {found_big}"
        print(f"{name:<22}{found!s:>12}{fast * 1000:>15.2f}{slow * 1000:>17.2f}{slow / fast:>8.2f}")


if __name__ == "__main__":
    main()
