"""bcrypt password hashing. Passwords are pre-hashed with SHA-256 so that length beyond
bcrypt's 72-byte limit still counts and NUL bytes cannot truncate them."""

from __future__ import annotations

import base64
import functools
import hashlib

import bcrypt

DEFAULT_ROUNDS = 12


@functools.lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> str:
    """Verified against when the email is unknown. It has the cost of real hashes, so both paths
    cost the same bcrypt check (no timing oracle telling which emails have accounts)."""
    return bcrypt.hashpw(b"dummy-password-for-timing", bcrypt.gensalt(rounds)).decode()


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def hash_password(password: str, rounds: int) -> str:
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def verify_password(password: str, password_hash: str | None, rounds: int = DEFAULT_ROUNDS) -> bool:
    """`rounds` is the cost real hashes are made with (that of the dummy checked when there is none)."""
    candidate = password_hash or _dummy_hash(rounds)
    try:
        ok = bcrypt.checkpw(_prehash(password), candidate.encode("ascii"))
    except ValueError:
        return False
    return ok and password_hash is not None


def fingerprint(password_hash: str) -> str:
    """Short digest of the current hash: tokens bound to it die when the password changes."""
    return hashlib.sha256(password_hash.encode("ascii")).hexdigest()[:16]
