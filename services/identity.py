"""Registration, email confirmation, sign-in sessions and password reset."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

import peewee as pw

from config import Settings
from models import db
from models.accounts import WALLET, Account
from models.identity import RefreshToken, User
from services import errors
from services.jobs import Dispatcher, unit_of_work
from services.outbox import queue_email
from services.passwords import fingerprint, hash_password, verify_password
from services.throttle import SlidingWindow
from services.tokens import (
    ACCESS,
    EMAIL_CONFIRM,
    PASSWORD_RESET,
    REFRESH,
    TokenCodec,
    TokenError,
    claim_time,
    token_hash,
)

DEFAULT_CURRENCY = "NGN"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


def normalize_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class IdentityService:
    settings: Settings
    codec: TokenCodec
    dispatcher: Dispatcher
    login_failures: SlidingWindow
    email_requests: SlidingWindow

    # --- registration and confirmation -------------------------------------------------------

    def register(self, email: str, password: str, full_name: str) -> User:
        email = normalize_email(email)
        password_hash = hash_password(password, self.settings.bcrypt_rounds)  # slow: outside the lock
        now = db.utcnow()
        try:
            with unit_of_work(self.dispatcher) as uow:
                user = User.create(id=db.new_id("usr"), email=email, full_name=full_name.strip(),
                                   password_hash=password_hash, password_changed_at=now)
                Account.create(id=db.new_id("acc"), kind=WALLET, user=user, currency=DEFAULT_CURRENCY)
                self._queue_confirmation(uow, user)
        except pw.IntegrityError:
            # Only the unique email can conflict on a valid insert; anything else is a bug, not a 409.
            if User.select().where(User.email == email).exists():
                raise errors.EmailTaken("An account with this email already exists.") from None
            raise
        return user

    def confirm_email(self, token: str) -> User:
        claims = self._verify(EMAIL_CONFIRM, token)
        with unit_of_work(self.dispatcher) as uow:
            user = User.get_or_none(User.id == claims["sub"])
            if user is None or user.email != claims.get("email"):
                raise errors.InvalidToken("This confirmation link is not valid.")
            now = db.utcnow()
            first = (User.update(email_confirmed_at=now, updated_at=now)
                     .where(User.id == user.id, User.email_confirmed_at.is_null()).execute())
            if first:  # confirming twice is harmless and welcomes once
                queue_email(uow, to=user.email, template="welcome", tag="welcome",
                            context={"full_name": user.full_name})
        return User.get_by_id(user.id)

    def resend_confirmation(self, email: str) -> None:
        email = normalize_email(email)
        self._count_email_request("confirm", email)
        with unit_of_work(self.dispatcher) as uow:
            user = User.get_or_none(User.email == email)
            if user is not None and user.email_confirmed_at is None:
                self._queue_confirmation(uow, user)

    def _queue_confirmation(self, uow, user: User) -> None:
        token, _ = self.codec.issue(EMAIL_CONFIRM, user.id, self.settings.confirm_token_ttl_seconds,
                                    email=user.email)
        queue_email(uow, to=user.email, template="confirm_email", tag="confirmation", context={
            "full_name": user.full_name,
            "confirm_url": f"{self.settings.public_base_url}/v1/auth/confirm?token={token}",
            "expires_hours": self.settings.confirm_token_ttl_seconds // 3600,
        })

    # --- sessions ----------------------------------------------------------------------------

    def login(self, email: str, password: str) -> TokenPair:
        user = self.verify_credentials(email, password)
        with db.atomic():
            return self._issue_pair(user, family_id=db.new_id("fam"))

    def verify_credentials(self, email: str, password: str) -> User:
        """The confirmed user with this email and password, under the login throttle."""
        email = normalize_email(email)
        # Every attempt takes a slot first, atomically (parallel guesses cannot overrun the limit),
        # so a correct password is refused too while locked; success frees the slots again.
        retry_after = self.login_failures.acquire(email)
        if retry_after:
            raise errors.TooManyAttempts(retry_after, "Too many failed attempts; try again later.")
        user = User.get_or_none(User.email == email)
        stored = user.password_hash if user else None
        if not verify_password(password, stored, self.settings.bcrypt_rounds):
            raise errors.InvalidCredentials("The email or password is incorrect.")
        self.login_failures.reset(email)
        if user.email_confirmed_at is None:
            raise errors.EmailNotConfirmed("Confirm your email address before signing in.")
        return user

    def refresh(self, refresh_token: str) -> TokenPair:
        row = self._refresh_row(refresh_token)
        with db.atomic():
            now = db.utcnow()
            spent = (RefreshToken.update(spent_at=now, updated_at=now)
                     .where(RefreshToken.id == row.id, RefreshToken.spent_at.is_null(),
                            RefreshToken.revoked_at.is_null()).execute())
            if spent:
                return self._issue_pair(row.user, family_id=row.family_id)
        # Already spent or revoked: someone replayed it. Kill the whole family, then refuse.
        self._revoke(RefreshToken.family_id == row.family_id)
        raise errors.InvalidRefreshToken("This refresh token is no longer valid.")

    def logout(self, refresh_token: str) -> None:
        try:
            row = self._refresh_row(refresh_token)
        except errors.InvalidRefreshToken:
            return  # logging out twice, or with junk, is not an error
        self._revoke(RefreshToken.family_id == row.family_id)

    def authenticate(self, access_token: str) -> User:
        try:
            claims = self.codec.verify(ACCESS, access_token)
        except TokenError:
            raise errors.Unauthenticated("The access token is missing, invalid or expired.") from None
        user = User.get_or_none(User.id == claims["sub"])
        # Tokens issued before the last password change are dead: each is bound to the hash it was
        # issued against (an `iat` comparison would let tokens of the same second live on).
        if user is None or not hmac.compare_digest(fingerprint(user.password_hash), str(claims.get("pwd"))):
            raise errors.Unauthenticated("The access token is no longer valid.")
        return user

    def _refresh_row(self, refresh_token: str) -> RefreshToken:
        try:
            claims = self.codec.verify(REFRESH, refresh_token)
        except TokenError:
            raise errors.InvalidRefreshToken("This refresh token is not valid.") from None
        row = RefreshToken.get_or_none(RefreshToken.id == claims["jti"])
        if row is None or not hmac.compare_digest(row.token_hash, token_hash(refresh_token)):
            raise errors.InvalidRefreshToken("This refresh token is not valid.")
        return row

    def _issue_pair(self, user: User, family_id: str) -> TokenPair:
        ttl = self.settings.access_token_ttl_seconds
        access, _ = self.codec.issue(ACCESS, user.id, ttl, pwd=fingerprint(user.password_hash))
        refresh, claims = self.codec.issue(REFRESH, user.id, self.settings.refresh_token_ttl_seconds)
        RefreshToken.create(id=claims["jti"], user=user, family_id=family_id, token_hash=token_hash(refresh),
                            expires_at=claim_time(claims, "exp"))
        return TokenPair(access_token=access, refresh_token=refresh, expires_in=ttl)

    @staticmethod
    def _revoke(condition: pw.Expression) -> None:
        now = db.utcnow()
        with db.atomic():
            (RefreshToken.update(revoked_at=now, updated_at=now)
             .where(condition, RefreshToken.revoked_at.is_null()).execute())

    # --- password reset ----------------------------------------------------------------------

    def request_password_reset(self, email: str) -> None:
        email = normalize_email(email)
        self._count_email_request("reset", email)
        with unit_of_work(self.dispatcher) as uow:
            user = User.get_or_none(User.email == email)
            if user is None:
                return  # same answer either way: no enumeration
            token, _ = self.codec.issue(PASSWORD_RESET, user.id, self.settings.reset_token_ttl_seconds,
                                        pwd=fingerprint(user.password_hash))
            queue_email(uow, to=user.email, template="password_reset", tag="password-reset", context={
                "full_name": user.full_name,
                "reset_url": f"{self.settings.public_base_url}/v1/auth/password-reset/confirm?token={token}",
                "token": token,
            })

    def reset_password(self, token: str, password: str) -> None:
        claims = self._verify(PASSWORD_RESET, token)
        user = User.get_or_none(User.id == claims["sub"])
        # Bound to the hash it was issued against: single-use, and dead once the password changes.
        if user is None or not hmac.compare_digest(fingerprint(user.password_hash), str(claims.get("pwd"))):
            raise errors.InvalidToken("This reset link is not valid.")
        new_hash = hash_password(password, self.settings.bcrypt_rounds)
        with unit_of_work(self.dispatcher) as uow:
            now = db.utcnow()
            changed = (User.update(password_hash=new_hash, password_changed_at=now, updated_at=now)
                       .where(User.id == user.id, User.password_hash == user.password_hash).execute())
            if not changed:
                raise errors.InvalidToken("This reset link is not valid.")
            (RefreshToken.update(revoked_at=now, updated_at=now)
             .where(RefreshToken.user == user.id, RefreshToken.revoked_at.is_null()).execute())
            queue_email(uow, to=user.email, template="password_changed", tag="password-changed",
                        context={"full_name": user.full_name})

    # --- helpers -----------------------------------------------------------------------------

    def _verify(self, purpose: str, token: str) -> dict:
        try:
            return self.codec.verify(purpose, token)
        except TokenError:
            raise errors.InvalidToken("This link is not valid or has expired.") from None

    def _count_email_request(self, kind: str, email: str) -> None:
        retry_after = self.email_requests.acquire(f"{kind}:{email}")
        if retry_after:
            raise errors.RateLimited(retry_after, "Too many requests for this address; try again later.")
