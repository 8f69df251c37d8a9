"""Runtime settings of one sandbox process (from the command line and the environment)."""

from __future__ import annotations

from dataclasses import dataclass

DEV_SECRET_KEY = "sk_test_dev_only_sandbox_key"  # noqa: S105 - a public, dev-only placeholder
DEFAULT_RETRY_DELAYS = (1.0, 5.0, 30.0, 120.0, 600.0)
NGN = "NGN"


@dataclass(frozen=True)
class Settings:
    secret_key: str = DEV_SECRET_KEY
    webhook_url: str | None = None
    public_url: str | None = None
    store_path: str | None = None
    webhook_retry_delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
    webhook_timeout: float = 5.0
    transfer_delay: float = 1.0
    initial_balance: int = 1_000_000_000  # kobo: NGN 10,000,000
    merchant_name: str = "Marketplace (sandbox)"
    integration_id: int = 100_032
    supported_currencies: tuple[str, ...] = ("NGN", "GHS", "ZAR", "USD", "KES")


def parse_delays(text: str) -> tuple[float, ...]:
    """'0.2,0.5,1' -> (0.2, 0.5, 1.0); an empty string means no retries at all."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    delays = tuple(float(part) for part in parts)
    if any(delay < 0 for delay in delays):
        raise ValueError("retry delays must not be negative")
    return delays
