"""Fault controls of the Paystack sandbox: HTTP errors, latency (with the call still taking effect),
transfers that fail, reverse or need an OTP, and verify reporting a different amount."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from sandbox.paystack.testing import SandboxApi, WebhookReceiver
from tests.support.procs import wait_until

pytestmark = pytest.mark.usefixtures("clean_sandbox")


# --- HTTP errors -------------------------------------------------------------------------------


def test_error_fault_fails_the_next_calls_then_clears_itself(api: SandboxApi) -> None:
    api.initialize("err-1")
    rule = api.add_fault(endpoint="transaction.verify", status=500, count=2)
    assert rule["remaining"] == 2
    statuses = [api.get("/transaction/verify/err-1").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert api.control("GET", "/faults") == []


def test_error_fault_answers_in_paystack_envelope(api: SandboxApi) -> None:
    api.add_fault(endpoint="bank.resolve", status=503, message="Service temporarily unavailable")
    response = api.get("/bank/resolve", params={"account_number": "0123456789", "bank_code": "058"})
    assert response.status_code == 503
    assert response.json() == {"status": False, "message": "Service temporarily unavailable"}


def test_a_429_fault_says_when_to_retry(api: SandboxApi) -> None:
    api.add_fault(endpoint="bank.list", status=429)
    response = api.get("/bank")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"


def test_an_error_fault_only_hits_its_endpoint(api: SandboxApi) -> None:
    api.add_fault(endpoint="transfer.verify", status=500, count=-1)
    api.initialize("other-endpoint")
    assert api.get("/transaction/verify/other-endpoint").status_code == 200
    assert api.get("/transfer/verify/anything").status_code == 500
    assert api.get("/transfer/verify/anything").status_code == 500  # -1: until reset
    api.request("DELETE", "/_sandbox/faults", auth=False).raise_for_status()
    assert api.get("/transfer/verify/anything").status_code == 404


def test_an_error_fault_stops_the_call_from_taking_effect(api: SandboxApi) -> None:
    recipient = api.recipient()
    api.add_fault(endpoint="transfer.create", status=500)
    assert api.transfer(recipient, "err-before").status_code == 500
    assert api.transfer_status("err-before") is None
    assert api.transfer(recipient, "err-before").status_code == 200, "a retry with the same reference works"


def test_an_error_after_the_effect_must_be_resolved_by_verifying(api: SandboxApi) -> None:
    recipient = api.recipient()
    api.add_fault(endpoint="transfer.create", status=502, after=True)
    assert api.transfer(recipient, "err-after").status_code == 502
    wait_until(lambda: api.transfer_status("err-after") == "success", timeout=5, message="transfer settled")
    assert api.transfer(recipient, "err-after").status_code == 400, "resending is refused, not repeated"
    assert api.get("/transfer").json()["meta"]["total"] == 1


def test_unauthenticated_calls_do_not_use_up_a_fault(api: SandboxApi) -> None:
    api.add_fault(endpoint="bank.list", status=500)
    assert api.get("/bank", auth=False).status_code == 401
    assert api.get("/bank").status_code == 500


# --- latency -------------------------------------------------------------------------------------


def test_a_slow_call_still_takes_effect_after_the_client_gave_up(api: SandboxApi) -> None:
    recipient = api.recipient()
    api.add_fault(endpoint="transfer.create", delay_ms=1200)
    with pytest.raises(requests.Timeout):
        api.transfer(recipient, "slow-payout", timeout=0.3)
    # The right recovery is to verify by reference until the transfer shows up, never to resend.
    wait_until(lambda: api.transfer_status("slow-payout") is not None, timeout=5, message="late transfer")
    assert api.transfer(recipient, "slow-payout").status_code == 400
    assert api.get("/transfer").json()["meta"]["total"] == 1


def test_latency_fault_delays_only_the_chosen_number_of_calls(api: SandboxApi) -> None:
    api.add_fault(endpoint="transaction.initialize", delay_ms=700, count=1)
    started = time.monotonic()
    api.initialize("slow-init")
    assert time.monotonic() - started >= 0.68
    started = time.monotonic()
    api.initialize("fast-init")
    assert time.monotonic() - started < 0.5


def test_a_slow_call_does_not_block_other_calls(api: SandboxApi) -> None:
    api.add_fault(endpoint="bank.list", delay_ms=1500)
    with pytest.raises(requests.Timeout):
        api.get("/bank", timeout=0.2)
    started = time.monotonic()
    assert api.get("/healthz", auth=False).status_code == 200
    assert time.monotonic() - started < 0.5


def test_latency_and_error_together(api: SandboxApi) -> None:
    api.add_fault(endpoint="bank.list", delay_ms=300, status=504)
    started = time.monotonic()
    assert api.get("/bank").status_code == 504
    assert time.monotonic() - started >= 0.28


# --- verify amount --------------------------------------------------------------------------------


def test_verify_can_report_a_different_amount_once(api: SandboxApi, receiver: WebhookReceiver) -> None:
    api.initialize("short-1", amount=500_000)
    api.pay("short-1")
    api.add_fault(endpoint="transaction.verify", amount_delta=-100)
    assert api.verify("short-1")["amount"] == 499_900
    assert api.verify("short-1")["amount"] == 500_000
    assert receiver.wait_for(lambda got: len(got) == 1)[0].payload["data"]["amount"] == 500_000


# --- transfers -----------------------------------------------------------------------------------


def test_a_failing_transfer_sends_transfer_failed_and_refunds(api: SandboxApi, receiver: WebhookReceiver) -> None:
    recipient = api.recipient()
    before = api.balance()
    api.add_fault(transfers="fail")
    assert api.transfer(recipient, "will-fail").json()["data"]["status"] == "pending"
    got = receiver.wait_for(lambda got: len(got) == 1)
    assert got[0].event == "transfer.failed"
    assert got[0].payload["data"]["status"] == "failed"
    assert api.transfer_status("will-fail") == "failed"
    assert api.balance() == before
    api.transfer(recipient, "next-one")
    assert receiver.wait_for(lambda got: len(got) == 2)[1].event == "transfer.success"


def test_a_reversed_transfer_succeeds_first_then_reverses(api: SandboxApi, receiver: WebhookReceiver) -> None:
    recipient = api.recipient()
    before = api.balance()
    api.add_fault(transfers="reverse")
    api.transfer(recipient, "will-reverse")
    got = receiver.wait_for(lambda got: len(got) == 2)
    assert [d.event for d in got] == ["transfer.success", "transfer.reversed"]
    assert got[1].payload["data"]["status"] == "reversed"
    assert api.transfer_status("will-reverse") == "reversed"
    assert api.balance() == before


def test_an_otp_transfer_waits_for_finalize(api: SandboxApi, receiver: WebhookReceiver) -> None:
    recipient = api.recipient()
    api.add_fault(transfers="otp")
    created = api.transfer(recipient, "needs-otp").json()
    assert created["message"] == "Transfer requires OTP to continue"
    assert created["data"]["status"] == "otp"
    time.sleep(0.3)
    assert api.transfer_status("needs-otp") == "otp"
    code = created["data"]["transfer_code"]
    wrong = api.post("/transfer/finalize_transfer", {"transfer_code": code, "otp": "000000"})
    assert wrong.status_code == 400
    right = api.post("/transfer/finalize_transfer", {"transfer_code": code, "otp": "123456"})
    assert right.status_code == 200
    assert receiver.wait_for(lambda got: len(got) == 1)[0].event == "transfer.success"
    again = api.post("/transfer/finalize_transfer", {"transfer_code": code, "otp": "123456"})
    assert again.status_code == 400


def test_otp_mode_until_reset(api: SandboxApi) -> None:
    recipient = api.recipient()
    api.add_fault(transfers="otp", count=-1)
    statuses = [api.transfer(recipient, f"otp-{i}").json()["data"]["status"] for i in range(3)]
    assert statuses == ["otp", "otp", "otp"]


# --- the fault API itself ---------------------------------------------------------------------


@pytest.mark.parametrize("spec", [
    {"endpoint": "transaction.nope", "status": 500},
    {"endpoint": "transaction.verify"},
    {"endpoint": "transaction.verify", "status": 200},
    {"endpoint": "transaction.verify", "amount_delta": -1, "status": 500},
    {"endpoint": "transfer.create", "amount_delta": -1},
    {"endpoint": "bank.list", "delay_ms": 10_000_000},
    {"transfers": "explode"},
    {"endpoint": "bank.list", "transfers": "fail"},
    {},
])
def test_bad_fault_specs_are_refused(api: SandboxApi, spec: dict[str, Any]) -> None:
    response = api.request("POST", "/_sandbox/faults", auth=False, json=spec)
    assert response.status_code == 400
    assert response.json()["status"] is False
    assert api.control("GET", "/faults") == []


def test_faults_are_listed_and_reset(api: SandboxApi) -> None:
    api.add_fault(endpoint="bank.list", status=500, count=3)
    api.add_fault(webhooks="drop")
    api.add_fault(transfers="reverse", count=2)
    listed = api.control("GET", "/faults")
    assert [(f["kind"], f["target"], f["remaining"]) for f in listed] == [
        ("endpoint", "bank.list", 3), ("webhooks", "drop", 1), ("transfers", "reverse", 2)]
    assert api.control("DELETE", "/faults") == []
    assert api.control("GET", "/faults") == []
