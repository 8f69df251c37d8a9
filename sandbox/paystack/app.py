"""Wires one sandbox together: state, background threads, services and the Falcon WSGI app."""

from __future__ import annotations

import logging
from typing import Any

import falcon

from sandbox.paystack import api, control
from sandbox.paystack.checkout import Checkout
from sandbox.paystack.errors import ApiError
from sandbox.paystack.faults import Faults
from sandbox.paystack.middleware import AuthMiddleware, FaultMiddleware
from sandbox.paystack.payments import TX, Transactions
from sandbox.paystack.scheduler import Scheduler
from sandbox.paystack.settings import Settings
from sandbox.paystack.store import Store
from sandbox.paystack.transfers import RECIPIENT, TRANSFER, Transfers
from sandbox.paystack.webhooks import EVENT_KIND, Dispatcher

log = logging.getLogger(__name__)


class Sandbox:
    """Everything one sandbox process holds. Two worker threads: webhook deliveries, transfer settlement."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = Store(settings.store_path)
        self.faults = Faults()
        self._webhook_thread = Scheduler("sandbox-webhooks")
        self._transfer_thread = Scheduler("sandbox-transfers")
        self.dispatcher = Dispatcher(self.store, settings, self.faults, self._webhook_thread)
        self.transactions = Transactions(self.store, settings, self.dispatcher)
        self.transfers = Transfers(self.store, settings, self.dispatcher, self.faults, self._transfer_thread)

    def start(self) -> None:
        self._webhook_thread.start()
        self._transfer_thread.start()
        self.dispatcher.restore()
        self.transfers.restore()

    def stop(self) -> None:
        self._transfer_thread.stop()
        self._webhook_thread.stop()
        self.store.close()

    def reset(self) -> None:
        """Forget everything: state, queued work, faults (DELETE /_sandbox/state)."""
        self._transfer_thread.clear()
        self._webhook_thread.clear()
        self.dispatcher.reset()
        self.faults.reset()
        self.store.reset()

    def counts(self) -> dict[str, int]:
        kinds = {"transactions": TX, "recipients": RECIPIENT, "transfers": TRANSFER, "webhook_events": EVENT_KIND}
        return {name: len(self.store.all(kind)) for name, kind in kinds.items()}


def _api_error(req: falcon.Request, resp: falcon.Response, ex: ApiError, params: dict[str, Any]) -> None:
    resp.status = ex.status
    resp.media = ex.body()


def _http_error(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: dict[str, Any]) -> None:
    # Paystack's envelope instead of Falcon's {"title": ...}, for 404s, 405s and bad parameters alike.
    resp.status = ex.status
    resp.media = {"status": False, "message": ex.description or ex.title}
    for name, value in (ex.headers or {}).items():
        resp.set_header(name, value)


def _unexpected(req: falcon.Request, resp: falcon.Response, ex: Exception, params: dict[str, Any]) -> None:
    log.exception("unexpected error on %s %s", req.method, req.path)
    resp.status = 500
    resp.media = {"status": False, "message": "An unexpected error occurred in the sandbox"}


def create_app(sandbox: Sandbox) -> falcon.App:
    app = falcon.App(middleware=[AuthMiddleware(sandbox.settings.secret_key), FaultMiddleware(sandbox.faults)])
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(falcon.HTTPError, _http_error)
    app.add_error_handler(ApiError, _api_error)
    _add_api_routes(app, sandbox)
    _add_control_routes(app, sandbox)
    checkout = Checkout(sandbox.transactions, sandbox.settings.merchant_name)
    app.add_route("/checkout/{access_code}", checkout)
    app.add_route("/checkout/{access_code}/{action}", checkout, suffix="action")
    return app


def _add_api_routes(app: falcon.App, sb: Sandbox) -> None:
    tx, transfers = sb.transactions, sb.transfers
    app.add_route("/transaction/initialize", api.TransactionInitialize(tx))
    app.add_route("/transaction/verify/{reference}", api.TransactionVerify(tx, sb.faults))
    app.add_route("/transaction/{transaction_id:int}", api.TransactionFetch(tx, sb.faults))
    app.add_route("/transaction", api.TransactionList(tx))
    app.add_route("/bank", api.BankList())
    app.add_route("/bank/resolve", api.BankResolve())
    app.add_route("/transferrecipient", api.TransferRecipients(transfers, sb.settings.integration_id))
    app.add_route("/transfer", api.TransferCollection(transfers))
    app.add_route("/transfer/finalize_transfer", api.TransferFinalize(transfers))
    app.add_route("/transfer/verify/{reference}", api.TransferVerify(transfers))
    app.add_route("/transfer/{code}", api.TransferFetch(transfers))
    app.add_route("/balance", api.Balance(transfers))


def _add_control_routes(app: falcon.App, sb: Sandbox) -> None:
    app.add_route("/healthz", control.Health())
    app.add_route("/_sandbox", control.Overview(sb))
    app.add_route("/_sandbox/transactions/{reference}/{action}", control.TransactionOutcome(sb))
    app.add_route("/_sandbox/webhooks", control.Webhooks(sb))
    app.add_route("/_sandbox/webhooks/resend/{reference}", control.WebhookResend(sb))
    app.add_route("/_sandbox/faults", control.FaultCollection(sb))
    app.add_route("/_sandbox/balance", control.BalanceControl(sb))
    app.add_route("/_sandbox/state", control.State(sb))
