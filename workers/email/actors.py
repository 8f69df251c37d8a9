"""The `send_email` actor: delivers one outbox row by id."""

from __future__ import annotations

import functools

import dramatiq

from models import db
from services.jobs import SEND_EMAIL
from workers import runtime
from workers.email.delivery import deliver
from workers.email.mailgun import MailgunClient

_settings = runtime.settings()


@functools.cache
def _client() -> MailgunClient:
    return MailgunClient(api_base=_settings.mailgun_api_base, domain=_settings.mailgun_domain,
                         api_key=_settings.mailgun_api_key, timeout=_settings.http_timeout_seconds)


@dramatiq.actor(actor_name=SEND_EMAIL.actor, queue_name=SEND_EMAIL.queue,
                max_retries=_settings.email_max_retries, min_backoff=_settings.email_min_backoff_ms,
                max_backoff=_settings.email_max_backoff_ms)
def send_email(email_id: str) -> None:
    with db.connection():
        deliver(email_id, _client(), _settings.mail_from, _settings.media_root)
