"""Queue an email: a row in the caller's transaction, a send job after its commit."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from models import db
from models.outbox import Email
from services.jobs import SEND_EMAIL, UnitOfWork
from services.log import request_id_var


def queue_email(uow: UnitOfWork, *, to: str, template: str, context: Mapping[str, Any], tag: str,
                attachments: Sequence[Mapping[str, str]] = ()) -> Email:
    email = Email.create(
        id=db.new_id("eml"),
        to_address=to,
        template=template,
        context=json.dumps(dict(context), sort_keys=True),
        attachments=json.dumps(list(attachments)),
        tag=tag,
        request_id=request_id_var.get(),
    )
    uow.after_commit(SEND_EMAIL, email.id)
    return email
