"""Emails are rows first: written in the transaction that causes them, sent after commit."""

from __future__ import annotations

import peewee as pw

from models.db import BaseModel

PENDING, SENDING, SENT, FAILED = "pending", "sending", "sent", "failed"


class Email(BaseModel):
    id = pw.CharField(primary_key=True, max_length=40)
    to_address = pw.CharField(max_length=254)
    template = pw.CharField(max_length=64)
    context = pw.TextField(default="{}")  # JSON, rendered at send time
    attachments = pw.TextField(default="[]")  # JSON list of {filename, path, content_type}
    tag = pw.CharField(max_length=64)
    status = pw.CharField(max_length=16, default=PENDING)
    attempts = pw.IntegerField(default=0)
    claimed_at = pw.DateTimeField(null=True)
    sent_at = pw.DateTimeField(null=True)
    provider_message_id = pw.CharField(max_length=255, null=True)
    last_error = pw.TextField(null=True)
    request_id = pw.CharField(max_length=64, null=True)

    class Meta:
        table_name = "emails"
        indexes = ((("status", "updated_at"), False),)
        constraints = [pw.Check("status IN ('pending', 'sending', 'sent', 'failed')")]
