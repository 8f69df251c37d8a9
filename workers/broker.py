"""The Dramatiq broker on Redis, shared by the API (to enqueue) and the worker (to consume)."""

from __future__ import annotations

import contextvars
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

from config import Settings
from services.log import request_id_var


class RequestIdMiddleware(Middleware):
    """Carries the request id that caused a message into the logs of the actor that runs it."""

    _tokens: contextvars.ContextVar[Any] = contextvars.ContextVar("request_id_token", default=None)

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        self._tokens.set(request_id_var.set(message.options.get("request_id")))

    def after_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message, *,
                              result: Any = None, exception: BaseException | None = None) -> None:
        token = self._tokens.get()
        if token is not None:
            request_id_var.reset(token)
            self._tokens.set(None)

    after_skip_message = after_process_message


def make_broker(settings: Settings) -> RedisBroker:
    broker = RedisBroker(url=settings.redis_url, namespace=f"{settings.redis_namespace}-dramatiq",
                         socket_timeout=10, socket_connect_timeout=5,
                         heartbeat_timeout=settings.broker_heartbeat_timeout_ms,
                         maintenance_chance=settings.broker_maintenance_chance)
    broker.add_middleware(RequestIdMiddleware())
    return broker
