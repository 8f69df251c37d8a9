"""State of the sandbox: JSON documents in SQLite (a file with --store, else in memory).

One connection guarded by a re-entrant lock: the sandbox is small, and a single writer keeps
read-modify-write steps (balance debits, "pay once") trivially atomic.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

Document = dict[str, Any]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key  TEXT NOT NULL,
    seq  INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_FIRST_ID = 1_000_001


class Store:
    def __init__(self, path: str | None = None) -> None:
        self._conn = sqlite3.connect(path or ":memory:", check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._depth = 0
        self._conn.executescript(_SCHEMA)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One SQLite transaction; nested calls join the outer one."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def put(self, kind: str, key: str, body: Document) -> None:
        with self.atomic():
            self._conn.execute(
                "INSERT INTO records (kind, key, seq, body) VALUES "
                "(?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM records WHERE kind = ?), ?) "
                "ON CONFLICT (kind, key) DO UPDATE SET body = excluded.body",
                (kind, key, kind, json.dumps(body)),
            )

    def get(self, kind: str, key: str) -> Document | None:
        with self._lock:
            row = self._conn.execute("SELECT body FROM records WHERE kind = ? AND key = ?", (kind, key)).fetchone()
        return json.loads(row[0]) if row else None

    def find(self, kind: str, field: str, value: object) -> Document | None:
        """First document of `kind` whose top-level `field` equals `value`."""
        with self._lock:
            row = self._conn.execute(
                "SELECT body FROM records WHERE kind = ? AND json_extract(body, ?) = ? ORDER BY seq LIMIT 1",
                (kind, f"$.{field}", value),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def all(self, kind: str) -> list[Document]:
        """Every document of `kind`, oldest first."""
        with self._lock:
            rows = self._conn.execute("SELECT body FROM records WHERE kind = ? ORDER BY seq", (kind,)).fetchall()
        return [json.loads(row[0]) for row in rows]

    def get_meta(self, name: str) -> str | None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        with self.atomic():
            self._conn.execute(
                "INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    def next_id(self, kind: str) -> int:
        """Integer ids like Paystack's, unique per kind and stable across restarts."""
        with self.atomic():
            current = int(self.get_meta(f"id:{kind}") or _FIRST_ID - 1)
            self.set_meta(f"id:{kind}", str(current + 1))
            return current + 1

    def reset(self) -> None:
        with self.atomic():
            self._conn.execute("DELETE FROM records")
            self._conn.execute("DELETE FROM meta")

    def close(self) -> None:
        with self._lock:
            self._conn.close()
