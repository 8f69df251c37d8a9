"""Mailgun's HTTP API over `requests`: POST {base}/v3/{domain}/messages with basic auth."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import requests

CONNECT_TIMEOUT = 3.05


class MailgunError(Exception):
    pass


class MailgunUnavailable(MailgunError):
    """Worth retrying: network trouble, 429 or 5xx."""


class MailgunRejected(MailgunError):
    """Permanent: Mailgun refused this message (a 4xx other than 429). Retrying cannot help."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class OutgoingMessage:
    sender: str
    to: str
    subject: str
    text: str
    html: str
    tags: Sequence[str] = ()
    variables: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    attachments: Sequence[Attachment] = ()


@dataclass
class MailgunClient:
    api_base: str
    domain: str
    api_key: str
    timeout: float = 10.0
    session: requests.Session = field(default_factory=requests.Session)

    def send(self, message: OutgoingMessage) -> str:
        """Hand one message to Mailgun; returns its message id."""
        data: list[tuple[str, str]] = [
            ("from", message.sender), ("to", message.to), ("subject", message.subject),
            ("text", message.text), ("html", message.html),
            *(("o:tag", tag) for tag in message.tags),
            *((f"v:{name}", value) for name, value in message.variables.items()),
            *((f"h:{name}", value) for name, value in message.headers.items()),
        ]
        files = [("attachment", (a.filename, a.content, a.content_type)) for a in message.attachments]
        try:
            response = self.session.post(
                f"{self.api_base}/v3/{self.domain}/messages", auth=("api", self.api_key), data=data,
                files=files or None, timeout=(CONNECT_TIMEOUT, self.timeout))
        except requests.RequestException as exc:
            raise MailgunUnavailable(f"{type(exc).__name__} talking to Mailgun") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise MailgunUnavailable(f"Mailgun answered {response.status_code}")
        if response.status_code != 200:
            raise MailgunRejected(f"Mailgun answered {response.status_code}: {_message(response)}")
        try:
            return str(response.json()["id"])
        except (ValueError, KeyError, TypeError):
            raise MailgunUnavailable("Mailgun answered 200 without a message id") from None


def _message(response: requests.Response) -> str:
    try:
        return str(response.json().get("message", ""))[:500]
    except ValueError:
        return response.text[:500]
