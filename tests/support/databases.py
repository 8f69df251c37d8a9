"""Test databases: a private PostgreSQL database per run (created and dropped), or a SQLite file."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import peewee as pw
import psycopg2
from psycopg2 import sql

from models import db


@contextlib.contextmanager
def fresh_database(server_url: str, tmp_dir: Path) -> Iterator[str]:
    """Yields a DATABASE_URL for an empty database that no one else uses; removes it afterwards."""
    if not server_url.startswith("postgres"):
        yield f"sqlite:///{tmp_dir / 'test.sqlite3'}"
        return
    name = f"test_{secrets.token_hex(6)}"
    admin = _admin_connection(server_url)
    with admin.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(server_url)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, ""))
    finally:
        with admin.cursor() as cursor:  # FORCE: ends connections still open in pools
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.close()


def _admin_connection(server_url: str) -> psycopg2.extensions.connection:
    parts = urlsplit(server_url)
    dsn = urlunsplit(("postgresql", parts.netloc, "/postgres", "", ""))
    connection = psycopg2.connect(dsn)
    connection.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    return connection


def truncate(models: Sequence[type[pw.Model]]) -> None:
    database = db.database
    with db.connection():
        if db.is_sqlite():
            with database.atomic():
                for model in reversed(models):
                    model.delete().execute()
        else:
            tables = ", ".join(f'"{model._meta.table_name}"' for model in models)
            database.execute_sql(f"TRUNCATE {tables} CASCADE")
