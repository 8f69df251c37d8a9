"""The Paystack webhook endpoint: signatures, deduplication, and never trusting the body."""

from __future__ import annotations

import hashlib
import hmac
import json

import requests

from models.transactions import Transaction, WebhookEvent
from tests.support.money import fund, pay_checkout, resend_webhook, signed_in_user
from tests.support.procs import wait_until


def signed(body: bytes, key: str) -> dict[str, str]:
    return {"x-paystack-signature": hmac.new(key.encode(), body, hashlib.sha512).hexdigest(),
            "Content-Type": "application/json"}


def event(reference: str, amount: int = 5_000_000, name: str = "charge.success") -> bytes:
    return json.dumps({"event": name, "data": {"reference": reference, "amount": amount, "status": "success",
                                               "currency": "NGN"}}).encode()


def test_forged_or_missing_signatures_are_refused_and_not_recorded(client, stack):
    body = event("mkt-fun-anything")
    for headers in ({}, signed(body, "not-the-key"), {"x-paystack-signature": "00" * 64},
                    {"x-paystack-signature": "zz"}):
        response = client.simulate_post("/v1/webhooks/paystack", body=body, headers=headers)
        assert response.status_code == 401 and response.json["code"] == "invalid_signature"
    assert WebhookEvent.select().count() == 0


def test_a_valid_event_is_stored_once_however_often_it_arrives(client, stack):
    body = event("mkt-fun-unknown")
    for _ in range(3):
        response = client.simulate_post("/v1/webhooks/paystack", body=body,
                                        headers=signed(body, stack.settings.paystack_secret_key))
        assert response.status_code == 200 and response.json == {"received": True}
    assert WebhookEvent.select().count() == 1


def test_signed_garbage_is_a_client_error(client, stack):
    for body in (b"{not json", b"[1, 2]"):
        response = client.simulate_post("/v1/webhooks/paystack", body=body,
                                        headers=signed(body, stack.settings.paystack_secret_key))
        assert response.status_code == 400 and response.json["code"] == "invalid_json"


def test_a_webhook_claiming_a_bigger_amount_credits_what_the_provider_verifies(web, worker, stack, deps):
    """The body says ₦50,000; Paystack's verify says ₦1,000: the wallet gets ₦1,000, once."""
    buyer = signed_in_user(web, "buyer@example.com", deps)
    intent = buyer.post("/v1/fundings", {"amount": 100_000}).json()
    reference = buyer.wait_status(intent["id"], "requires_action")["reference"]
    body = event(reference, amount=5_000_000)
    forged = requests.post(f"{web}/v1/webhooks/paystack", data=body,
                           headers=signed(body, stack.settings.paystack_secret_key), timeout=10)
    assert forged.status_code == 200
    wait_until(lambda: WebhookEvent.get_or_none(WebhookEvent.reference == reference, WebhookEvent.processed_at
                                                .is_null(False)), message="the event to be processed")
    assert buyer.get(f"/v1/transactions/{intent['id']}").json()["status"] == "requires_action", \
        "not paid yet: verify says abandoned, so nothing is credited"
    pay_checkout(stack.paystack_url, reference)
    assert buyer.wait_status(intent["id"], "succeeded")["amount"] == 100_000
    assert buyer.wallet()["balance"] == 100_000
    resend_webhook(stack.paystack_url, reference)
    requests.post(f"{web}/v1/webhooks/paystack", data=body, headers=signed(body, stack.settings.paystack_secret_key),
                  timeout=10)
    wait_until(lambda: WebhookEvent.select().where(WebhookEvent.processed_at.is_null()).count() == 0)
    assert buyer.wallet()["balance"] == 100_000, "replays credit nothing more"


def test_funding_succeeds_through_the_callback_when_the_webhook_is_lost(web, worker, stack, deps):
    buyer = signed_in_user(web, "buyer@example.com", deps)
    requests.post(f"{stack.paystack_url}/_sandbox/faults", json={"webhooks": "drop", "count": 1}, timeout=5)
    intent = buyer.post("/v1/fundings", {"amount": 20_000}).json()
    ready = buyer.wait_status(intent["id"], "requires_action")
    pay_checkout(stack.paystack_url, ready["reference"])
    page = requests.get(f"{web}/v1/fundings/callback", params={"reference": ready["reference"]}, timeout=10)
    assert page.status_code == 200 and "confirming" in page.text
    assert buyer.wait_status(intent["id"], "succeeded")["status"] == "succeeded"
    assert Transaction.get_by_id(intent["id"]).status == "succeeded"
    assert fund(buyer, stack.paystack_url, 5_000)["status"] == "succeeded"
