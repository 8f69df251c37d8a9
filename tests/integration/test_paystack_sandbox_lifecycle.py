"""The Paystack sandbox as a process: state kept across a restart with --store, clean exits on
SIGTERM/SIGINT, and the public SDK pypaystack2 talking to it as if it were Paystack."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypaystack2 import PaystackClient
from pypaystack2.enums import Country, Currency, RecipientType
from pypaystack2.models.response_models import Bank, BankAccountInfo, InitTransaction, Transaction, Transfer

from sandbox.paystack.testing import SandboxApi, WebhookReceiver, sandbox_command
from tests.support.procs import free_port, running, spawn, stop, wait_for_http, wait_until

KEY = "sk_test_sandbox_lifecycle_key"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


def test_state_survives_a_restart_with_store(receiver: WebhookReceiver, tmp_path: Path) -> None:
    port, store = free_port(), tmp_path / "paystack.sqlite3"
    base, env, log = f"http://127.0.0.1:{port}", {"PAYSTACK_SECRET_KEY": KEY}, tmp_path / "sandbox.log"
    api = SandboxApi(base, KEY)
    # First run: slow settlement and a slow retry, so work is still owed when it stops.
    slow = sandbox_command(port, receiver.url, ["--store", str(store), "--transfer-delay", "30",
                                                "--webhook-retry-delays", "30"])
    receiver.fail_next(1)
    with running(slow, f"{base}/healthz", env=env, log_path=log) as first:
        link = api.initialize("keep-unpaid", amount=150_000)["authorization_url"]
        api.initialize("keep-paid")
        paid_at = api.pay("keep-paid")["paid_at"]
        recipient = api.recipient()
        assert api.transfer(recipient, "keep-payout").status_code == 200
        balance = api.balance()
        old_id = api.verify("keep-paid")["id"]
        wait_until(lambda: receiver.deliveries(), timeout=5, message="the first, refused delivery")
    assert first.returncode == 0
    assert receiver.deliveries(accepted_only=True) == []

    fast = sandbox_command(port, receiver.url, ["--store", str(store)])
    with running(fast, f"{base}/healthz", env=env, log_path=log):
        assert api.verify("keep-paid")["paid_at"] == paid_at
        assert api.verify("keep-unpaid")["status"] == "abandoned"
        assert "₦1,500.00" in api.session.get(link, timeout=5).text
        assert api.recipient() == recipient
        assert api.balance() == balance
        # What was owed is finished after the restart: the retry and the pending transfer.
        got = receiver.wait_for(lambda got: len(got) == 2)
        assert sorted(d.event for d in got) == ["charge.success", "transfer.success"]
        assert api.transfer_status("keep-payout") == "success"
        assert api.transfer(recipient, "keep-payout").status_code == 400
        api.initialize("after-restart")
        assert api.verify("after-restart")["id"] > old_id


def test_without_store_a_restart_starts_empty(tmp_path: Path) -> None:
    port = free_port()
    base, api = f"http://127.0.0.1:{port}", SandboxApi(f"http://127.0.0.1:{port}", KEY)
    for _ in range(2):
        with running(sandbox_command(port), f"{base}/healthz", env={"PAYSTACK_SECRET_KEY": KEY}):
            assert api.get("/transaction").json()["meta"]["total"] == 0
            api.initialize("ephemeral")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_process_exits_cleanly_on_a_signal(tmp_path: Path, signum: signal.Signals) -> None:
    port = free_port()
    log = tmp_path / "sandbox.log"
    proc = spawn(sandbox_command(port, None, ["--log-level", "INFO"]), env={"PAYSTACK_SECRET_KEY": KEY},
                 log_path=log)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", proc)
        started = time.monotonic()
        os.kill(proc.pid, signum)
        assert proc.wait(5) == 0
        assert time.monotonic() - started < 3
    finally:
        stop(proc)
    output = log.read_text()
    assert "stopping" in output
    assert "Traceback" not in output
    assert KEY not in output, "the secret key must never be logged"


def test_the_default_key_is_the_dev_only_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAYSTACK_SECRET_KEY", raising=False)
    port = free_port()
    with running(sandbox_command(port), f"http://127.0.0.1:{port}/healthz", log_path=tmp_path / "sandbox.log"):
        dev = SandboxApi(f"http://127.0.0.1:{port}", "sk_test_dev_only_sandbox_key")
        assert dev.get("/bank").status_code == 200
        assert SandboxApi(dev.base_url, KEY).get("/bank").status_code == 401


# --- the public SDK ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sdk_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxApi]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("paystack") / "sandbox.log"
    with running(sandbox_command(port), f"{base}/healthz", env={"PAYSTACK_SECRET_KEY": KEY}, log_path=log):
        yield SandboxApi(base, KEY)


@pytest.fixture
def sdk(sdk_sandbox: SandboxApi) -> PaystackClient:
    client = PaystackClient(secret_key=KEY)
    # pypaystack2 has no base-URL option: each sub-client builds URLs from its `_BASE_URL` attribute.
    for sub_client in (client.transactions, client.transfers, client.transfer_recipients, client.verification,
                       client.miscellaneous):
        sub_client._BASE_URL = sdk_sandbox.base_url
    return client


def test_pypaystack2_initializes_and_verifies_a_transaction(sdk: PaystackClient, sdk_sandbox: SandboxApi) -> None:
    init = sdk.transactions.initialize(amount=250_000, email="sdk@example.com", reference="sdk-ref-1",
                                       currency=Currency.NGN, metadata={"cart": 3})
    assert init.status is True
    assert isinstance(init.data, InitTransaction)
    assert init.data.authorization_url.startswith(f"{sdk_sandbox.base_url}/checkout/")

    pending = sdk.transactions.verify("sdk-ref-1")
    assert isinstance(pending.data, Transaction), "the SDK's model must accept the sandbox's verify data"
    assert pending.data.status == "abandoned"

    sdk_sandbox.pay("sdk-ref-1")
    verified = sdk.transactions.verify("sdk-ref-1")
    assert isinstance(verified.data, Transaction)
    assert (verified.data.status, verified.data.amount, verified.data.reference) == ("success", 250_000, "sdk-ref-1")
    assert verified.data.paid_at is not None
    assert verified.data.metadata == {"cart": 3}

    missing = sdk.transactions.verify("sdk-missing")
    assert missing.status is False
    assert missing.message == "Transaction reference not found"


def test_pypaystack2_pays_out_through_the_sandbox(sdk: PaystackClient, sdk_sandbox: SandboxApi) -> None:
    banks = sdk.miscellaneous.get_banks(country=Country.NIGERIA)
    assert all(isinstance(bank, Bank) for bank in banks.data)
    resolved = sdk.verification.resolve_account_number(account_number="0123456789", bank_code="058")
    assert isinstance(resolved.data, BankAccountInfo)
    recipient = sdk.transfer_recipients.create(type_=RecipientType.NUBAN, name=resolved.data.account_name,
                                               account_number="0123456789", bank_code="058")
    assert recipient.data is not None
    code = recipient.data.recipient_code
    created = sdk.transfers.initiate(amount=100_000, recipient=code, reason="Payout", reference="sdk-payout-1")
    assert isinstance(created.data, Transfer)
    assert created.data.status == "pending"
    wait_until(lambda: sdk_sandbox.transfer_status("sdk-payout-1") == "success", timeout=5, message="settled")
    verified = sdk.transfers.verify("sdk-payout-1")
    assert isinstance(verified.data, Transfer)
    assert verified.data.status == "success"


def test_pypaystack2_accepts_the_sandbox_webhook_signature(tmp_path: Path, receiver: WebhookReceiver) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(sandbox_command(port, receiver.url), f"{base}/healthz", env={"PAYSTACK_SECRET_KEY": KEY}):
        api = SandboxApi(base, KEY)
        api.initialize("sdk-sig")
        api.pay("sdk-sig")
        delivery = receiver.wait_for(lambda got: len(got) == 1)[0]
    client = PaystackClient(secret_key=KEY)
    assert client.is_verified_webhook_payload(delivery.body, delivery.signature)
    assert not PaystackClient(secret_key="sk_test_other").is_verified_webhook_payload(delivery.body,
                                                                                        delivery.signature)
