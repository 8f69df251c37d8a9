"""Helpers for tests that run the sandbox: a local webhook receiver and the command line to start it.

It never imports the application; besides the stdlib it needs only `requests`.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from sandbox.paystack.webhooks import EVENT_ID_HEADER, sign


@dataclass(frozen=True)
class Delivery:
    """One webhook POST as the receiver saw it, with the status the receiver answered."""

    body: bytes
    signature: str
    event_id: str
    answered: int

    @property
    def payload(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def event(self) -> str:
        return self.payload["event"]

    @property
    def reference(self) -> str:
        return self.payload["data"]["reference"]

    def signed_with(self, secret_key: str) -> bool:
        return self.signature == sign(self.body, secret_key)


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records every POST; `fail_next` makes it answer errors first.

    It also answers GETs with 200 and records their paths, so it can stand in for the merchant's
    `callback_url` that the checkout redirects the customer to.
    """

    def __init__(self) -> None:
        self._deliveries: list[Delivery] = []
        self._visits: list[str] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/paystack"

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def clear(self) -> None:
        with self._lock:
            self._deliveries.clear()
            self._failures.clear()
            self._visits.clear()

    def visits(self) -> list[str]:
        """Paths (with query) of the GET requests received, e.g. callback_url redirects."""
        with self._lock:
            return list(self._visits)

    def deliveries(self, accepted_only: bool = False) -> list[Delivery]:
        with self._lock:
            return [d for d in self._deliveries if not accepted_only or d.answered < 300]

    def wait_for(self, check: Callable[[list[Delivery]], bool], timeout: float = 10.0) -> list[Delivery]:
        """Poll until `check(accepted deliveries)` holds; fail loudly after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            accepted = self.deliveries(accepted_only=True)
            if check(accepted):
                return accepted
            if time.monotonic() > deadline:
                raise AssertionError(f"webhooks not as expected after {timeout}s: {[d.event for d in accepted]}")
            time.sleep(0.02)

    def _record(self, body: bytes, headers: Any) -> int:
        with self._lock:
            status = self._failures.pop(0) if self._failures else 200
            self._deliveries.append(Delivery(body, headers.get("x-paystack-signature", ""),
                                             headers.get(EVENT_ID_HEADER, ""), status))
        return status

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._record(body, self.headers)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                with receiver._lock:
                    receiver._visits.append(self.path)
                body = b"callback received"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: tests read deliveries, not access logs."""

        return Handler


def sandbox_command(port: int, webhook_url: str | None = None, extra: Sequence[str] = ()) -> list[str]:
    """The argv that starts a sandbox with fast, test-friendly timings (override them through `extra`)."""
    args = [sys.executable, "-m", "sandbox.paystack", "--port", str(port), "--log-level", "WARNING",
            "--webhook-retry-delays", "0.1,0.2,0.4", "--webhook-timeout", "2", "--transfer-delay", "0.1"]
    if webhook_url:
        args += ["--webhook-url", webhook_url]
    return [*args, *extra]


class SandboxApi:
    """A thin client for the sandbox: the Paystack API with the secret key, and the /_sandbox controls."""

    def __init__(self, base_url: str, secret_key: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._key = secret_key
        self._timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # never route 127.0.0.1 through a proxy from the environment

    def request(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self._key}"} if auth else {}
        kwargs.setdefault("timeout", self._timeout)
        return self.session.request(method, f"{self.base_url}{path}", headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, json=json, **kwargs)

    def control(self, method: str, path: str, json: Any = None) -> Any:
        response = self.request(method, f"/_sandbox{path}", auth=False, json=json)
        response.raise_for_status()
        return response.json()["data"]

    def reset(self) -> None:
        self.control("DELETE", "/state")

    def add_fault(self, **spec: Any) -> dict[str, Any]:
        return self.control("POST", "/faults", spec)

    def webhook_log(self) -> list[dict[str, Any]]:
        return self.control("GET", "/webhooks")

    def initialize(self, reference: str, amount: int = 500_000, **fields: Any) -> dict[str, Any]:
        response = self.post("/transaction/initialize",
                             {"email": "buyer@example.com", "amount": amount, "reference": reference, **fields})
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def pay(self, reference: str) -> dict[str, Any]:
        return self.control("POST", f"/transactions/{reference}/pay")

    def verify(self, reference: str) -> dict[str, Any]:
        response = self.get(f"/transaction/verify/{reference}")
        assert response.status_code == 200, response.text
        return response.json()["data"]

    def recipient(self, account_number: str = "0123456789", bank_code: str = "058") -> str:
        response = self.post("/transferrecipient", {"type": "nuban", "name": "Seller One", "currency": "NGN",
                                                    "account_number": account_number, "bank_code": bank_code})
        assert response.status_code == 201, response.text
        return response.json()["data"]["recipient_code"]

    def transfer(self, recipient: str, reference: str, amount: int = 250_000, **kwargs: Any) -> requests.Response:
        body = {"source": "balance", "amount": amount, "recipient": recipient, "reference": reference,
                "reason": "Payout", "currency": "NGN"}
        return self.post("/transfer", body, **kwargs)

    def transfer_status(self, reference: str) -> str | None:
        response = self.get(f"/transfer/verify/{reference}")
        return response.json()["data"]["status"] if response.status_code == 200 else None

    def balance(self) -> int:
        return self.control("GET", "/balance")[0]["balance"]
