"""Helpers for tests that need users, sessions and identity tokens.

Emails are read from the outbox table (`models.outbox.Email`), so no worker is needed: the token
in a queued email is exactly what the recipient would click.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import falcon.testing

from config import Settings
from models import db
from models.accounts import WALLET, Account
from models.identity import User
from models.outbox import Email
from services.tokens import TokenCodec

PASSWORD = "correct horse battery staple"
FULL_NAME = "Ada Lovelace"
PROBLEM_JSON = "application/problem+json"


# --- HTTP ------------------------------------------------------------------------------------

def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


def register(client: falcon.testing.TestClient, email: str, password: str = PASSWORD,
             full_name: str = FULL_NAME) -> falcon.testing.Result:
    return client.simulate_post("/v1/auth/register",
                                json={"email": email, "password": password, "full_name": full_name})


def confirm(client: falcon.testing.TestClient, token: str, accept: str = "application/json"
            ) -> falcon.testing.Result:
    return client.simulate_get("/v1/auth/confirm", params={"token": token}, headers={"Accept": accept})


def register_and_confirm(client: falcon.testing.TestClient, email: str, password: str = PASSWORD,
                         full_name: str = FULL_NAME) -> dict[str, Any]:
    """A confirmed user, confirmed with the token of the email they were sent. Returns the `User`."""
    created = register(client, email, password, full_name)
    assert created.status_code == 201, created.text
    confirmed = confirm(client, confirmation_token(created.json["email"]))
    assert confirmed.status_code == 200, confirmed.text
    return created.json


def login(client: falcon.testing.TestClient, email: str, password: str = PASSWORD) -> falcon.testing.Result:
    return client.simulate_post("/v1/auth/login", json={"email": email, "password": password})


def login_tokens(client: falcon.testing.TestClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    result = login(client, email, password)
    assert result.status_code == 200, result.text
    return result.json


def signed_in(client: falcon.testing.TestClient, email: str, password: str = PASSWORD
              ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Register, confirm and log in: (user, token pair)."""
    user = register_and_confirm(client, email, password)
    return user, login_tokens(client, email, password)


def me(client: falcon.testing.TestClient, access_token: str) -> falcon.testing.Result:
    return client.simulate_get("/v1/me", headers=bearer(access_token))


def refresh(client: falcon.testing.TestClient, refresh_token: str) -> falcon.testing.Result:
    return client.simulate_post("/v1/auth/refresh", json={"refresh_token": refresh_token})


def logout(client: falcon.testing.TestClient, refresh_token: str) -> falcon.testing.Result:
    return client.simulate_post("/v1/auth/logout", json={"refresh_token": refresh_token})


def request_reset(client: falcon.testing.TestClient, email: str) -> falcon.testing.Result:
    return client.simulate_post("/v1/auth/password-reset", json={"email": email})


def reset_password(client: falcon.testing.TestClient, token: str, password: str) -> falcon.testing.Result:
    return client.simulate_post("/v1/auth/password-reset/confirm", json={"token": token, "password": password})


def assert_problem(result: falcon.testing.Result, status: int, code: str) -> dict[str, Any]:
    """An RFC 9457 problem with this status and code; returns its body."""
    assert result.status_code == status, (result.status_code, result.text)
    assert result.headers["content-type"].split(";")[0] == PROBLEM_JSON, result.headers
    body = result.json
    assert body["status"] == status and body["code"] == code, body
    assert body["type"].endswith(code) and body["title"]
    return body


# --- the database ----------------------------------------------------------------------------

def emails(to: str | None = None, template: str | None = None) -> list[Email]:
    """Queued emails, oldest first."""
    with db.connection():
        query = Email.select().order_by(Email.created_at, Email.id)
        if to is not None:
            query = query.where(Email.to_address == to)
        if template is not None:
            query = query.where(Email.template == template)
        return list(query)


def email_context(email: Email) -> dict[str, Any]:
    return json.loads(email.context)


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def confirmation_token(email: str) -> str:
    """The token in the newest confirmation email sent to `email`."""
    queued = emails(to=email, template="confirm_email")
    assert queued, f"no confirmation email to {email}"
    return token_of(email_context(queued[-1])["confirm_url"])


def reset_token(email: str) -> str:
    """The token in the newest password-reset email sent to `email` (the one its link carries)."""
    queued = emails(to=email, template="password_reset")
    assert queued, f"no password reset email to {email}"
    context = email_context(queued[-1])
    token = token_of(context["reset_url"])
    assert context["token"] == token
    return token


def user_row(email: str) -> User | None:
    with db.connection():
        return User.get_or_none(User.email == email)


def count_users() -> int:
    with db.connection():
        return User.select().count()


def wallets(user_id: str | None = None) -> list[Account]:
    with db.connection():
        query = Account.select().where(Account.kind == WALLET)
        if user_id is not None:
            query = query.where(Account.user == user_id)
        return list(query)


# --- tokens ----------------------------------------------------------------------------------

def codec(settings: Settings, secret_key: str | None = None, key_id: str | None = None) -> TokenCodec:
    """The stack's token codec (or one with another key or key id)."""
    return TokenCodec(secret_key or settings.secret_key, key_id or settings.jwt_key_id)


def purpose_key(settings: Settings, purpose: str, kid: str | None = None) -> bytes:
    """The HMAC key the stack signs `purpose` tokens with, derived independently of TokenCodec."""
    kid = kid or settings.jwt_key_id
    return hmac.new(settings.secret_key.encode(), f"{kid}:{purpose}".encode(), hashlib.sha256).digest()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def forge(header: dict[str, Any], payload: dict[str, Any], key: bytes | None = None,
          digest: str = "sha256") -> str:
    """A JWT built by hand: `header` and `payload` as given, an HMAC signature with `key` (none if None)."""
    signing_input = f"{b64url_json(header)}.{b64url_json(payload)}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), getattr(hashlib, digest)).digest()
    return f"{signing_input}.{b64url(signature)}"


def decode_part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def tamper_signature(token: str) -> str:
    """Flip a character in the middle of the signature (the last one may only carry padding bits)."""
    head, payload, signature = token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return f"{head}.{payload}.{signature[:middle]}{flipped}{signature[middle + 1:]}"
