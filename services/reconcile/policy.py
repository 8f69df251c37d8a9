"""Pure decisions of the stuck-work finder: which actor re-drives a transaction, and when to try
again or give up and flag it for an operator."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from config import Settings
from models.transactions import FUNDING, PENDING, PROCESSING, PURCHASE, REQUIRES_ACTION, WITHDRAWAL
from services.jobs import (
    CONFIRM_FUNDING,
    CONFIRM_PAYOUT,
    INITIALIZE_FUNDING,
    SETTLE_PURCHASE,
    START_PAYOUT,
    Job,
)

# The same actors as the normal flow: each reloads the row and is safe to run again.
REDRIVE: dict[tuple[str, str], Job] = {
    (FUNDING, PENDING): INITIALIZE_FUNDING,  # the initialize message was lost
    (FUNDING, REQUIRES_ACTION): CONFIRM_FUNDING,  # verify: paid -> credit, expired -> abandoned
    (FUNDING, PROCESSING): CONFIRM_FUNDING,
    (PURCHASE, PENDING): SETTLE_PURCHASE,
    (WITHDRAWAL, PENDING): START_PAYOUT,  # hold, then transfer (it checks the reference first)
    # verify the transfer: success -> post, failed/reversed -> release; never started -> resume it
    (WITHDRAWAL, PROCESSING): CONFIRM_PAYOUT,
}


def redrive_job(kind: str, status: str) -> Job | None:
    return REDRIVE.get((kind, status))


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int
    base: dt.timedelta
    cap: dt.timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(max(2, settings.reconcile_max_attempts),
                   dt.timedelta(seconds=settings.reconcile_backoff_base_seconds),
                   dt.timedelta(seconds=settings.reconcile_backoff_max_seconds))

    def delay(self, attempt: int) -> dt.timedelta:
        """base, 2*base, 4*base ... capped: attempt n waits before attempt n+1."""
        return min(self.base * 2 ** max(0, attempt - 1), self.cap)


@dataclass(frozen=True)
class Visit:
    attempts: int  # the transaction's new attempt count
    next_attempt_at: dt.datetime | None
    flag: bool  # give up: flag for an operator instead of re-driving


def plan_visit(attempts: int, now: dt.datetime, policy: RetryPolicy,
               waiting_until: dt.datetime | None = None) -> Visit:
    """What the finder does with a stuck transaction that has had `attempts` re-drives so far.

    After `max_attempts` re-drives the next visit flags it; the count then exceeds max_attempts, which
    takes it out of the finder's range for good (an operator resets attempts to retry it).
    `waiting_until` is when a legitimate wait ends (a checkout the customer may still pay): until
    then visits never use up the last attempt, and the next one is due no later than that moment.
    """
    waiting = waiting_until is not None and now < waiting_until
    if attempts >= policy.max_attempts and not waiting:
        return Visit(attempts + 1, None, flag=True)
    count = attempts + 1
    if waiting:
        count = max(attempts, min(count, policy.max_attempts - 1))
    next_at = now + policy.delay(max(count, 1))
    if waiting and waiting_until is not None:
        next_at = min(next_at, waiting_until)
    return Visit(count, next_at, flag=False)
