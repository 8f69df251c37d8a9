"""Forward-only schema migrations: numbered scripts in models/migrations/, applied in order and
recorded in a history table (peewee's own playhouse.migrations runner)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import peewee as pw
from playhouse.migrations import Runner

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_KEY = 7_214_001  # any constant: serialises concurrent `release` runs on PostgreSQL


def runner(db: pw.Database) -> Runner:
    return Runner(db, str(MIGRATIONS_DIR))


def apply_all(db: pw.Database) -> list[str]:
    """Apply every pending migration; returns their names. Safe to run twice, or twice at once."""
    with _exclusive(db):
        return runner(db).up()


def pending(db: pw.Database) -> list[str]:
    return [m.name for m in runner(db).status() if m.applied is None and m.path is not None]


@contextlib.contextmanager
def _exclusive(db: pw.Database) -> Iterator[None]:
    if isinstance(db, pw.PostgresqlDatabase):
        db.execute_sql("SELECT pg_advisory_lock(%s)", (_PG_LOCK_KEY,))
        try:
            yield
        finally:
            db.execute_sql("SELECT pg_advisory_unlock(%s)", (_PG_LOCK_KEY,))
    else:
        yield
