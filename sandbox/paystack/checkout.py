"""The hosted checkout page that `authorization_url` points at: Pay and Decline as plain form POSTs."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import falcon
import jinja2

from sandbox.paystack.payments import Transactions
from sandbox.paystack.store import Document

_SYMBOLS = {"NGN": "₦", "GHS": "GH₵", "ZAR": "R", "USD": "$", "KES": "KSh"}


def format_amount(minor: int, currency: str) -> str:
    """123456 kobo -> '₦1,234.56', with integer arithmetic only."""
    major, cents = divmod(abs(minor), 100)
    sign = "-" if minor < 0 else ""
    return f"{sign}{_SYMBOLS.get(currency, currency + ' ')}{major:,}.{cents:02d}"


def callback_redirect(callback_url: str, reference: str) -> str:
    """callback_url?trxref=REF&reference=REF, keeping any query the merchant put there."""
    parts = urlsplit(callback_url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("trxref", reference), ("reference", reference)]
    return urlunsplit(parts._replace(query=urlencode(query)))


class Checkout:
    def __init__(self, transactions: Transactions, merchant_name: str) -> None:
        self._tx = transactions
        self._merchant = merchant_name
        self._templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")), autoescape=True,
        )

    def _render(self, resp: falcon.Response, name: str, status: int = 200, **context: object) -> None:
        resp.status = status
        resp.content_type = falcon.MEDIA_HTML
        resp.text = self._templates.get_template(name).render(merchant=self._merchant, **context)

    def _find(self, resp: falcon.Response, access_code: str) -> Document | None:
        tx = self._tx.by_access_code(access_code)
        if tx is None:
            self._render(resp, "not_found.html", status=404)
        return tx

    def on_get(self, req: falcon.Request, resp: falcon.Response, access_code: str) -> None:
        tx = self._find(resp, access_code)
        if tx is not None:
            self._render(resp, "checkout.html", tx=tx, amount=format_amount(tx["amount"], tx["currency"]))

    def on_post_action(self, req: falcon.Request, resp: falcon.Response, access_code: str, action: str) -> None:
        tx = self._find(resp, access_code)
        if tx is None:
            return
        if action == "pay":
            tx = self._tx.pay(tx["reference"])
        elif action == "decline" and tx["status"] != "success":
            tx = self._tx.decline(tx["reference"])
        elif action not in ("pay", "decline"):
            raise falcon.HTTPNotFound()
        if tx["status"] == "success" and tx["callback_url"]:
            target = callback_redirect(tx["callback_url"], tx["reference"])
        else:
            target = f"{req.prefix}/checkout/{access_code}"
        resp.status = falcon.HTTP_303
        resp.location = target
