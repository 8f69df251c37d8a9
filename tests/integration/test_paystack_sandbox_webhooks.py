"""Webhooks from the Paystack sandbox: Paystack's signature, retries with backoff, replays and the
webhook faults (drop, duplicate, delay, reorder)."""

from __future__ import annotations

import hashlib
import hmac
import time

import pytest

from sandbox.paystack.testing import SandboxApi, WebhookReceiver
from tests.support.paystack_sandbox import KEY

pytestmark = pytest.mark.usefixtures("clean_sandbox")


def paid(api: SandboxApi, reference: str, amount: int = 500_000) -> None:
    api.initialize(reference, amount=amount)
    api.pay(reference)


def test_a_webhook_is_signed_with_hmac_sha512_of_the_raw_body(api: SandboxApi, receiver: WebhookReceiver) -> None:
    paid(api, "sig-1", amount=777_700)
    delivery = receiver.wait_for(lambda got: len(got) == 1)[0]
    expected = hmac.new(KEY.encode(), delivery.body, hashlib.sha512).hexdigest()
    assert delivery.signature == expected
    assert not delivery.signed_with("sk_test_someone_else")
    assert set(delivery.payload) == {"event", "data"}
    assert delivery.event == "charge.success"
    # The event carries the same data a verify call returns.
    verified = api.verify("sig-1")
    assert delivery.payload["data"] == verified
    assert delivery.payload["data"]["amount"] == 777_700


def test_the_delivery_log_shows_each_event(api: SandboxApi, receiver: WebhookReceiver) -> None:
    paid(api, "log-1")
    receiver.wait_for(lambda got: len(got) == 1)
    [entry] = api.webhook_log()
    assert entry["event"] == "charge.success"
    assert entry["reference"] == "log-1"
    assert (entry["attempts"], entry["last_status"], entry["delivered"]) == (1, 200, True)
    assert entry["id"] == receiver.deliveries()[0].event_id


def test_a_failed_delivery_is_retried_until_the_receiver_accepts(api: SandboxApi, receiver: WebhookReceiver) -> None:
    receiver.fail_next(2, status=503)
    paid(api, "retry-1")
    receiver.wait_for(lambda got: len(got) == 1)
    attempts = receiver.deliveries()
    assert [d.answered for d in attempts] == [503, 503, 200]
    assert len({(d.body, d.signature, d.event_id) for d in attempts}) == 1, "every retry is byte-identical"
    [entry] = api.webhook_log()
    assert (entry["attempts"], entry["last_status"], entry["delivered"]) == (3, 200, True)


def test_delivery_gives_up_after_the_retry_schedule(api: SandboxApi, receiver: WebhookReceiver) -> None:
    receiver.fail_next(100)
    paid(api, "giveup-1")
    deadline = time.monotonic() + 5
    while not api.webhook_log()[0]["gave_up"]:
        assert time.monotonic() < deadline, api.webhook_log()
        time.sleep(0.05)
    entry = api.webhook_log()[0]
    assert (entry["attempts"], entry["last_status"], entry["delivered"]) == (4, 500, False)  # 1 + 3 retries
    assert len(receiver.deliveries()) == 4


def test_resend_replays_the_last_event_of_a_reference(api: SandboxApi, receiver: WebhookReceiver) -> None:
    paid(api, "resend-1")
    receiver.wait_for(lambda got: len(got) == 1)
    replay = api.control("POST", "/webhooks/resend/resend-1")
    assert replay["event"] == "charge.success"
    first, second = receiver.wait_for(lambda got: len(got) == 2)
    assert (first.body, first.event_id) == (second.body, second.event_id)
    missing = api.request("POST", "/_sandbox/webhooks/resend/unknown", auth=False)
    assert missing.status_code == 404


def test_drop_fault_loses_the_event_which_resend_can_still_deliver(
        api: SandboxApi, receiver: WebhookReceiver) -> None:
    api.add_fault(webhooks="drop", count=1)
    paid(api, "drop-1")
    paid(api, "drop-2")
    receiver.wait_for(lambda got: [d.reference for d in got] == ["drop-2"])
    dropped = next(e for e in api.webhook_log() if e["reference"] == "drop-1")
    assert (dropped["dropped"], dropped["attempts"], dropped["fault"]) == (True, 0, "drop")
    api.control("POST", "/webhooks/resend/drop-1")
    receiver.wait_for(lambda got: [d.reference for d in got] == ["drop-2", "drop-1"])


def test_duplicate_fault_delivers_the_same_event_twice(api: SandboxApi, receiver: WebhookReceiver) -> None:
    api.add_fault(webhooks="duplicate")
    paid(api, "dup-1")
    first, second = receiver.wait_for(lambda got: len(got) == 2)
    assert (first.body, first.signature, first.event_id) == (second.body, second.signature, second.event_id)
    [entry] = [e for e in api.webhook_log() if e["reference"] == "dup-1"]  # late strays of earlier tests aside
    assert entry["deliveries"] == 2


def test_delay_fault_holds_an_event_back(api: SandboxApi, receiver: WebhookReceiver) -> None:
    api.add_fault(webhooks="delay", delay_ms=600)
    started = time.monotonic()
    paid(api, "slow-1")
    paid(api, "fast-1")
    receiver.wait_for(lambda got: [d.reference for d in got] == ["fast-1"])
    receiver.wait_for(lambda got: [d.reference for d in got] == ["fast-1", "slow-1"])
    assert time.monotonic() - started >= 0.55


def test_reorder_fault_delivers_an_event_after_the_next_one(api: SandboxApi, receiver: WebhookReceiver) -> None:
    api.add_fault(webhooks="reorder", count=1, delay_ms=5000)
    paid(api, "first-1")
    paid(api, "second-1")
    got = receiver.wait_for(lambda got: len(got) == 2, timeout=3)
    assert [d.reference for d in got] == ["second-1", "first-1"]


def test_a_reordered_event_is_released_after_its_hold_time_anyway(
        api: SandboxApi, receiver: WebhookReceiver) -> None:
    api.add_fault(webhooks="reorder", delay_ms=300)
    paid(api, "lonely-1")
    receiver.wait_for(lambda got: [d.reference for d in got] == ["lonely-1"], timeout=3)


@pytest.mark.parametrize("spec", [{"webhooks": "explode"}, {"webhooks": "delay", "delay_ms": -1},
                                  {"webhooks": "drop", "count": 0}])
def test_bad_webhook_faults_are_refused(api: SandboxApi, spec: dict[str, object]) -> None:
    response = api.request("POST", "/_sandbox/faults", auth=False, json=spec)
    assert response.status_code == 400
