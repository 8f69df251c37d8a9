"""Start real processes (servers, workers) for tests and stop exactly those, by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import requests

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Callable[[], object], timeout: float = 15.0, interval: float = 0.05,
               message: str = "condition") -> object:
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


def wait_for_http(url: str, proc: subprocess.Popen | None = None, timeout: float = 20.0) -> None:
    def up() -> bool:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before {url} answered")
        try:
            return requests.get(url, timeout=1).status_code < 500
        except requests.RequestException:
            return False

    wait_until(up, timeout=timeout, message=url)


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM the process group we created, then SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def spawn(args: Sequence[str], env: Mapping[str, str] | None = None, log_path: Path | None = None,
          cwd: Path = PROJECT_ROOT) -> subprocess.Popen:
    """Start a process in its own group so that stop() reaches its children too."""
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    full_env = {**os.environ, **(env or {})}
    return subprocess.Popen(list(args), env=full_env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                            start_new_session=True)


@contextlib.contextmanager
def running(args: Sequence[str], health_url: str, env: Mapping[str, str] | None = None,
            log_path: Path | None = None, timeout: float = 20.0) -> Iterator[subprocess.Popen]:
    proc = spawn(args, env=env, log_path=log_path)
    try:
        wait_for_http(health_url, proc, timeout=timeout)
        yield proc
    finally:
        stop(proc)


class NoJobs:
    """A dispatcher that sends nothing: for tests that run the job's code themselves, in-process,
    and must not race a real worker for it."""

    def dispatch(self, job: object, *args: object) -> None:
        pass
