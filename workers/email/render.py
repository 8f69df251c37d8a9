"""Email templates: one text and one HTML template per kind, both extending a shared layout."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES = Path(__file__).parent / "templates"
SUBJECTS = {
    "confirm_email": "Confirm your email address",
    "welcome": "Welcome to the marketplace",
    "password_reset": "Reset your password",
    "password_changed": "Your password was changed",
    "wallet_funded": "Your wallet was funded",
    "funding_failed": "Your wallet funding did not go through",
    "sale_made": "You made a sale",
    "withdrawal_paid": "Your withdrawal was paid",
    "withdrawal_failed": "Your withdrawal could not be paid",
    "withdrawal_reversed": "Your withdrawal was returned",
    "purchase_receipt": "Your purchase receipt",
}

_env = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                   autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
                   trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render(template: str, context: dict[str, Any], marketplace: str = "Marketplace") -> RenderedEmail:
    if template not in SUBJECTS:
        raise KeyError(f"unknown email template {template!r}")
    values = {**context, "marketplace": marketplace, "subject": SUBJECTS[template]}
    return RenderedEmail(
        subject=SUBJECTS[template],
        text=_env.get_template(f"{template}.txt").render(values),
        html=_env.get_template(f"{template}.html").render(values),
    )
