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
from services.log import configure_logging

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 30


def heartbeat(client: redis.Redis, namespace: str) -> None:
    """Proof of life for operators and health checks: a timestamp with a short expiry."""
    client.set(f"{namespace}:scheduler:heartbeat", str(int(time.time())), ex=HEARTBEAT_SECONDS * 3)
    log.info("scheduler heartbeat")


def build(settings: Settings) -> BlockingScheduler:
    client = redis.Redis.from_url(settings.redis_url, socket_timeout=5)
    scheduler = BlockingScheduler(timezone="UTC")
    scheduler.add_job(heartbeat, "interval", seconds=HEARTBEAT_SECONDS, args=[client, settings.redis_namespace],
                      id="heartbeat", max_instances=1, coalesce=True, next_run_time=_now())
    return scheduler


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def main() -> None:
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    db.connect(settings.database_url)
    scheduler = build(settings)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    log.info("scheduler starting")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
    log.info("scheduler stopped")
