"""The reconciler's tick: if this process is the leader, find stuck work and enqueue the actors that
re-drive it, then enqueue the periodic reconciliation actors that are due.

Leadership: a Redis lock with expiry (services.reconcile.lock) taken or renewed at every tick; a
process that does not hold it does nothing. Safety does not rest on the lock alone: every attempt
is recorded with a conditional update and every actor is idempotent, so even two leaders at once
(a paused process outliving its lock) double nothing. When a periodic job is due is decided from
its run records in the database, so a new leader carries on the same schedule.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis

from config import Settings
from models import db
from services.jobs import AUDIT_LEDGER, RECONCILE_PROVIDER, RECONCILE_SWEEP, Dispatcher, Job, unit_of_work
from services.reconcile import runs, stuck
from services.reconcile.lock import RedisLock

log = logging.getLogger(__name__)


def leader_lock(client: redis.Redis, settings: Settings) -> RedisLock:
    # Three ticks of slack: a leader that misses two renewals in a row is presumed dead.
    ttl_seconds = max(3 * settings.reconcile_interval_seconds, 3)
    return RedisLock(client, f"{settings.redis_namespace}:scheduler:leader", ttl_seconds * 1000)


@dataclass(frozen=True)
class Periodic:
    name: str  # run records' job name
    job: Job
    args: tuple[Any, ...]
    due: Callable[[dt.datetime], bool]


@dataclass
class Reconciler:
    settings: Settings
    dispatcher: Dispatcher
    lock: RedisLock
    leading: bool = field(default=False, init=False)

    def tick(self) -> None:
        if not self._lead():
            return
        with db.connection():
            now = db.utcnow()
            for step in (stuck.redrive_transactions, stuck.redrive_receipts, stuck.redrive_emails):
                self._safely(step.__name__, step, self.settings, self.dispatcher, now)
            for periodic in self.periodic():
                self._safely(periodic.name, self._enqueue_if_due, periodic, now)

    def periodic(self) -> list[Periodic]:
        s = self.settings
        interval = dt.timedelta(seconds=s.reconcile_interval_seconds)
        # A queued run older than this lost its message: it is due again.
        stale = max(10 * interval, dt.timedelta(minutes=10))

        def every(name: str, seconds: int) -> Callable[[dt.datetime], bool]:
            return lambda now: runs.due_every(name, max(interval, dt.timedelta(seconds=seconds)), now, stale)

        return [
            Periodic(runs.LEDGER_AUDIT, AUDIT_LEDGER, (False,), every(runs.LEDGER_AUDIT, 0)),
            Periodic(runs.LEDGER_AUDIT_FULL, AUDIT_LEDGER, (True,),
                     lambda now: runs.due_daily(runs.LEDGER_AUDIT_FULL, s.reconcile_audit_hour, now,
                                                dt.timedelta(hours=3))),
            Periodic(runs.PROVIDER, RECONCILE_PROVIDER, (), every(runs.PROVIDER, s.reconcile_provider_every_seconds)),
            Periodic(runs.SWEEP, RECONCILE_SWEEP, (), every(runs.SWEEP, s.reconcile_sweep_every_seconds)),
        ]

    def _enqueue_if_due(self, periodic: Periodic, now: dt.datetime) -> None:
        if not periodic.due(now):
            return
        with unit_of_work(self.dispatcher) as uow:
            run = runs.queue(periodic.name)
            uow.after_commit(periodic.job, run.id, *periodic.args)

    def _lead(self) -> bool:
        try:
            holding = self.lock.hold()
        except redis.RedisError as exc:
            log.warning("leader lock unavailable; not reconciling", extra={"error": type(exc).__name__})
            holding = False
        if holding != self.leading:
            log.info("scheduler leadership " + ("taken" if holding else "lost"), extra={"holder": self.lock.token})
            self.leading = holding
        return holding

    def _safely(self, name: str, step: Callable[..., None], *args: Any) -> None:
        try:
            step(*args)
        except Exception:  # one failing step must not starve the others; its run is recorded failed
            log.exception("reconcile step failed", extra={"step": name})

    def stop(self) -> None:
        """Hand leadership over at once instead of after the lock's expiry."""
        try:
            if self.lock.release():
                log.info("scheduler leadership released", extra={"holder": self.lock.token})
        except redis.RedisError:
            pass
