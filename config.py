"""The one place configuration is read: the environment, once, into a frozen Settings.

Variable names are part of the HTTP contract (shared/API.md). A few operational knobs
(APP_ENV, BCRYPT_ROUNDS, REDIS_NAMESPACE, LOG_LEVEL) are additions documented in the README.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent
VAR_DIR = PROJECT_ROOT / "var"

# Used only when APP_ENV is development or test; production refuses to start with it.
DEV_SECRET_KEY = "dev-only-insecure-secret-key-never-use-in-production"  # noqa: S105 - public by design
ENVIRONMENTS = ("development", "test", "production")


class ConfigError(RuntimeError):
    """The environment describes a configuration the process must not run with."""


@dataclass(frozen=True)
class Settings:
    app_env: str = "production"
    database_url: str = f"sqlite:///{VAR_DIR / 'app.sqlite3'}"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_namespace: str = "mkt"
    secret_key: str = DEV_SECRET_KEY
    public_base_url: str = "http://127.0.0.1:8000"
    port: int = 8000
    paystack_base_url: str = "https://api.paystack.co"
    paystack_secret_key: str = ""
    mailgun_api_base: str = "https://api.mailgun.net"
    mailgun_api_key: str = ""
    mailgun_domain: str = "sandbox.localhost"
    mail_from: str = "Marketplace <no-reply@sandbox.localhost>"
    media_root: Path = VAR_DIR / "media"
    platform_fee_bps: int = 0
    reconcile_interval_seconds: int = 60
    reconcile_after_seconds: int = 300
    log_level: str = "INFO"

    # Identity; not environment-driven except bcrypt cost (tests lower it).
    bcrypt_rounds: int = 12
    jwt_key_id: str = "k1"
    access_token_ttl_seconds: int = 15 * 60
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    confirm_token_ttl_seconds: int = 48 * 3600
    reset_token_ttl_seconds: int = 3600
    login_max_failures: int = 5
    login_window_seconds: int = 15 * 60
    email_requests_per_hour: int = 5

    # HTTP
    max_body_bytes: int = 64 * 1024

    # Catalogue images (defaults only, not environment-driven).
    upload_max_bytes: int = 10 * 1024 * 1024  # per uploaded file; multipart bodies get their own limit
    images_per_product: int = 8
    max_megapixels: int = 40  # decoded size; above it an upload is refused as a decompression bomb
    image_max_px: int = 2560  # long side of the stored (re-encoded) image
    thumbnail_px: int = 320  # long side of the thumbnail
    http_timeout_seconds: float = 10.0

    # Email delivery retries (Dramatiq backoff, milliseconds).
    email_max_retries: int = 12
    email_min_backoff_ms: int = 5_000
    email_max_backoff_ms: int = 15 * 60 * 1000

    # Payment actors' retries (Dramatiq backoff, milliseconds).
    payments_min_backoff_ms: int = 1_000
    payments_max_backoff_ms: int = 5 * 60 * 1000

    # Dramatiq's Redis broker: a worker silent this long is dead and its unacked messages are
    # redelivered; maintenance (that redelivery) runs on this many dispatches out of a million.
    broker_heartbeat_timeout_ms: int = 60_000
    broker_maintenance_chance: int = 1_000

    # Reconciliation (defaults only; RECONCILE_INTERVAL_SECONDS / RECONCILE_AFTER_SECONDS above come
    # from the environment). A stuck transaction is re-driven with exponential backoff and flagged for
    # operators after `reconcile_max_attempts` re-drives.
    reconcile_max_attempts: int = 8
    reconcile_backoff_base_seconds: int = 60
    reconcile_backoff_max_seconds: int = 3600
    checkout_expiry_seconds: int = 24 * 3600  # an unpaid checkout is abandoned after this
    reconcile_audit_hour: int = 3  # UTC hour of the daily full ledger audit
    reconcile_audit_lag_seconds: int = 60  # the incremental audit stays this far behind now (in-flight commits)
    reconcile_provider_window_seconds: int = 24 * 3600  # provider reconciliation looks this far back
    reconcile_provider_every_seconds: int = 3600
    reconcile_sweep_every_seconds: int = 3600  # expired idempotency keys, stray receipt files, old run records
    reconcile_batch_size: int = 500
    reconcile_run_retention_days: int = 30

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        app_env = env.get("APP_ENV", "production")
        if app_env not in ENVIRONMENTS:
            raise ConfigError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}")
        secret_key = env.get("SECRET_KEY") or (DEV_SECRET_KEY if app_env != "production" else "")
        if app_env == "production" and (not secret_key or secret_key == DEV_SECRET_KEY):
            raise ConfigError("SECRET_KEY must be set to a private value in production")
        if app_env == "production" and len(secret_key) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters in production")
        fast = app_env == "test"
        return cls(
            app_env=app_env,
            database_url=env.get("DATABASE_URL") or cls.database_url,
            redis_url=env.get("REDIS_URL") or cls.redis_url,
            redis_namespace=env.get("REDIS_NAMESPACE") or cls.redis_namespace,
            secret_key=secret_key,
            public_base_url=(env.get("PUBLIC_BASE_URL") or cls.public_base_url).rstrip("/"),
            port=_int(env, "PORT", cls.port),
            paystack_base_url=(env.get("PAYSTACK_BASE_URL") or cls.paystack_base_url).rstrip("/"),
            paystack_secret_key=env.get("PAYSTACK_SECRET_KEY", ""),
            mailgun_api_base=(env.get("MAILGUN_API_BASE") or cls.mailgun_api_base).rstrip("/"),
            mailgun_api_key=env.get("MAILGUN_API_KEY", ""),
            mailgun_domain=env.get("MAILGUN_DOMAIN") or cls.mailgun_domain,
            mail_from=env.get("MAIL_FROM") or cls.mail_from,
            media_root=Path(env.get("MEDIA_ROOT") or cls.media_root),
            platform_fee_bps=_int(env, "PLATFORM_FEE_BPS", 0, upper=10_000),
            reconcile_interval_seconds=_int(env, "RECONCILE_INTERVAL_SECONDS", 60, lower=1),
            reconcile_after_seconds=_int(env, "RECONCILE_AFTER_SECONDS", 300),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            bcrypt_rounds=_int(env, "BCRYPT_ROUNDS", 4 if fast else 12, lower=4, upper=31),
            email_min_backoff_ms=200 if fast else cls.email_min_backoff_ms,
            email_max_backoff_ms=2_000 if fast else cls.email_max_backoff_ms,
            payments_min_backoff_ms=100 if fast else cls.payments_min_backoff_ms,
            payments_max_backoff_ms=2_000 if fast else cls.payments_max_backoff_ms,
            broker_heartbeat_timeout_ms=5_000 if fast else cls.broker_heartbeat_timeout_ms,
            broker_maintenance_chance=1_000_000 if fast else cls.broker_maintenance_chance,
            reconcile_backoff_base_seconds=1 if fast else cls.reconcile_backoff_base_seconds,
            reconcile_backoff_max_seconds=2 if fast else cls.reconcile_backoff_max_seconds,
            reconcile_audit_lag_seconds=1 if fast else cls.reconcile_audit_lag_seconds,
            reconcile_provider_every_seconds=1 if fast else cls.reconcile_provider_every_seconds,
            http_timeout_seconds=2.0 if fast else cls.http_timeout_seconds,
        )


def _int(env: Mapping[str, str], name: str, default: int, lower: int = 0, upper: int | None = None) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer") from None
    if value < lower or (upper is not None and value > upper):
        raise ConfigError(f"{name} is out of range")
    return value
