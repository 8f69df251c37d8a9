"""People and their sessions."""

from __future__ import annotations

import peewee as pw

from models.db import BaseModel


class User(BaseModel):
    id = pw.CharField(primary_key=True, max_length=40)
    # Stored lower-cased; the CHECK makes the unique index case-insensitive in the database itself.
    email = pw.CharField(max_length=254, unique=True, constraints=[pw.Check("email = lower(email)")])
    full_name = pw.CharField(max_length=200)
    password_hash = pw.CharField(max_length=100)
    email_confirmed_at = pw.DateTimeField(null=True)
    password_changed_at = pw.DateTimeField()
    is_admin = pw.BooleanField(default=False)

    class Meta:
        table_name = "users"


class RefreshToken(BaseModel):
    """One issued refresh token. Rotation spends it; reuse of a spent one revokes its family."""

    id = pw.CharField(primary_key=True, max_length=40)  # the token's jti
    user = pw.ForeignKeyField(User, backref="refresh_tokens", on_delete="CASCADE")
    family_id = pw.CharField(max_length=40, index=True)
    token_hash = pw.CharField(max_length=64, unique=True)  # sha256 hex of the signed token
    expires_at = pw.DateTimeField()
    spent_at = pw.DateTimeField(null=True)
    revoked_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "refresh_tokens"
