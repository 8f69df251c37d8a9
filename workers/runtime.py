"""Per-process state of a worker: settings, database, broker; set up once before actors load."""

from __future__ import annotations

import functools

import dramatiq

from config import Settings
from models import db
from services.log import configure_logging
from workers.broker import make_broker


@functools.cache
def settings() -> Settings:
    return Settings.from_env()


@functools.cache
def setup() -> dramatiq.Broker:
    configure_logging(settings().log_level)
    db.connect(settings().database_url)
    broker = make_broker(settings())
    dramatiq.set_broker(broker)
    return broker
