"""Signed tokens: JWT access/refresh tokens and single-purpose email tokens, HS256 only.

Each purpose signs with its own key derived from SECRET_KEY, so a token of one kind can never
verify as another even if the `typ` check were forgotten. The `kid` header names the key
generation, so keys can rotate: verification looks the kid up, unknown kids are rejected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

ALGORITHM = "HS256"
ACCESS, REFRESH = "access", "refresh"
EMAIL_CONFIRM, PASSWORD_RESET = "email_confirm", "password_reset"
_REQUIRED = ["exp", "iat", "sub", "jti", "typ"]


class TokenError(Exception):
    """Bad, expired, tampered, or of the wrong kind. Callers never learn which."""


@dataclass(frozen=True)
class TokenCodec:
    secret_key: str
    key_id: str

    def _key(self, purpose: str, kid: str) -> bytes:
        return hmac.new(self.secret_key.encode(), f"{kid}:{purpose}".encode(), hashlib.sha256).digest()

    def issue(self, purpose: str, subject: str, ttl_seconds: int, **claims: Any) -> tuple[str, dict[str, Any]]:
        now = int(time.time())
        payload = {
            "sub": subject,
            "typ": purpose,
            "jti": secrets.token_urlsafe(16),
            "iat": now,
            "exp": now + ttl_seconds,
            **claims,
        }
        token = jwt.encode(payload, self._key(purpose, self.key_id), ALGORITHM, headers={"kid": self.key_id})
        return token, payload

    def verify(self, purpose: str, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
            kid = header.get("kid")
            if header.get("alg") != ALGORITHM or kid != self.key_id:
                raise TokenError("unsupported token header")
            claims = jwt.decode(token, self._key(purpose, kid), algorithms=[ALGORITHM],
                                options={"require": _REQUIRED})
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from None
        if claims.get("typ") != purpose:
            raise TokenError("wrong token type")
        return claims


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def claim_time(claims: Mapping[str, Any], name: str) -> dt.datetime:
    """A numeric JWT date claim as naive UTC, the form the database stores."""
    return dt.datetime.fromtimestamp(int(claims[name]), dt.UTC).replace(tzinfo=None)
