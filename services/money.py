"""Money helpers: integer minor units only, the platform fee rule, display formatting."""

from __future__ import annotations

# Currencies the provider settles in; each has two decimal places (minor units = 1/100).
CURRENCIES = {"NGN": "₦", "GHS": "GH₵", "ZAR": "R", "KES": "KSh", "USD": "$"}
MAX_AMOUNT = 10**12  # one trillion minor units: far above any real order, far below int64


def platform_fee(amount: int, fee_bps: int) -> int:
    """The marketplace's cut of `amount`, rounded down to a whole minor unit.

    Rounding rule: floor, so the seller never receives less than their exact share and the fee is
    never a fraction of a kobo (e.g. 250 bps of 1,999 kobo is 49.975 -> 49 kobo).
    """
    if amount < 0 or not 0 <= fee_bps <= 10_000:
        raise ValueError("amount must be >= 0 and fee_bps within 0..10000")
    return amount * fee_bps // 10_000


def format_amount(amount: int, currency: str) -> str:
    """12345667, "NGN" -> "₦123,456.67" (negative amounts keep their sign in front)."""
    sign = "-" if amount < 0 else ""
    whole, minor = divmod(abs(amount), 100)
    return f"{sign}{CURRENCIES.get(currency, currency + ' ')}{whole:,}.{minor:02d}"
