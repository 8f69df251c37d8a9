"""Idempotency keys for the POSTs that move money (contract: API.md, Wallet and money movement).

The key is claimed in its own committed transaction (so a concurrent duplicate sees it in flight),
then completed with the response inside the transaction that records the intent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import peewee as pw

from models import db
from models.transactions import IdempotencyKey
from services.errors import DomainError

RETENTION = dt.timedelta(hours=24)


class IdempotencyKeyRequired(DomainError):
    status, code, title = 400, "idempotency_key_required", "Idempotency-Key header required"


class IdempotencyKeyReused(DomainError):
    status, code, title = 422, "idempotency_key_reused", "Idempotency key reused with a different request"


class IdempotencyKeyInUse(DomainError):
    status, code, title = 409, "idempotency_key_in_use", "A request with this idempotency key is in flight"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Claim:
    user_id: str
    key: str

    def complete(self, status: int, body: dict[str, Any]) -> None:
        """Record the response; call inside the transaction that makes the response true."""
        (IdempotencyKey.update(response_status=status, response_body=json.dumps(body), updated_at=db.utcnow())
         .where(IdempotencyKey.user == self.user_id, IdempotencyKey.key == self.key,
                IdempotencyKey.response_status.is_null()).execute())

    def release(self) -> None:
        """Forget an in-flight claim whose request failed unexpectedly, so the client may retry."""
        with db.atomic():
            (IdempotencyKey.delete().where(IdempotencyKey.user == self.user_id, IdempotencyKey.key == self.key,
                                           IdempotencyKey.response_status.is_null()).execute())


def fingerprint(method: str, path: str, body: dict[str, Any]) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_key(key: str | None) -> str:
    if key is None or not 1 <= len(key) <= 255 or not key.isprintable():
        raise IdempotencyKeyRequired("Send an Idempotency-Key header of 1 to 255 printable characters.")
    return key


def claim(user_id: str, key: str, request_hash: str) -> Claim | StoredResponse:
    """A Claim to go ahead, or the stored response of the first request with this key."""
    now = db.utcnow()
    try:
        with db.atomic():
            (IdempotencyKey.delete()
             .where(IdempotencyKey.user == user_id, IdempotencyKey.key == key, IdempotencyKey.expires_at < now)
             .execute())
            IdempotencyKey.create(id=db.new_id("idk"), user=user_id, key=key, request_hash=request_hash,
                                  expires_at=now + RETENTION)
        return Claim(user_id, key)
    except pw.IntegrityError:
        pass
    existing = IdempotencyKey.get_or_none(IdempotencyKey.user == user_id, IdempotencyKey.key == key)
    if existing is None:  # its expiry was swept between our insert and this read: treat as in flight
        raise IdempotencyKeyInUse("Retry in a moment.")
    if existing.request_hash != request_hash:
        raise IdempotencyKeyReused("This Idempotency-Key was used with a different request body.")
    if existing.response_status is None:
        raise IdempotencyKeyInUse("The first request with this Idempotency-Key has not finished yet.")
    return StoredResponse(existing.response_status, json.loads(existing.response_body))
