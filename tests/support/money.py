"""Helpers for money tests: users with tokens, products, intents, and waiting on transactions."""

from __future__ import annotations

import secrets
from typing import Any

import requests

from models.ledger import audit
from tests.support.procs import wait_until

PASSWORD = "correct horse battery staple"


class Api:
    """A signed-in user talking to the real web process over HTTP."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.base_url + path, timeout=10, **kwargs)

    def post(self, path: str, json: Any = None, key: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Idempotency-Key": key or secrets.token_hex(8)} if key != "" else {}
        return self.session.post(self.base_url + path, json=json, headers=headers, timeout=10, **kwargs)

    def wallet(self) -> dict[str, int]:
        return self.get("/v1/wallet").json()

    def wait_status(self, txn_id: str, *statuses: str, timeout: float = 30.0) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            body = self.get(f"/v1/transactions/{txn_id}").json()
            return body if body["status"] in statuses else None

        return wait_until(done, timeout=timeout, message=f"transaction {txn_id} to reach {statuses}")


def signed_in_user(base_url: str, email: str, deps: Any) -> Api:
    """Register over HTTP, confirm through the service with the emailed token, sign in."""
    from tests.support.identity import confirmation_token

    created = requests.post(f"{base_url}/v1/auth/register", timeout=10,
                            json={"email": email, "password": PASSWORD, "full_name": email.split("@")[0]})
    assert created.status_code == 201, created.text
    deps.identity.confirm_email(confirmation_token(email))
    tokens = requests.post(f"{base_url}/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=10)
    assert tokens.status_code == 200, tokens.text
    return Api(base_url, tokens.json()["access_token"])


def pay_checkout(paystack_url: str, reference: str) -> None:
    response = requests.post(f"{paystack_url}/_sandbox/transactions/{reference}/pay", timeout=10)
    assert response.status_code == 200, response.text


def fund(api: Api, paystack_url: str, amount: int) -> dict[str, Any]:
    """A funding paid on the sandbox's checkout and credited through the webhook."""
    intent = api.post("/v1/fundings", {"amount": amount})
    assert intent.status_code == 202, intent.text
    ready = api.wait_status(intent.json()["id"], "requires_action")
    assert ready["authorization_url"].startswith(paystack_url)
    pay_checkout(paystack_url, ready["reference"])
    return api.wait_status(intent.json()["id"], "succeeded", "failed")


def assert_ledger_clean() -> None:
    assert audit() == []


# --- fault injection and what the provider saw (the Paystack sandbox over HTTP) ------------------

def sandbox_fault(paystack_url: str, spec: dict[str, Any]) -> None:
    """Add one /_sandbox/faults rule; the autouse cleanup clears them after the test."""
    response = requests.post(f"{paystack_url}/_sandbox/faults", json=spec, timeout=5)
    assert response.status_code == 201, response.text


def active_faults(paystack_url: str) -> list[dict[str, Any]]:
    return requests.get(f"{paystack_url}/_sandbox/faults", timeout=5).json()["data"]


def decline_checkout(paystack_url: str, reference: str) -> None:
    response = requests.post(f"{paystack_url}/_sandbox/transactions/{reference}/decline", timeout=10)
    assert response.status_code == 200, response.text


def resend_webhook(paystack_url: str, reference: str) -> None:
    """Replay the latest event of `reference` and wait until the web process has answered it, so
    no delivery is still in flight when the test ends (and the next test's tables are filled)."""
    before = webhook_deliveries(paystack_url, reference)
    response = requests.post(f"{paystack_url}/_sandbox/webhooks/resend/{reference}", timeout=10)
    assert response.status_code == 200, response.text
    wait_until(lambda: webhook_deliveries(paystack_url, reference) > before, message=f"the resend of {reference}")


def sandbox_webhooks(paystack_url: str, reference: str) -> list[dict[str, Any]]:
    entries = requests.get(f"{paystack_url}/_sandbox/webhooks", timeout=5).json()["data"]
    return [e for e in entries if e["reference"] == reference]


def webhook_deliveries(paystack_url: str, reference: str) -> int:
    """How many deliveries of `reference`'s events the receiver accepted (copies and resends included)."""
    return sum(e["deliveries"] for e in sandbox_webhooks(paystack_url, reference))


def provider_transfers(paystack_url: str, secret_key: str, reference: str) -> list[dict[str, Any]]:
    """Every transfer the provider holds for `reference` (its GET /transfer list)."""
    response = requests.get(f"{paystack_url}/transfer", params={"perPage": 100}, timeout=5,
                            headers={"Authorization": f"Bearer {secret_key}"})
    assert response.status_code == 200, response.text
    return [t for t in response.json()["data"] if t["reference"] == reference]


def add_bank_account(api: Api, account_number: str = "0123456789") -> str:
    banks = api.get("/v1/banks").json()["data"]
    account = api.post("/v1/bank-accounts", {"bank_code": banks[0]["code"], "account_number": account_number},
                       key="")
    assert account.status_code == 201, account.text
    return account.json()["id"]


def webhooks_settled(reference: str, count: int | None = None) -> bool:
    """Every stored webhook event of `reference` has been processed (and, if given, exactly `count`
    are stored)."""
    from models.transactions import WebhookEvent

    events = WebhookEvent.select().where(WebhookEvent.reference == reference)
    pending = events.where(WebhookEvent.processed_at.is_null()).count()
    return pending == 0 and (count is None or events.count() == count)


def provider_settled(paystack_url: str, secret_key: str) -> bool:
    """Nothing left in flight at the provider: no transfer still pending (its event is yet to come)
    and every event delivered, dropped by a fault or given up. Wait for it before a test ends, or a
    late delivery lands in the next test's tables."""
    transfers = requests.get(f"{paystack_url}/transfer", params={"perPage": 100}, timeout=5,
                             headers={"Authorization": f"Bearer {secret_key}"}).json()["data"]
    events = requests.get(f"{paystack_url}/_sandbox/webhooks", timeout=5).json()["data"]
    return (all(t["status"] != "pending" for t in transfers)
            and all(e["delivered"] or e["dropped"] or e["gave_up"] for e in events))
