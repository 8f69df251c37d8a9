"""APScheduler process. Jobs only look for work and enqueue actors; workers do the work."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import signal
import time

import redis
from apscheduler.schedulers.blocking import BlockingScheduler

from config import Settings
from models import db
from scheduler.reconcile import Reconciler, leader_lock
from services.jobs import BrokerDispatcher
from services.log import configure_logging
from workers.broker import make_broker

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 30


def heartbeat(client: redis.Redis, namespace: str) -> None:
    """Proof of life for operators and health checks: a timestamp with a short expiry."""
    client.set(f"{namespace}:scheduler:heartbeat", str(int(time.time())), ex=HEARTBEAT_SECONDS * 3)
    log.info("scheduler heartbeat")


def build(settings: Settings, reconciler: Reconciler) -> BlockingScheduler:
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(heartbeat, "interval", seconds=HEARTBEAT_SECONDS, args=[client, settings.redis_namespace],
                      id="heartbeat", max_instances=1, coalesce=True, next_run_time=_now())
    scheduler.add_job(reconciler.tick, "interval", seconds=settings.reconcile_interval_seconds, id="reconcile",
                      max_instances=1, coalesce=True, next_run_time=_now())
    return scheduler


def reconciler_for(settings: Settings) -> Reconciler:
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    return Reconciler(settings, BrokerDispatcher(make_broker(settings)), leader_lock(client, settings))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    # One line per tick per job is noise at a short interval; the reconciler logs what it does.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    db.connect(settings.database_url)
    reconciler = reconciler_for(settings)
    scheduler = build(settings, reconciler)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    log.info("scheduler starting", extra={"interval_seconds": settings.reconcile_interval_seconds,
                                          "after_seconds": settings.reconcile_after_seconds})
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
    reconciler.stop()
    log.info("scheduler stopped")
