"""SQLite-backed inbox: a file for a dev stack that survives restarts, or `:memory:` for tests."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_key ON messages (message_key);
CREATE TABLE IF NOT EXISTS attachments (
    message_seq INTEGER NOT NULL REFERENCES messages (seq) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    disposition TEXT NOT NULL,
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (message_seq, idx)
);
"""


def message_key(message_id: str) -> str:
    """The id without its angle brackets: how ids are stored and matched, however they were typed."""
    return message_id.strip().removeprefix("<").removesuffix(">").strip()


@dataclass(frozen=True)
class NewAttachment:
    disposition: str  # "attachment" or "inline", the form field it came in
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class AttachmentInfo:
    index: int
    disposition: str
    filename: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class NewMessage:
    key: str
    created_at: str
    fields: dict[str, Any]  # from, to, subject, tags, variables, ... (everything JSON-able)
    attachments: list[NewAttachment] = field(default_factory=list)


@dataclass(frozen=True)
class StoredMessage:
    key: str
    created_at: str
    fields: dict[str, Any]
    attachments: list[AttachmentInfo]

    @property
    def id(self) -> str:
        return f"<{self.key}>"


class MessageStore:
    """Thread-safe message store; one connection guarded by a lock is plenty for a sandbox."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.location = str(path) if path else ":memory:"
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.location, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._migrate()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > _SCHEMA_VERSION:
            raise RuntimeError(f"store {self.location} was written by a newer sandbox (schema {version})")
        self._db.executescript(_SCHEMA)
        self._db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def add(self, message: NewMessage) -> StoredMessage:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            cursor = self._db.execute(
                "INSERT INTO messages (message_key, created_at, payload) VALUES (?, ?, ?)",
                (message.key, message.created_at, json.dumps(message.fields)),
            )
            seq = cursor.lastrowid
            infos = [self._insert_attachment(seq, i, item) for i, item in enumerate(message.attachments)]
        return StoredMessage(message.key, message.created_at, message.fields, infos)

    def _insert_attachment(self, seq: int | None, index: int, item: NewAttachment) -> AttachmentInfo:
        info = AttachmentInfo(index, item.disposition, item.filename, item.content_type, len(item.data),
                              hashlib.sha256(item.data).hexdigest())
        self._db.execute(
            "INSERT INTO attachments VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, index, info.disposition, info.filename, info.content_type, info.size, info.sha256,
             item.data),
        )
        return info

    def list(self) -> list[StoredMessage]:
        """All messages, newest first (by insertion order, which timestamps can tie on)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, message_key, created_at, payload FROM messages ORDER BY seq DESC"
            ).fetchall()
            attachments = self._attachment_infos()
        return [self._message(row, attachments.get(row[0], [])) for row in rows]

    def get(self, message_id: str) -> StoredMessage | None:
        """The newest message with this id (a caller-supplied Message-Id may repeat)."""
        with self._lock:
            row = self._db.execute(
                "SELECT seq, message_key, created_at, payload FROM messages WHERE message_key = ?"
                " ORDER BY seq DESC LIMIT 1",
                (message_key(message_id),),
            ).fetchone()
            if row is None:
                return None
            attachments = self._attachment_infos(row[0])
        return self._message(row, attachments.get(row[0], []))

    def attachment(self, message_id: str, index: int) -> tuple[AttachmentInfo, bytes] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT a.idx, a.disposition, a.filename, a.content_type, a.size, a.sha256, a.data"
                " FROM attachments a JOIN messages m ON m.seq = a.message_seq"
                " WHERE m.message_key = ? AND a.idx = ? ORDER BY m.seq DESC LIMIT 1",
                (message_key(message_id), index),
            ).fetchone()
        if row is None:
            return None
        return AttachmentInfo(*row[:6]), bytes(row[6])

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]

    def clear(self) -> int:
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM attachments")
            return self._db.execute("DELETE FROM messages").rowcount

    def _attachment_infos(self, seq: int | None = None) -> dict[int, list[AttachmentInfo]]:
        query = "SELECT message_seq, idx, disposition, filename, content_type, size, sha256 FROM attachments"
        params: tuple[int, ...] = ()
        if seq is not None:
            query += " WHERE message_seq = ?"
            params = (seq,)
        grouped: dict[int, list[AttachmentInfo]] = {}
        for row in self._db.execute(query + " ORDER BY message_seq, idx", params):
            grouped.setdefault(row[0], []).append(AttachmentInfo(*row[1:]))
        return grouped

    @staticmethod
    def _message(row: tuple[Any, ...], attachments: list[AttachmentInfo]) -> StoredMessage:
        _, key, created_at, payload = row
        return StoredMessage(key, created_at, json.loads(payload), attachments)
