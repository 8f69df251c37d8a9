"""Database handle, base model and the helpers every table shares.

`database` is a proxy: processes call `connect(url)` once at start-up. models/ imports nothing
else from the project, so the URL is passed in rather than read from config here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import time
from collections.abc import Iterator

import peewee as pw
from playhouse.db_url import connect as connect_url

database = pw.DatabaseProxy()

_SQLITE_PRAGMAS = {
    "journal_mode": "wal",  # readers never block the writer
    "foreign_keys": 1,
    "busy_timeout": 10_000,  # ms: wait for the write lock instead of failing at once
    "synchronous": "normal",
}
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def connect(url: str) -> pw.Database:
    """Open (lazily) the database named by a peewee db_url and bind the proxy to it."""
    if url.startswith("sqlite"):
        db = connect_url(url, pragmas=_SQLITE_PRAGMAS, check_same_thread=False, autoconnect=True)
    elif url.startswith(("postgres", "postgresql")):
        scheme, rest = url.split("://", 1)
        pooled = f"{scheme.split('+')[0]}+pool://{rest}"
        db = connect_url(pooled, max_connections=32, stale_timeout=300, timeout=10)
    else:
        raise ValueError("DATABASE_URL must be a sqlite:// or postgresql:// URL")
    database.initialize(db)
    return db


def is_sqlite() -> bool:
    return isinstance(database.obj, pw.SqliteDatabase)


def atomic() -> pw._atomic:
    """A write transaction. SQLite takes the write lock up front so two writers queue instead
    of deadlocking on a lock upgrade; PostgreSQL uses its normal READ COMMITTED transaction."""
    if is_sqlite():
        return database.atomic(lock_type="IMMEDIATE")
    return database.atomic()


@contextlib.contextmanager
def connection() -> Iterator[None]:
    """Hold a connection for one unit of work (a request, an actor run) and give it back."""
    opened = database.connect(reuse_if_open=True)
    try:
        yield
    finally:
        if opened and not database.is_closed():
            database.close()


def utcnow() -> dt.datetime:
    """Naive UTC, the form every timestamp column stores."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_id(prefix: str) -> str:
    """Opaque, URL-safe id that sorts by creation time: prefix_<10 time chars><16 random chars>."""
    millis = time.time_ns() // 1_000_000
    stamp = ""
    for _ in range(10):
        millis, digit = divmod(millis, 32)
        stamp = _CROCKFORD[digit] + stamp
    return f"{prefix}_{stamp}{''.join(secrets.choice(_CROCKFORD) for _ in range(16))}"


class BaseModel(pw.Model):
    created_at = pw.DateTimeField(default=utcnow)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        database = database
        legacy_table_names = False
