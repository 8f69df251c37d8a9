"""The error answers Paystack gives: `{"status": false, "message": ...}` plus, for some, meta/type/code."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, message: str, *, code: str | None = None, type_: str | None = None,
                 next_step: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.type = type_
        self.next_step = next_step

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": False, "message": self.message}
        if self.next_step:
            body["meta"] = {"nextStep": self.next_step}
        if self.type:
            body["type"] = self.type
        if self.code:
            body["code"] = self.code
        return body


def validation(message: str, code: str | None = None, next_step: str | None = None) -> ApiError:
    return ApiError(400, message, code=code, type_="validation_error", next_step=next_step)


def not_found(message: str, status: int = 404) -> ApiError:
    return ApiError(status, message, type_="validation_error")
