"""Injected failures and latency for send calls, plus the counters tests assert on."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

MAX_DELAY_MS = 60_000


class FaultConfigError(ValueError):
    """A fault setting that makes no sense; answered as a 400."""


@dataclass(frozen=True)
class SendFault:
    """What the next send call must suffer: a delay first, then possibly a canned error."""

    delay_ms: int = 0
    status: int | None = None
    retry_after: int | None = None

    def body(self) -> dict[str, str]:
        try:
            phrase = HTTPStatus(self.status or 500).phrase
        except ValueError:
            phrase = "Error"
        return {"message": f"{phrase} (injected by the Mailgun sandbox)"}


class Faults:
    """The current fault setting; `count` sends fail, then sends succeed again (the delay stays)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._status: int | None = None
        self._remaining: int | None = None  # None: every send fails until cleared
        self._delay_ms = 0
        self._retry_after: int | None = None

    def configure(self, spec: Any) -> None:
        status, count, delay_ms, retry_after = _parse(spec)
        with self._lock:
            self._status, self._remaining = status, count
            self._delay_ms, self._retry_after = delay_ms, retry_after

    def clear(self) -> None:
        self.configure({})

    def take(self) -> SendFault:
        """The fault for one send call, using up one of the `count` failures."""
        with self._lock:
            if self._status is None or self._remaining == 0:
                return SendFault(self._delay_ms)
            if self._remaining is not None:
                self._remaining -= 1
            return SendFault(self._delay_ms, self._status, self._retry_after)

    def snapshot(self) -> dict[str, int | None]:
        with self._lock:
            active = self._status is not None and self._remaining != 0
            return {
                "status": self._status if active else None,
                "count": self._remaining if active else 0,
                "delay_ms": self._delay_ms,
                "retry_after": self._retry_after if active else None,
            }


def _parse(spec: Any) -> tuple[int | None, int | None, int, int | None]:
    if not isinstance(spec, dict):
        raise FaultConfigError("expected a JSON object such as {\"status\": 503, \"count\": 3}")
    unknown = set(spec) - {"status", "count", "delay_ms", "retry_after"}
    if unknown:
        raise FaultConfigError(f"unknown fault settings: {', '.join(sorted(unknown))}")
    status = _int_or_none(spec, "status", 400, 599)
    count = _int_or_none(spec, "count", 0, 1_000_000)
    delay_ms = _int_or_none(spec, "delay_ms", 0, MAX_DELAY_MS) or 0
    retry_after = _int_or_none(spec, "retry_after", 0, 3600)
    return status, count, delay_ms, retry_after


def _int_or_none(spec: dict[str, Any], name: str, low: int, high: int) -> int | None:
    value = spec.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FaultConfigError(f"'{name}' must be an integer from {low} to {high}")
    return value


class Stats:
    """Counters since start (or the last reset): every send call, and the ones that were stored."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._attempts = 0
        self._stored = 0

    def attempt(self) -> None:
        with self._lock:
            self._attempts += 1

    def stored(self) -> None:
        with self._lock:
            self._stored += 1

    def reset(self) -> None:
        with self._lock:
            self._attempts = self._stored = 0

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return {"send_attempts": self._attempts, "stored": self._stored}
