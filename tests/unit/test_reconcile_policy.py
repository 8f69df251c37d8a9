"""Pure decisions of the reconciler: backoff and flagging, which actor re-drives what, how our
records and the provider's are compared, and the per-account ledger rules."""

from __future__ import annotations

import datetime as dt

import pytest

from services.jobs import CONFIRM_FUNDING, CONFIRM_PAYOUT, INITIALIZE_FUNDING, SETTLE_PURCHASE, START_PAYOUT
from services.reconcile.audit import account_violations
from services.reconcile.policy import RetryPolicy, plan_visit, redrive_job
from services.reconcile.provider import Record, compare

NOW = dt.datetime(2026, 1, 1, 12, 0)
POLICY = RetryPolicy(max_attempts=4, base=dt.timedelta(seconds=60), cap=dt.timedelta(minutes=10))


def test_backoff_doubles_up_to_the_cap():
    assert [POLICY.delay(n).total_seconds() for n in range(1, 7)] == [60, 120, 240, 480, 600, 600]


def test_attempts_count_up_then_the_next_visit_flags():
    attempts, seen = 0, []
    while True:
        visit = plan_visit(attempts, NOW, POLICY)
        seen.append((visit.attempts, visit.flag))
        if visit.flag:
            break
        assert visit.next_attempt_at == NOW + POLICY.delay(visit.attempts)
        attempts = visit.attempts
    assert seen == [(1, False), (2, False), (3, False), (4, False), (5, True)]
    assert plan_visit(attempts, NOW, POLICY).next_attempt_at is None


def test_a_checkout_that_may_still_be_paid_is_never_flagged_while_it_waits():
    expires = NOW + dt.timedelta(hours=20)
    visit = plan_visit(3, NOW, POLICY, waiting_until=expires)
    assert (visit.attempts, visit.flag) == (3, False), "it never uses up the last attempt"
    soon = plan_visit(1, NOW, POLICY, waiting_until=NOW + dt.timedelta(seconds=30))
    assert soon.next_attempt_at == NOW + dt.timedelta(seconds=30), "verified again right at the expiry"
    after = plan_visit(3, expires, POLICY, waiting_until=expires)
    assert (after.attempts, after.flag) == (4, False), "past the expiry it counts: the next re-drive abandons it"
    assert plan_visit(4, expires, POLICY, waiting_until=expires).flag


@pytest.mark.parametrize(("kind", "status", "job"), [
    ("funding", "pending", INITIALIZE_FUNDING),
    ("funding", "requires_action", CONFIRM_FUNDING),
    ("purchase", "pending", SETTLE_PURCHASE),
    ("withdrawal", "pending", START_PAYOUT),
    ("withdrawal", "processing", CONFIRM_PAYOUT),
    ("purchase", "processing", None),
])
def test_each_stuck_state_is_re_driven_by_its_normal_actor(kind, status, job):
    assert redrive_job(kind, status) == job


def ours(status: str, amount: int = 1_000, currency: str = "NGN") -> Record:
    return Record("ref-1", status, amount, currency, "txn_1")


def theirs(status: str, amount: int = 1_000, currency: str = "NGN") -> Record:
    return Record("ref-1", status, amount, currency)


@pytest.mark.parametrize(("subject", "mine", "provider", "expected"), [
    ("funding", ours("succeeded"), theirs("success"), []),
    ("funding", ours("failed"), theirs("abandoned"), []),
    ("funding", ours("requires_action"), theirs("success"), []),  # in flight: the stuck finder's business
    ("funding", ours("succeeded"), None, ["missing_at_provider"]),
    ("funding", ours("failed"), None, []),
    ("funding", None, theirs("success"), ["missing_locally"]),
    ("funding", None, theirs("abandoned"), []),
    ("funding", ours("succeeded"), theirs("success", amount=999), ["amount_mismatch"]),
    ("funding", ours("succeeded"), theirs("success", currency="USD"), ["currency_mismatch"]),
    ("funding", ours("failed"), theirs("success"), ["status_mismatch"]),
    ("withdrawal", ours("succeeded"), theirs("reversed"), ["status_mismatch"]),
    ("withdrawal", ours("reversed"), theirs("reversed"), []),
    ("withdrawal", ours("failed"), theirs("reversed"), []),
    ("withdrawal", ours("failed"), theirs("pending"), ["status_mismatch"]),  # money may still leave
    ("withdrawal", None, theirs("success"), ["missing_locally"]),
    ("withdrawal", None, theirs("failed"), []),
])
def test_records_are_compared_one_to_one(subject, mine, provider, expected):
    assert [f.kind for f in compare(subject, mine, provider)] == expected


def test_disagreements_the_verify_path_settles_are_re_driven():
    reversal = compare("withdrawal", ours("succeeded"), theirs("reversed"))[0]
    late_payment = compare("funding", ours("failed"), theirs("success"))[0]
    refund = compare("funding", ours("succeeded"), theirs("reversed"))[0]
    assert (reversal.redrive, late_payment.redrive, refund.redrive) == (CONFIRM_PAYOUT, CONFIRM_FUNDING, None)


def test_account_rules():
    assert account_violations("acc", "wallet", 100, 40, 100, 40) == []
    assert [v.rule for v in account_violations("acc", "wallet", 100, 0, 90, 0)] == ["balance_matches_entries"]
    assert [v.rule for v in account_violations("acc", "wallet", 100, 10, 100, 0)] == ["held_matches_holds"]
    assert [v.rule for v in account_violations("acc", "wallet", -5, 0, -5, 0)] == ["wallet_not_negative"]
    assert account_violations("sys_provider_clearing_ngn", "provider_clearing", -500, 0, -500, 0) == []
