"""Request and response bodies. These models are the single source of request validation and
of the schemas in /openapi.json."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

Password = Annotated[str, StringConstraints(min_length=8, max_length=1024)]


def _printable(value: str) -> str:
    # PostgreSQL refuses NUL in text (a 500, not a 422); no control character belongs in a name anyway.
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        raise ValueError("must not contain control characters")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200),
                 AfterValidator(_printable)]
Email = Annotated[EmailStr, StringConstraints(max_length=254)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


def utc(value: dt.datetime) -> dt.datetime:
    """Stored timestamps are naive UTC; responses carry them as RFC 3339 with Z."""
    return value.replace(tzinfo=dt.UTC)


class Strict(BaseModel):
    """Bodies: unknown fields are errors and nothing is coerced (no "100" for 100, no 1.0 for 1)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- identity ----------------------------------------------------------------------------------

class RegisterIn(Strict):
    email: Email
    password: Password
    full_name: Name


class EmailIn(Strict):
    email: Email


class LoginIn(Strict):
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class RefreshIn(Strict):
    refresh_token: Token


class PasswordResetConfirmIn(Strict):
    token: Token
    password: Password


class TokenQuery(BaseModel):
    """The query of an emailed link. Lenient on purpose: an empty or damaged token is the handler's
    `invalid_token` (an HTML page for a browser), and parameters added on the way (utm_*) are ignored."""

    model_config = ConfigDict(extra="ignore")
    token: str | None = None


class UserOut(Out):
    id: str
    email: str
    full_name: str
    email_confirmed: bool
    created_at: AwareDatetime


class TokenPairOut(Out):
    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the scheme name, not a secret
    expires_in: int = Field(description="Seconds until the access token expires.")


class ConfirmedOut(Out):
    email_confirmed: Literal[True] = True


class AcceptedOut(Out):
    message: str


# --- operations --------------------------------------------------------------------------------

class HealthOut(Out):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str]


class ProblemOut(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    code: str
    detail: str | None = None
    errors: list[dict[str, str]] | None = None
