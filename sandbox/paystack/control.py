"""The sandbox's own control surface under /_sandbox (no auth, JSON), plus GET /healthz."""

from __future__ import annotations

from typing import TYPE_CHECKING

import falcon

from sandbox.paystack.errors import ApiError, validation
from sandbox.paystack.faults import FaultError
from sandbox.paystack.util import parse_amount
from sandbox.paystack.web import ok, read_body

if TYPE_CHECKING:
    from sandbox.paystack.app import Sandbox


class Health:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}


class Overview:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sb = sandbox

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        settings = self._sb.settings
        ok(resp, "Sandbox state", {
            "webhook_url": settings.webhook_url, "store": settings.store_path or ":memory:",
            "webhook_retry_delays": list(settings.webhook_retry_delays), "transfer_delay": settings.transfer_delay,
            "balances": self._sb.transfers.balances(), "faults": self._sb.faults.active(),
            "counts": self._sb.counts(),
        })


class TransactionOutcome:
    """POST /_sandbox/transactions/{reference}/pay|decline: what the checkout buttons do, without a browser."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sb = sandbox

    def on_post(self, req: falcon.Request, resp: falcon.Response, reference: str, action: str) -> None:
        tx_service = self._sb.transactions
        if action == "pay":
            tx = tx_service.pay(reference)
        elif action == "decline":
            tx = tx_service.decline(reference)
        else:
            raise ApiError(404, f"Unknown action {action!r}: use pay or decline")
        ok(resp, f"Transaction {tx['status']}", tx_service.verify_data(tx))


class Webhooks:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sb = sandbox

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        ok(resp, "Webhook deliveries", self._sb.dispatcher.entries())


class WebhookResend:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sb = sandbox

    def on_post(self, req: falcon.Request, resp: falcon.Response, reference: str) -> None:
        record = self._sb.dispatcher.resend(reference)
        if record is None:
            raise ApiError(404, f"No webhook event for reference {reference!r}")
        ok(resp, "Webhook queued again", {"id": record["id"], "event": record["event"], "reference": reference})


class FaultCollection:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sb = sandbox

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        ok(resp, "Active faults", self._sb.faults.active())

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            rule = self._sb.faults.add(read_body(req))
        except FaultError as exc:
            raise validation(str(exc)) from None
        ok(resp, "Fault added", rule.as_dict(), status=201)

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._sb.faults.reset()
        ok(resp, "Faults cleared", [])


class BalanceControl:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sb = sandbox

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        ok(resp, "Balances", self._sb.transfers.balances())

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        """{"amount": <kobo>}: set the NGN balance that transfers draw from."""
        amount = parse_amount(read_body(req).get("amount"))
        if amount is None:
            raise validation("amount must be a non-negative integer in kobo")
        self._sb.transfers.set_balance(amount)
        ok(resp, "Balance set", self._sb.transfers.balances())


class State:
    def __init__(self, sandbox: Sandbox) -> None:
        self._sb = sandbox

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._sb.reset()
        ok(resp, "Sandbox state reset", None)
