"""Fault injection rules set through /_sandbox/faults: errors, latency, webhook and transfer mishaps.

Rules live in memory only (a restart clears them) and are consumed first-in, first-out.
A `count` of -1 keeps a rule active until DELETE /_sandbox/faults.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

ENDPOINTS = frozenset({
    "balance.fetch",
    "bank.list",
    "bank.resolve",
    "transaction.fetch",
    "transaction.initialize",
    "transaction.list",
    "transaction.verify",
    "transfer.create",
    "transfer.fetch",
    "transfer.finalize",
    "transfer.list",
    "transfer.verify",
    "transferrecipient.create",
    "transferrecipient.list",
})
AMOUNT_ENDPOINTS = frozenset({"transaction.verify", "transaction.fetch"})
WEBHOOK_MODES = frozenset({"drop", "duplicate", "delay", "reorder"})
TRANSFER_MODES = frozenset({"fail", "reverse", "otp"})
DEFAULT_WEBHOOK_DELAY_MS = {"delay": 1000, "reorder": 2000}
MAX_DELAY_MS = 120_000


class FaultError(ValueError):
    """A fault specification the sandbox does not understand."""


@dataclass
class Rule:
    id: int
    kind: str  # "endpoint", "webhooks" or "transfers"
    target: str  # an endpoint name or a mode
    remaining: int  # -1: until reset
    status: int | None = None
    delay_ms: int = 0
    amount_delta: int | None = None
    after: bool = False  # apply the call, then answer with `status` anyway
    message: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _int_field(spec: dict[str, Any], name: str, low: int, high: int, default: int | None) -> int | None:
    value = spec.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FaultError(f"{name} must be an integer between {low} and {high}")
    return value


def _count(spec: dict[str, Any]) -> int:
    count = _int_field(spec, "count", -1, 1_000_000, 1)
    if count == 0:
        raise FaultError("count must be positive, or -1 for 'until reset'")
    return count if count is not None else 1


class Faults:
    def __init__(self) -> None:
        self._rules: list[Rule] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(self, spec: dict[str, Any]) -> Rule:
        kinds = [kind for kind in ("endpoint", "webhooks", "transfers") if kind in spec]
        if len(kinds) != 1:
            raise FaultError("give exactly one of 'endpoint', 'webhooks' or 'transfers'")
        builder = {"endpoint": self._endpoint_rule, "webhooks": self._webhook_rule, "transfers": self._transfer_rule}
        rule = builder[kinds[0]](spec)
        with self._lock:
            self._rules.append(rule)
        return rule

    def _endpoint_rule(self, spec: dict[str, Any]) -> Rule:
        endpoint = spec["endpoint"]
        if endpoint not in ENDPOINTS:
            raise FaultError(f"unknown endpoint {endpoint!r}; known: {', '.join(sorted(ENDPOINTS))}")
        status = _int_field(spec, "status", 400, 599, None)
        delay_ms = _int_field(spec, "delay_ms", 0, MAX_DELAY_MS, 0) or 0
        delta = _int_field(spec, "amount_delta", -(10**12), 10**12, None)
        if delta is not None and (status is not None or delay_ms):
            raise FaultError("amount_delta cannot be combined with status or delay_ms")
        if delta is not None and endpoint not in AMOUNT_ENDPOINTS:
            raise FaultError(f"amount_delta only applies to {', '.join(sorted(AMOUNT_ENDPOINTS))}")
        if delta is None and status is None and not delay_ms:
            raise FaultError("an endpoint fault needs status, delay_ms or amount_delta")
        message = spec.get("message")
        if message is not None and not isinstance(message, str):
            raise FaultError("message must be a string")
        return Rule(next(self._ids), "endpoint", endpoint, _count(spec), status=status, delay_ms=delay_ms,
                    amount_delta=delta, after=bool(spec.get("after", False)), message=message)

    def _webhook_rule(self, spec: dict[str, Any]) -> Rule:
        mode = spec["webhooks"]
        if mode not in WEBHOOK_MODES:
            raise FaultError(f"webhooks must be one of {', '.join(sorted(WEBHOOK_MODES))}")
        delay_ms = _int_field(spec, "delay_ms", 0, MAX_DELAY_MS, DEFAULT_WEBHOOK_DELAY_MS.get(mode, 0)) or 0
        return Rule(next(self._ids), "webhooks", mode, _count(spec), delay_ms=delay_ms)

    def _transfer_rule(self, spec: dict[str, Any]) -> Rule:
        mode = spec["transfers"]
        if mode not in TRANSFER_MODES:
            raise FaultError(f"transfers must be one of {', '.join(sorted(TRANSFER_MODES))}")
        return Rule(next(self._ids), "transfers", mode, _count(spec))

    def _take(self, kind: str, match: Callable[[Rule], bool]) -> Rule | None:
        with self._lock:
            for rule in self._rules:
                if rule.kind == kind and match(rule):
                    if rule.remaining > 0:
                        rule.remaining -= 1
                        if rule.remaining == 0:
                            self._rules.remove(rule)
                    return rule
        return None

    def take_request(self, endpoint: str) -> Rule | None:
        """The next error/latency rule for a call to `endpoint`, if any."""
        return self._take("endpoint", lambda r: r.target == endpoint and r.amount_delta is None)

    def take_amount_delta(self, endpoint: str) -> int:
        rule = self._take("endpoint", lambda r: r.target == endpoint and r.amount_delta is not None)
        return rule.amount_delta if rule and rule.amount_delta is not None else 0

    def take_webhook(self) -> Rule | None:
        return self._take("webhooks", lambda r: True)

    def take_transfer(self) -> str | None:
        rule = self._take("transfers", lambda r: True)
        return rule.target if rule else None

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.as_dict() for rule in self._rules]

    def reset(self) -> None:
        with self._lock:
            self._rules.clear()
