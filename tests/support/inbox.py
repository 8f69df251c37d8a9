"""Read what the Mailgun sandbox received."""

from __future__ import annotations

import re
from typing import Any

import requests

from tests.support.procs import wait_until

_LINK = re.compile(r"https?://[^\s\"'<>]+")


def messages(mailgun_url: str, to: str | None = None, tag: str | None = None) -> list[dict[str, Any]]:
    params = {key: value for key, value in {"to": to, "tag": tag}.items() if value}
    response = requests.get(f"{mailgun_url}/api/messages", params=params, timeout=5)
    response.raise_for_status()
    return response.json()["items"]


def wait_for_message(mailgun_url: str, to: str, tag: str, timeout: float = 20.0) -> dict[str, Any]:
    found = wait_until(lambda: messages(mailgun_url, to=to, tag=tag), timeout=timeout,
                       message=f"a {tag!r} email to {to}")
    return found[0]


def link(message: dict[str, Any], path: str) -> str:
    """The first link to `path` in the text part; asserts the HTML part carries it too."""
    links = [url for url in _LINK.findall(message["text"]) if path in url]
    assert links, f"no link to {path} in the text part"
    assert links[0].replace("&", "&amp;") in message["html"] or links[0] in message["html"]
    return links[0]
