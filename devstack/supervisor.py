"""Run a set of named child processes, prefix their output, and stop them all together."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_COLOURS = ["36", "33", "35", "32", "34", "31", "96", "93"]


@dataclass
class Child:
    name: str
    command: str
    env: Mapping[str, str]
    proc: subprocess.Popen | None = None


@dataclass
class Supervisor:
    children: list[Child] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    width: int = 10

    def start(self, name: str, command: str, env: Mapping[str, str]) -> Child:
        child = Child(name, command, env)
        # Own process group, so stopping reaches whatever the command itself spawns (gunicorn workers...).
        child.proc = subprocess.Popen(["bash", "-c", f"exec {command}"], env=dict(env), cwd=ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        colour = _COLOURS[len(self.children) % len(_COLOURS)]
        self.children.append(child)
        threading.Thread(target=self._pump, args=(child, colour), daemon=True).start()
        return child

    def say(self, name: str, line: str, colour: str = "1") -> None:
        prefix = f"{name:<{self.width}}|"
        if sys.stdout.isatty():
            prefix = f"\033[{colour}m{prefix}\033[0m"
        with self._lock:
            sys.stdout.write(f"{prefix} {line}\n")
            sys.stdout.flush()

    def _pump(self, child: Child, colour: str) -> None:
        assert child.proc is not None and child.proc.stdout is not None
        for raw in iter(child.proc.stdout.readline, b""):
            self.say(child.name, raw.decode("utf-8", "replace").rstrip(), colour)

    def first_exit(self) -> Child | None:
        """Block until a child exits (returns it) or stop() was asked for (returns None)."""
        while not self.stopping.is_set():
            for child in self.children:
                if child.proc is not None and child.proc.poll() is not None:
                    return child
            time.sleep(0.2)
        return None

    def stop(self, grace_seconds: float = 10.0) -> None:
        self.stopping.set()
        running = [c for c in self.children if c.proc is not None and c.proc.poll() is None]
        for child in reversed(running):
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + grace_seconds
        for child in running:
            assert child.proc is not None
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(child.name, "did not stop in time; killing it")
                _signal_group(child, signal.SIGKILL)
                child.proc.wait(5)


def _signal_group(child: Child, sig: signal.Signals) -> None:
    assert child.proc is not None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.proc.pid, sig)
