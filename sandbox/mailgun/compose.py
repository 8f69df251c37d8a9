"""Validate a send form the way Mailgun does and turn it into a message to store."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from email.utils import parseaddr

from sandbox.mailgun.forms import FormData
from sandbox.mailgun.store import NewMessage, message_key

MISSING_FROM = "'from' parameter is missing"
MISSING_TO = "'to' parameter is missing"
MISSING_BODY = "Need at least one of 'text', 'html' or 'template' parameters specified"
BAD_ADDRESS = "'{field}' parameter is not a valid address. please check documentation"
BAD_RECIPIENT_VARIABLES = "'recipient-variables' parameter is not a valid JSON"


class SendError(ValueError):
    """A send request Mailgun would refuse with 400 and this message."""


def compose(form: FormData, domain: str, now: datetime | None = None) -> NewMessage:
    now = now or datetime.now(UTC)
    sender = form.first("from")
    if sender is None:
        raise SendError(MISSING_FROM)
    to = recipients(form, "to")
    if not to:
        raise SendError(MISSING_TO)
    if not any(form.first(name) for name in ("text", "html", "template")):
        raise SendError(MISSING_BODY)
    cc, bcc = recipients(form, "cc"), recipients(form, "bcc")
    for name, values in (("from", [sender]), ("to", to), ("cc", cc), ("bcc", bcc)):
        _check_addresses(name, values)
    headers = form.with_prefix("h:")
    fields = {
        "from": sender,
        "to": to,
        "cc": cc,
        "bcc": bcc,
        "subject": form.first("subject") or "",
        "text": form.first("text"),
        "html": form.first("html"),
        "template": form.first("template"),
        "tags": form.getall("o:tag"),
        "variables": form.with_prefix("v:"),
        "headers": headers,
        "options": {key: value for key, value in form.with_prefix("o:").items() if key != "tag"},
        "template_variables": form.with_prefix("t:"),
        "recipient_variables": _recipient_variables(form),
    }
    key = _header_message_id(headers) or generate_key(domain, now)
    return NewMessage(key=key, created_at=rfc3339(now), fields=fields, attachments=form.files)


def generate_key(domain: str, now: datetime) -> str:
    return f"{now:%Y%m%d%H%M%S}.{secrets.token_hex(8)}@{domain}"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def recipients(form: FormData, name: str) -> list[str]:
    """Every address of a repeatable field, each value also split on commas outside quotes."""
    return [address for value in form.getall(name) for address in split_addresses(value)]


def split_addresses(value: str) -> list[str]:
    # Not str.split(","): a display name such as "Doe, Jane" <jane@x> holds a comma.
    parts: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    angle = 0
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char in "<>":
            angle += 1 if char == "<" else -1
        elif char == "," and not quoted and angle <= 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def address_of(recipient: str) -> str:
    """The bare lower-cased address of `Name <addr>` or `addr`, for matching."""
    return parseaddr(recipient)[1].strip().lower()


def _check_addresses(name: str, values: list[str]) -> None:
    for value in values:
        address = address_of(value)
        local, _, host = address.rpartition("@")
        if not local or not host:
            raise SendError(BAD_ADDRESS.format(field=name))


def _header_message_id(headers: dict[str, str]) -> str | None:
    for name, value in headers.items():
        if name.lower() == "message-id" and message_key(value):
            return message_key(value)
    return None


def _recipient_variables(form: FormData) -> dict[str, object] | None:
    raw = form.first("recipient-variables")
    if raw is None:
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise SendError(BAD_RECIPIENT_VARIABLES) from None
    if not isinstance(parsed, dict):
        raise SendError(BAD_RECIPIENT_VARIABLES)
    return parsed
