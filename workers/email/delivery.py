"""Deliver one outbox row at most once: claim it with a conditional update, send, record.

A second run of the same message finds the row claimed or sent and does nothing. A claim whose
worker died is taken over once its lease runs out; the retry carries the same Message-Id header,
so even a send whose answer was lost reaches the inbox as one message.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

from models import db
from models.outbox import FAILED, PENDING, SENDING, SENT, Email
from workers.email.mailgun import (
    Attachment,
    MailgunClient,
    MailgunRejected,
    MailgunUnavailable,
    OutgoingMessage,
)
from workers.email.render import render

log = logging.getLogger(__name__)
CLAIM_LEASE = dt.timedelta(minutes=5)


class DeliveryDeferred(Exception):
    """Not delivered yet; the actor's retry (with backoff) will try again."""


def deliver(email_id: str, client: MailgunClient, sender: str, media_root: Path) -> str:
    """Returns what happened: sent, failed, or skipped (already done). Raises DeliveryDeferred."""
    if not _claim(email_id):
        return _unclaimable(email_id)
    email = Email.get_by_id(email_id)
    try:
        message = _compose(email, sender, client.domain, media_root)
        message_id = client.send(message)
    except MailgunRejected as exc:
        _finish(email_id, status=FAILED, last_error=str(exc))
        log.error("email rejected permanently", extra={"email_id": email_id, "error": str(exc)})
        return FAILED
    except (MailgunUnavailable, OSError) as exc:
        _finish(email_id, status=PENDING, last_error=str(exc), claimed_at=None)
        raise DeliveryDeferred(str(exc)) from None
    _finish(email_id, status=SENT, provider_message_id=message_id, sent_at=db.utcnow(), last_error=None)
    log.info("email sent", extra={"email_id": email_id, "template": email.template})
    return SENT


def _claim(email_id: str) -> bool:
    now = db.utcnow()
    stale = now - CLAIM_LEASE
    with db.atomic():
        claimed = (Email.update(status=SENDING, attempts=Email.attempts + 1, claimed_at=now, updated_at=now)
                   .where(Email.id == email_id,
                          (Email.status == PENDING) | ((Email.status == SENDING) & (Email.claimed_at < stale)))
                   .execute())
    return claimed == 1


def _unclaimable(email_id: str) -> str:
    email = Email.get_or_none(Email.id == email_id)
    if email is None:
        log.error("email row not found", extra={"email_id": email_id})
        return "skipped"
    if email.status == SENDING:  # another worker holds a live claim; look again after it
        raise DeliveryDeferred("another delivery attempt is in flight")
    return "skipped"


def _finish(email_id: str, status: str, **fields: object) -> None:
    with db.atomic():
        (Email.update(status=status, updated_at=db.utcnow(), **fields)
         .where(Email.id == email_id, Email.status == SENDING).execute())


def _compose(email: Email, sender: str, domain: str, media_root: Path) -> OutgoingMessage:
    rendered = render(email.template, json.loads(email.context))
    return OutgoingMessage(
        sender=sender,
        to=email.to_address,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        tags=[email.tag],
        variables={"email_id": email.id},
        headers={"Message-Id": f"<{email.id}@{domain}>"},
        attachments=[_attachment(item, media_root) for item in json.loads(email.attachments)],
    )


def _attachment(item: dict[str, str], media_root: Path) -> Attachment:
    path = (media_root / item["path"]).resolve()
    if media_root.resolve() not in path.parents:
        raise MailgunRejected(f"attachment outside MEDIA_ROOT: {item['path']}")
    return Attachment(filename=item["filename"], content=path.read_bytes(), content_type=item["content_type"])
