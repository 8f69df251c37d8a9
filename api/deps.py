"""What the API needs from the outside world, built once per process and passed in."""

from __future__ import annotations

from dataclasses import dataclass

import redis

from config import Settings
from services.identity import IdentityService
from services.jobs import Dispatcher
from services.payments import PaymentsService
from services.throttle import SlidingWindow
from services.tokens import TokenCodec
from workers.payments.paystack import PaystackClient


@dataclass(frozen=True)
class Deps:
    settings: Settings
    redis: redis.Redis
    dispatcher: Dispatcher
    identity: IdentityService
    payments: PaymentsService
    paystack: PaystackClient


def build_deps(settings: Settings, dispatcher: Dispatcher, client: redis.Redis | None = None) -> Deps:
    client = client or redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    ns = settings.redis_namespace
    identity = IdentityService(
        settings=settings,
        codec=TokenCodec(settings.secret_key, settings.jwt_key_id),
        dispatcher=dispatcher,
        login_failures=SlidingWindow(client, ns, "login", settings.login_max_failures,
                                     settings.login_window_seconds),
        email_requests=SlidingWindow(client, ns, "email", settings.email_requests_per_hour, 3600),
    )
    paystack = PaystackClient(settings.paystack_base_url, settings.paystack_secret_key,
                              timeout=settings.http_timeout_seconds)
    return Deps(settings=settings, redis=client, dispatcher=dispatcher, identity=identity,
                payments=PaymentsService(settings, dispatcher), paystack=paystack)
