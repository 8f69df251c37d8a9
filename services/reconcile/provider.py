"""Provider reconciliation: over a window (the last day by default), every final funding and
withdrawal of ours is matched one to one, by reference, with the provider's transaction or transfer.

The provider side is its list endpoints (GET /transaction, GET /transfer with from/to); ours that the
lists did not show are asked about one by one with the verify endpoints. Missing on either side,
amount or currency mismatches and status disagreements become rows of reconcile_discrepancies (one
per reference and kind; resolved automatically once a later run finds the two sides agreeing).

Two disagreements have a normal code path that the provider's verify endpoint settles, so they are
also re-driven through it: a withdrawal the bank reversed after we recorded it paid (confirm_payout
reverses it), and a funding paid after we failed it (confirm_funding flags it for operators).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from config import Settings
from models import db
from models.reconcile import (
    AMOUNT_MISMATCH,
    CURRENCY_MISMATCH,
    MISSING_AT_PROVIDER,
    MISSING_LOCALLY,
    STATUS_MISMATCH,
    Discrepancy,
)
from models.transactions import FAILED, FINAL, FUNDING, REVERSED, SUCCEEDED, WITHDRAWAL, Transaction
from services.jobs import CONFIRM_FUNDING, CONFIRM_PAYOUT, Dispatcher, Job, unit_of_work
from services.reconcile import runs
from services.reconcile.audit import chunks

log = logging.getLogger(__name__)
PER_PAGE = 100
MAX_PAGES = 1000  # a bound, not an expectation: 100,000 records per kind and window
# Provider statuses that moved no money: unknown to us, they are no discrepancy.
QUIET = {FUNDING: frozenset({"abandoned", "failed"}),
         WITHDRAWAL: frozenset({"failed", "abandoned", "rejected", "blocked"})}
# A failed withdrawal of ours is right when the transfer ended without paying (or came back).
TRANSFER_UNPAID = frozenset({"failed", "reversed", "abandoned", "rejected", "blocked"})
REDRIVE: dict[tuple[str, str, str], Job] = {
    (WITHDRAWAL, SUCCEEDED, "reversed"): CONFIRM_PAYOUT,
    (FUNDING, FAILED, "success"): CONFIRM_FUNDING,
}


class Provider(Protocol):
    """The provider's list and verify endpoints per subject (workers/reconcile adapts the Paystack client)."""

    def page(self, subject: str, start: dt.datetime, end: dt.datetime, page: int,
             per_page: int) -> tuple[list[dict[str, Any]], dict[str, Any]]: ...

    def lookup(self, subject: str, reference: str) -> dict[str, Any] | None:
        """The verify endpoint's data, or None if the provider does not know the reference."""
        ...


@dataclass(frozen=True)
class Record:
    """A money movement as one side knows it. Amounts in minor units."""

    reference: str
    status: str
    amount: int
    currency: str
    transaction_id: str | None = None


@dataclass(frozen=True)
class Finding:
    kind: str
    subject: str  # funding or withdrawal
    reference: str
    ours: Record | None
    theirs: Record | None
    detail: str
    redrive: Job | None = None


def compare(subject: str, ours: Record | None, theirs: Record | None) -> list[Finding]:
    """Pure: what is wrong between our final record and the provider's, if anything."""
    reference = (ours or theirs).reference  # type: ignore[union-attr]
    if ours is None:
        if theirs is None or theirs.status in QUIET[subject]:
            return []
        return [Finding(MISSING_LOCALLY, subject, reference, None, theirs,
                        f"provider {subject} {theirs.status} with no record of ours")]
    if ours.status not in FINAL:
        return []  # in flight: the stuck-work finder drives it, this is no disagreement yet
    if theirs is None:
        if ours.status == FAILED:
            return []
        return [Finding(MISSING_AT_PROVIDER, subject, reference, ours, None,
                        f"our {ours.status} {subject} is unknown to the provider")]
    found = []
    if theirs.amount != ours.amount:
        found.append(Finding(AMOUNT_MISMATCH, subject, reference, ours, theirs,
                             f"ours {ours.amount}, provider {theirs.amount}"))
    if theirs.currency != ours.currency:
        found.append(Finding(CURRENCY_MISMATCH, subject, reference, ours, theirs,
                             f"ours {ours.currency}, provider {theirs.currency}"))
    if not status_agrees(subject, ours.status, theirs.status):
        found.append(Finding(STATUS_MISMATCH, subject, reference, ours, theirs,
                             f"ours {ours.status}, provider {theirs.status}",
                             REDRIVE.get((subject, ours.status, theirs.status))))
    return found


def status_agrees(subject: str, ours: str, theirs: str) -> bool:
    if ours == SUCCEEDED:
        return theirs == "success"
    if ours == REVERSED:
        return theirs == "reversed"
    if subject == WITHDRAWAL:
        return theirs in TRANSFER_UNPAID
    return theirs != "success"  # a failed funding: the customer did not pay (yet)


# --- one run -------------------------------------------------------------------------------------

def run(settings: Settings, provider: Provider, dispatcher: Dispatcher, run_id: str | None = None,
        now: dt.datetime | None = None) -> None:
    with runs.recorded(runs.PROVIDER, run_id) as report:
        end = now or db.utcnow()
        start = end - dt.timedelta(seconds=settings.reconcile_provider_window_seconds)
        report.window_start, report.window_end = start, end
        findings: list[Finding] = []
        examined: set[str] = set()
        for subject in (FUNDING, WITHDRAWAL):
            found, seen = reconcile_subject(subject, provider, start, end, settings.reconcile_batch_size)
            findings += found
            examined |= seen
        report.examined = len(examined)
        record(findings, examined, report, dispatcher)


def reconcile_subject(subject: str, provider: Provider, start: dt.datetime, end: dt.datetime,
                      batch: int) -> tuple[list[Finding], set[str]]:
    theirs = {r.reference: r for r in provider_records(subject, provider, start, end)}
    ours = our_records(subject, start, list(theirs))
    # Ours the lists did not show (paged, or created before the window): ask one by one, a batch per run.
    unlisted = [ref for ref, record_ in ours.items() if ref not in theirs and record_.status in (SUCCEEDED, REVERSED)]
    for reference in unlisted[batch:]:
        del ours[reference]  # next run; never reported missing without having asked
    for reference in unlisted[:batch]:
        data = provider.lookup(subject, reference)
        if data is not None:
            theirs[reference] = _record_of(data)
    findings: list[Finding] = []
    for reference in sorted(ours.keys() | theirs.keys()):
        findings += compare(subject, ours.get(reference), theirs.get(reference))
    return findings, set(ours) | set(theirs)


def provider_records(subject: str, provider: Provider, start: dt.datetime, end: dt.datetime) -> Iterator[Record]:
    """Every provider record created in [start, end]; `end` is fixed, so later records shift no page."""
    for number in range(1, MAX_PAGES + 1):
        items, meta = provider.page(subject, start, end, number, PER_PAGE)
        yield from (_record_of(item) for item in items)
        if len(items) < PER_PAGE or number >= int(meta.get("pageCount") or number):
            return


def our_records(subject: str, start: dt.datetime, references: list[str]) -> dict[str, Record]:
    """Ours finalised in the window (index on status, updated_at), plus any the provider listed."""
    fields = (Transaction.id, Transaction.reference, Transaction.status, Transaction.amount, Transaction.currency)
    rows = list(Transaction.select(*fields).where(Transaction.kind == subject, Transaction.status.in_(FINAL),
                                                  Transaction.updated_at >= start))
    for batch in chunks(references, 500):
        rows.extend(Transaction.select(*fields).where(Transaction.kind == subject, Transaction.reference.in_(batch)))
    return {t.reference: Record(t.reference, t.status, t.amount, t.currency, t.id) for t in rows}


def _record_of(item: dict[str, Any]) -> Record:
    return Record(str(item.get("reference") or ""), str(item.get("status") or ""), int(item.get("amount") or 0),
                  str(item.get("currency") or ""))


def iso(moment: dt.datetime) -> str:
    """Paystack's date-time form for the list filters: UTC, milliseconds, trailing Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- recording -----------------------------------------------------------------------------------

def record(findings: list[Finding], examined: set[str], report: runs.RunReport, dispatcher: Dispatcher) -> None:
    """Upsert what was found, resolve what was examined and agrees now, then re-drive after commit."""
    run_id = report.run_id
    now = db.utcnow()
    found_keys = {(f.reference, f.kind) for f in findings}
    with unit_of_work(dispatcher) as uow:
        for finding in findings:
            _upsert(finding, run_id, now)
            report.note("discrepancies", {"kind": finding.kind, "reference": finding.reference})
            if finding.redrive is not None and finding.ours is not None:
                uow.after_commit(finding.redrive, finding.ours.transaction_id)
                report.changed += 1
                report.note("redriven", finding.ours.transaction_id)
        report.changed += _resolve_agreeing(examined, found_keys, run_id, now)
    report.discrepancies = len(findings)
    for finding in findings:
        log.error("provider discrepancy", extra={"kind": finding.kind, "subject": finding.subject,
                                                 "reference": finding.reference, "detail": finding.detail})


def _upsert(finding: Finding, run_id: str, now: dt.datetime) -> None:
    ours = json.dumps(asdict(finding.ours) if finding.ours else {}, sort_keys=True)
    theirs = json.dumps(asdict(finding.theirs) if finding.theirs else {}, sort_keys=True)
    transaction_id = finding.ours.transaction_id if finding.ours else None
    (Discrepancy.insert(id=db.new_id("dsc"), kind=finding.kind, subject=finding.subject, reference=finding.reference,
                        transaction_id=transaction_id, ours=ours, theirs=theirs, detail=finding.detail,
                        first_run_id=run_id, last_run_id=run_id, last_seen_at=now)
     .on_conflict(conflict_target=[Discrepancy.reference, Discrepancy.kind],
                  update={Discrepancy.ours: ours, Discrepancy.theirs: theirs, Discrepancy.detail: finding.detail,
                          Discrepancy.last_run_id: run_id, Discrepancy.last_seen_at: now,
                          Discrepancy.resolved_at: None, Discrepancy.resolution: None, Discrepancy.updated_at: now})
     .execute())


def _resolve_agreeing(examined: set[str], found: set[tuple[str, str]], run_id: str, now: dt.datetime) -> int:
    resolved = 0
    for row in Discrepancy.select(Discrepancy.id, Discrepancy.reference, Discrepancy.kind).where(
            Discrepancy.resolved_at.is_null()):
        if row.reference in examined and (row.reference, row.kind) not in found:
            resolved += (Discrepancy.update(resolved_at=now, resolution=f"sides agree as of run {run_id}",
                                            updated_at=now)
                         .where(Discrepancy.id == row.id, Discrepancy.resolved_at.is_null()).execute())
    return resolved
