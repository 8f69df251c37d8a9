"""How stored messages are shown: JSON items, filters, attachment URLs and download headers."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote

from sandbox.mailgun.compose import address_of
from sandbox.mailgun.store import AttachmentInfo, StoredMessage

_SAFE_CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+(\s*;[\x20-\x7e]*)?$")
_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._ ()+-]")


def message_path(message: StoredMessage) -> str:
    return quote(message.key, safe="@")


def attachment_url(prefix: str, message: StoredMessage, info: AttachmentInfo) -> str:
    return f"{prefix}/api/messages/{message_path(message)}/attachments/{info.index}"


def to_item(message: StoredMessage, prefix: str) -> dict[str, Any]:
    """The JSON shape of /api/messages; `prefix` (scheme://host:port) makes the URLs absolute."""
    return {
        "id": message.id,
        **message.fields,
        "created_at": message.created_at,
        "attachments": [
            {
                "index": info.index,
                "filename": info.filename,
                "content_type": info.content_type,
                "size": info.size,
                "sha256": info.sha256,
                "disposition": info.disposition,
                "url": attachment_url(prefix, message, info),
            }
            for info in message.attachments
        ],
    }


def select(messages: list[StoredMessage], to: str | None = None, tag: str | None = None,
           limit: int | None = None) -> list[StoredMessage]:
    """Filter by any recipient (to, cc or bcc) and by tag, both case-insensitive."""
    if to:
        wanted = address_of(to) or to.strip().lower()
        messages = [m for m in messages if wanted in _recipient_addresses(m)]
    if tag:
        wanted_tag = tag.strip().lower()
        messages = [m for m in messages if wanted_tag in (t.lower() for t in m.fields.get("tags", []))]
    return messages[:limit] if limit else messages


def _recipient_addresses(message: StoredMessage) -> set[str]:
    fields = message.fields
    return {address_of(r) for name in ("to", "cc", "bcc") for r in fields.get(name) or []}


def safe_content_type(content_type: str) -> str:
    """A stored type goes back out as a header: anything odd becomes a plain download."""
    return content_type if _SAFE_CONTENT_TYPE.match(content_type) else "application/octet-stream"


def content_disposition(filename: str) -> str:
    """`attachment; filename="..."` with an ASCII-only, quote-free name (plus RFC 5987 for the real one)."""
    base = re.split(r"[/\\]", filename)[-1]
    ascii_name = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode()
    fallback = _UNSAFE_FILENAME_CHARS.sub("_", ascii_name).strip(" .") or "attachment"
    header = f'attachment; filename="{fallback}"'
    if base and fallback != base:
        header += f"; filename*=UTF-8''{quote(base, safe='')}"
    return header
