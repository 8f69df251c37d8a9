"""A Paystack sandbox of a test module's own, with a local webhook receiver, reset before each test.

Modules opt in with `pytestmark = pytest.mark.usefixtures("clean_sandbox")` and use the `api` and
`receiver` fixtures (declared in tests/integration/conftest.py from the functions below)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.paystack.testing import SandboxApi, WebhookReceiver, sandbox_command
from tests.support.procs import free_port, running, wait_until

KEY = "sk_test_sandbox_suite_key"


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as server:
        yield server


@pytest.fixture(scope="module")
def api(receiver: WebhookReceiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxApi]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("paystack") / "sandbox.log"
    with running(sandbox_command(port, receiver.url), f"{base}/healthz", env={"PAYSTACK_SECRET_KEY": KEY},
                 log_path=log):
        yield SandboxApi(base, KEY)


@pytest.fixture
def clean_sandbox(api: SandboxApi, receiver: WebhookReceiver) -> Iterator[None]:
    api.reset()
    receiver.clear()
    yield
    # Let the test's own deliveries finish, so none lands in the next test's log or receiver.
    with contextlib.suppress(AssertionError):
        wait_until(lambda: not any(_in_flight(e) for e in api.webhook_log()), timeout=5)


def _in_flight(entry: dict[str, Any]) -> bool:
    return not (entry.get("delivered") or entry.get("gave_up") or entry.get("dropped"))
