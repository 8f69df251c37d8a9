"""The ledger audit: incremental every run (its cost follows new entries), full once a day.

Incremental, over the window (last audited moment, now - lag]:
- every posting created in the window sums to zero per currency;
- every account touched in the window (by an entry or a hold): its cached balance equals its
  checkpoint (the sum of its entries up to the checkpoint's `as_of`) plus its entries after that,
  its `held` equals its pending holds, and a wallet is never negative nor over-held;
- then the touched accounts' checkpoints move forward to the window's end.
The window stays `lag` behind now so that transactions that started before its end have committed.
Reads run in one snapshot, so cached balances and entries are compared as of the same moment.

Full (daily): models.ledger.audit() over the whole history, every posting, and the checkpoints
themselves re-summed (entries are immutable, so a checkpoint that no longer matches means history
was rewritten); then every checkpoint is rebuilt.

A violation is recorded (alert, error log, run record, metric); nothing is ever corrected here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence

import peewee as pw

from config import Settings
from models import db
from models.accounts import WALLET, Account
from models.ledger import HOLD_PENDING, Hold, LedgerEntry, Posting, Violation, audit
from models.reconcile import OK, AuditCheckpoint
from services.reconcile import runs

ALERT_KIND = "ledger_violation"
EPOCH = dt.datetime(1970, 1, 1)


def run_incremental(settings: Settings, run_id: str | None = None, now: dt.datetime | None = None) -> None:
    with runs.recorded(runs.LEDGER_AUDIT, run_id) as report:
        start = audited_until()
        end = (now or db.utcnow()) - dt.timedelta(seconds=settings.reconcile_audit_lag_seconds)
        report.window_start, report.window_end = start, max(start, end)
        if end <= start:
            return
        with snapshot():
            violations = unbalanced_postings(start, end)
            touched = touched_accounts(start, end)
            for batch in chunks(touched, settings.reconcile_batch_size):
                violations += check_accounts(batch)
        for batch in chunks(touched, settings.reconcile_batch_size):
            report.changed += advance_checkpoints(batch, end)
        report.examined = len(touched)
        _record(violations, report)


def run_full(settings: Settings, run_id: str | None = None, now: dt.datetime | None = None) -> None:
    with runs.recorded(runs.LEDGER_AUDIT_FULL, run_id) as report:
        end = (now or db.utcnow()) - dt.timedelta(seconds=settings.reconcile_audit_lag_seconds)
        report.window_start, report.window_end = EPOCH, end
        with snapshot():
            violations = audit() + unbalanced_postings(EPOCH, end) + rewritten_history()
            sums = entry_sums_until(end)
        report.examined = len(sums)
        for batch in chunks(sorted(sums), settings.reconcile_batch_size):
            report.changed += rebuild_checkpoints({a: sums[a] for a in batch}, end)
        _record(violations, report)


def audited_until() -> dt.datetime:
    """The end of the newest window a finished audit (incremental or full) covered."""
    ends = [run.window_end for job in (runs.LEDGER_AUDIT, runs.LEDGER_AUDIT_FULL)
            if (run := runs.latest(job, status=OK)) is not None and run.window_end is not None]
    return max(ends, default=EPOCH)


@contextlib.contextmanager
def snapshot() -> Iterator[None]:
    """Several reads as of one moment: REPEATABLE READ on PostgreSQL, a read transaction on SQLite (WAL)."""
    if db.is_sqlite():
        with db.database.atomic():
            yield
    else:
        with db.database.atomic(isolation_level="REPEATABLE READ"):
            yield


# --- checks --------------------------------------------------------------------------------------

def unbalanced_postings(start: dt.datetime, end: dt.datetime) -> list[Violation]:
    total = pw.fn.SUM(LedgerEntry.amount)
    rows = (Posting.select(Posting.id, Account.currency, total.alias("total"))
            .join(LedgerEntry).join(Account)
            .where(Posting.created_at > start, Posting.created_at <= end)
            .group_by(Posting.id, Account.currency).having(total != 0).tuples())
    return [Violation("posting_sums_to_zero", posting, f"{currency} entries sum to {int(amount)}")
            for posting, currency, amount in rows]


def touched_accounts(start: dt.datetime, end: dt.datetime) -> list[str]:
    by_entries = (LedgerEntry.select(LedgerEntry.account).join(Posting)
                  .where(Posting.created_at > start, Posting.created_at <= end))
    by_holds = Hold.select(Hold.account).where(Hold.updated_at > start, Hold.updated_at <= end)
    return sorted({account for (account,) in (by_entries | by_holds).tuples()})


def check_accounts(account_ids: Sequence[str]) -> list[Violation]:
    """Cached balance and held against checkpoint + later entries and pending holds, in one statement."""
    checkpoint = AuditCheckpoint
    pending = (Hold.select(pw.fn.COALESCE(pw.fn.SUM(Hold.amount), 0))
               .where(Hold.account == Account.id, Hold.status == HOLD_PENDING))
    rows = (Account.select(Account.id, Account.kind, Account.balance, Account.held,
                           pw.fn.COALESCE(checkpoint.entry_sum, 0).alias("base"),
                           _entries_after(_checkpoint_time()).alias("later"), pending.alias("pending"))
            .join(checkpoint, pw.JOIN.LEFT_OUTER, on=(checkpoint.account == Account.id))
            .where(Account.id.in_(list(account_ids))).dicts())
    violations: list[Violation] = []
    for row in rows:
        violations += account_violations(row["id"], row["kind"], row["balance"], row["held"],
                                          int(row["base"]) + int(row["later"]), int(row["pending"]))
    return violations


def _checkpoint_time() -> pw.Node:
    return pw.fn.COALESCE(AuditCheckpoint.as_of, EPOCH)


def _entries_after(moment: pw.Node, until: dt.datetime | None = None) -> pw.Select:
    """Sum of the outer account's entries after `moment` (and up to `until`): a range on the
    (account_id, created_at) index, so a hot account's history is never read."""
    query = (LedgerEntry.select(pw.fn.COALESCE(pw.fn.SUM(LedgerEntry.amount), 0))
             .where(LedgerEntry.account == Account.id, LedgerEntry.created_at > moment))
    return query.where(LedgerEntry.created_at <= until) if until is not None else query


def account_violations(account_id: str, kind: str, balance: int, held: int, entries: int,
                       pending_holds: int) -> list[Violation]:
    found = []
    if balance != entries:
        found.append(Violation("balance_matches_entries", account_id, f"cached {balance}, entries {entries}"))
    if held != pending_holds:
        found.append(Violation("held_matches_holds", account_id, f"held {held}, pending holds {pending_holds}"))
    if kind == WALLET and (balance < 0 or held > balance):
        found.append(Violation("wallet_not_negative", account_id, f"balance {balance}, held {held}"))
    return found


def rewritten_history() -> list[Violation]:
    """A checkpoint re-summed from the entries it covers must still match: entries never change."""
    checkpoint = AuditCheckpoint
    actual = pw.fn.COALESCE(pw.fn.SUM(LedgerEntry.amount), 0)
    rows = (checkpoint.select(checkpoint.account, checkpoint.entry_sum, checkpoint.as_of, actual.alias("actual"))
            .join(LedgerEntry, pw.JOIN.LEFT_OUTER,
                  on=(LedgerEntry.account == checkpoint.account) & (LedgerEntry.created_at <= checkpoint.as_of))
            .group_by(checkpoint.account, checkpoint.entry_sum, checkpoint.as_of)
            .having(actual != checkpoint.entry_sum).tuples())
    return [Violation("entries_immutable", account,
                      f"entries up to {as_of} summed to {expected} when audited, {int(now)} now")
            for account, expected, as_of, now in rows]


# --- checkpoints ---------------------------------------------------------------------------------

def advance_checkpoints(account_ids: Sequence[str], end: dt.datetime) -> int:
    """checkpoint += entries in (as_of, end], as_of = end; conditional on the as_of read, so a
    concurrent audit can neither double-count nor go backwards."""
    checkpoint = AuditCheckpoint
    rows = (Account.select(Account.id, checkpoint.entry_sum, checkpoint.as_of,
                           _entries_after(_checkpoint_time(), until=end).alias("delta"))
            .join(checkpoint, pw.JOIN.LEFT_OUTER, on=(checkpoint.account == Account.id))
            .where(Account.id.in_(list(account_ids))).tuples())
    moved = 0
    with db.atomic():
        for account, base, as_of, delta in list(rows):
            if as_of is None:
                moved += (checkpoint.insert(account=account, entry_sum=int(delta), as_of=end)
                          .on_conflict_ignore().as_rowcount().execute())
            elif as_of < end:
                moved += (checkpoint.update(entry_sum=int(base) + int(delta), as_of=end, updated_at=db.utcnow())
                          .where(checkpoint.account == account, checkpoint.as_of == as_of).execute())
    return moved


def entry_sums_until(end: dt.datetime) -> dict[str, int]:
    return {account: int(total) for account, total in
            LedgerEntry.select(LedgerEntry.account, pw.fn.SUM(LedgerEntry.amount))
            .where(LedgerEntry.created_at <= end).group_by(LedgerEntry.account).tuples()}


def rebuild_checkpoints(sums: dict[str, int], end: dt.datetime) -> int:
    """Set checkpoints from a full re-sum; never moves one that a newer audit already advanced."""
    checkpoint = AuditCheckpoint
    written = 0
    with db.atomic():
        for account, total in sums.items():
            written += (checkpoint.update(entry_sum=total, as_of=end, updated_at=db.utcnow())
                        .where(checkpoint.account == account, checkpoint.as_of <= end).execute())
            written += (checkpoint.insert(account=account, entry_sum=total, as_of=end)
                        .on_conflict_ignore().as_rowcount().execute())
    return written


# --- recording -----------------------------------------------------------------------------------

def _record(violations: list[Violation], report: runs.RunReport) -> None:
    report.discrepancies = len(violations)
    if not violations:
        return
    with db.atomic():
        for violation in violations:
            runs.raise_alert(ALERT_KIND, violation.subject, f"{violation.rule}: {violation.detail}")
            report.note("violations", {"rule": violation.rule, "subject": violation.subject,
                                       "detail": violation.detail})


def chunks(items: Sequence[str] | Iterable[str], size: int) -> Iterator[list[str]]:
    items = list(items)
    for index in range(0, len(items), max(1, size)):
        yield items[index:index + size]
