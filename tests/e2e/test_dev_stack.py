"""The Procfile stack over HTTP, started the way a developer starts it (python -m devstack):
register → confirmation email in the Mailgun sandbox → click → welcome email → login → me."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support import inbox
from tests.support.procs import PYTHON, free_port, spawn, stop, wait_for_http

pytestmark = pytest.mark.e2e


@pytest.fixture
def dev_stack(tmp_path: Path, stack) -> Iterator[dict[str, str]]:
    ports = {name: free_port() for name in ("api", "mailgun", "paystack", "redis")}
    env = {key: value for key, value in stack.env.items()
           if key in ("APP_ENV", "DATABASE_URL", "REDIS_URL", "REDIS_NAMESPACE", "SECRET_KEY")}
    env["PUBLIC_BASE_URL"] = f"http://127.0.0.1:{ports['api']}"
    env["REDIS_NAMESPACE"] += "-e2e"  # its own queues: the suite's worker must not take its jobs
    if "DATABASE_URL" not in os.environ:  # on SQLite the stack makes its own file, as in development
        env.pop("DATABASE_URL")
    proc = spawn([PYTHON, "-m", "devstack", "--data", str(tmp_path / "var"), "--port", str(ports["api"]),
                  "--mailgun-port", str(ports["mailgun"]), "--paystack-port", str(ports["paystack"]),
                  "--redis-port", str(ports["redis"])], env=env, log_path=stack.logs / "devstack.log")
    urls = {"api": env["PUBLIC_BASE_URL"], "mailgun": f"http://127.0.0.1:{ports['mailgun']}"}
    try:
        wait_for_http(f"{urls['api']}/v1/health", proc, timeout=60)
        yield urls
    finally:
        stop_gracefully(proc)


def stop_gracefully(proc: subprocess.Popen) -> None:
    """Ctrl-C, as a developer would: the stack must stop every child and exit on its own."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        deadline = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
    stop(proc)


def test_signup_walkthrough_on_the_procfile_stack(dev_stack):
    api, mailgun = dev_stack["api"], dev_stack["mailgun"]
    assert requests.get(f"{api}/v1/health", timeout=5).json()["checks"] == {"database": "ok", "broker": "ok"}
    assert requests.get(f"{api}/docs", timeout=5).status_code == 200

    email, password = "e2e@example.com", "e2e-password-123"
    created = requests.post(f"{api}/v1/auth/register", timeout=10,
                            json={"email": email, "password": password, "full_name": "End To End"})
    assert created.status_code == 201, created.text

    confirmation = inbox.wait_for_message(mailgun, email, "confirmation", timeout=30)
    link = inbox.link(confirmation, "/v1/auth/confirm?token=")
    assert link.startswith(f"{api}/v1/auth/confirm?token=")
    clicked = requests.get(link, headers={"Accept": "text/html"}, timeout=10)
    assert clicked.status_code == 200 and "confirmed" in clicked.text

    inbox.wait_for_message(mailgun, email, "welcome", timeout=30)
    tokens = requests.post(f"{api}/v1/auth/login", json={"email": email, "password": password}, timeout=10)
    assert tokens.status_code == 200, tokens.text
    me = requests.get(f"{api}/v1/me", timeout=10,
                      headers={"Authorization": f"Bearer {tokens.json()['access_token']}"})
    assert me.status_code == 200 and me.json()["email_confirmed"] is True
