"""Paystack's HTTP API over `requests`: bearer auth, the {status, message, data} envelope,
timeouts on every call, and errors mapped to types the actors can decide on.

Retries happen here only for calls that are safe to repeat: reads (verify, list, resolve). Calls
that create something are never blindly repeated; a transfer whose answer was lost is settled by
verifying its reference, never by sending it again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests

CONNECT_TIMEOUT = 3.05
READ_RETRIES = 3


class PaystackError(Exception):
    """Base: the call did not give a usable answer."""


class PaystackUnavailable(PaystackError):
    """Network trouble, a timeout or a 5xx/429: the outcome is unknown or temporary."""


class PaystackTimeout(PaystackUnavailable):
    """The request may have reached Paystack; its effect is unknown until verified."""


class PaystackRejected(PaystackError):
    """A 4xx with status false: Paystack understood and refused. Repeating will not help."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code, self.message = status_code, message


class PaystackNotFound(PaystackRejected):
    """The reference is unknown to Paystack."""


@dataclass
class PaystackClient:
    base_url: str
    secret_key: str
    timeout: float = 10.0
    session: requests.Session = field(default_factory=requests.Session)
    retry_pause: float = 0.3

    # --- transactions (funding) ------------------------------------------------------------

    def initialize_transaction(self, *, email: str, amount: int, reference: str, currency: str,
                               callback_url: str, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        body = {"email": email, "amount": amount, "reference": reference, "currency": currency,
                "callback_url": callback_url, "metadata": metadata or {}}
        return self._call("POST", "/transaction/initialize", json=body)

    def verify_transaction(self, reference: str) -> dict[str, Any]:
        return self._read(f"/transaction/verify/{_safe(reference)}")

    def list_transactions(self, **params: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return self._read_list("/transaction", params)

    # --- banks -----------------------------------------------------------------------------

    def list_banks(self, currency: str = "NGN") -> list[dict[str, Any]]:
        banks, _ = self._read_list("/bank", {"currency": currency, "perPage": 100})
        return banks

    def resolve_account(self, account_number: str, bank_code: str) -> dict[str, Any]:
        return self._read("/bank/resolve", params={"account_number": account_number, "bank_code": bank_code})

    # --- transfers (withdrawals) -----------------------------------------------------------

    def create_recipient(self, *, name: str, account_number: str, bank_code: str, currency: str) -> dict[str, Any]:
        # Paystack deduplicates recipients by account, so a repeat returns the same recipient_code.
        body = {"type": "nuban", "name": name, "account_number": account_number, "bank_code": bank_code,
                "currency": currency}
        return self._call("POST", "/transferrecipient", json=body)

    def initiate_transfer(self, *, amount: int, recipient: str, reference: str, reason: str,
                          currency: str) -> dict[str, Any]:
        body = {"source": "balance", "amount": amount, "recipient": recipient, "reference": reference,
                "reason": reason, "currency": currency}
        return self._call("POST", "/transfer", json=body)

    def verify_transfer(self, reference: str) -> dict[str, Any]:
        return self._read(f"/transfer/verify/{_safe(reference)}")

    def list_transfers(self, **params: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return self._read_list("/transfer", params)

    # --- plumbing --------------------------------------------------------------------------

    def _read(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return _data(path, self._read_envelope(path, params))

    def _read_list(self, path: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        envelope = self._read_envelope(path, params)
        return list(envelope.get("data") or []), dict(envelope.get("meta") or {})

    def _read_envelope(self, path: str, params: dict[str, Any] | None) -> dict[str, Any]:
        """GETs change nothing, so a few paced retries ride out a provider hiccup."""
        for attempt in range(READ_RETRIES):
            try:
                return self._request("GET", path, params=params)
            except PaystackUnavailable:
                if attempt == READ_RETRIES - 1:
                    raise
                time.sleep(self.retry_pause * (2**attempt))
        raise AssertionError("unreachable")

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        return _data(path, self._request(method, path, **kwargs))

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self.session.request(
                method, f"{self.base_url}{path}", headers={"Authorization": f"Bearer {self.secret_key}"},
                timeout=(CONNECT_TIMEOUT, self.timeout), **kwargs)
        except requests.ConnectionError as exc:
            if isinstance(exc, requests.ConnectTimeout) or "NewConnectionError" in str(exc):
                raise PaystackUnavailable(f"{method} {path}: cannot connect") from None
            raise PaystackTimeout(f"{method} {path}: connection lost") from None
        except requests.Timeout:
            raise PaystackTimeout(f"{method} {path}: timed out") from None
        return _envelope(method, path, response)


def _envelope(method: str, path: str, response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 429 or response.status_code >= 500:
        raise PaystackUnavailable(f"{method} {path}: HTTP {response.status_code}")
    if not isinstance(body, dict):
        raise PaystackUnavailable(f"{method} {path}: HTTP {response.status_code} without a JSON envelope")
    message = str(body.get("message", ""))[:300]
    if response.status_code >= 400 or body.get("status") is not True:
        kind = PaystackNotFound if response.status_code == 404 or "not found" in message.lower() else PaystackRejected
        raise kind(response.status_code, message)
    return body


def _data(path: str, envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise PaystackUnavailable(f"{path}: envelope without a data object")
    return data


def _safe(reference: str) -> str:
    """References are ours ([a-z0-9_-]); refuse anything that could change the path."""
    if not reference or any(not (c.isalnum() or c in "-_") for c in reference):
        raise ValueError("unsafe reference")
    return reference
