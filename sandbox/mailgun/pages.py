"""The HTML inbox a developer reads: GET / and GET /messages/{id}."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import falcon
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from sandbox.mailgun.store import MessageStore
from sandbox.mailgun.views import message_path, select, to_item

TEMPLATES = Path(__file__).resolve().parent / "templates"

# Inherited by the srcdoc iframe too: no script runs anywhere, email images and styles still load.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src * data:; font-src * data:; "
       "form-action 'self'; frame-ancestors 'none'")

_CID = re.compile(r"cid:([^\"'\s)>]+)", re.IGNORECASE)


def _when(created_at: str) -> str:
    return datetime.fromisoformat(created_at).strftime("%Y-%m-%d %H:%M:%S UTC")


def _filesize(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def make_environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined)
    env.filters["when"] = _when
    env.filters["filesize"] = _filesize
    return env


def html_srcdoc(item: dict[str, Any]) -> str:
    """The HTML part as iframe content: links open in a new tab, cid: images point at the inline parts."""
    inline = {a["filename"]: a["url"] for a in item["attachments"] if a["disposition"] == "inline"}
    html = _CID.sub(lambda m: inline.get(m.group(1), m.group(0)), item["html"] or "")
    return '<base target="_blank">' + html


class _Page:
    def __init__(self, store: MessageStore, env: Environment, domain: str) -> None:
        self._store = store
        self._env = env
        self._domain = domain

    def _render(self, resp: falcon.Response, template: str, **context: Any) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.set_header("Content-Security-Policy", CSP)
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.text = self._env.get_template(template).render(domain=self._domain, **context)


class InboxPage(_Page):
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        to, tag = req.get_param("to"), req.get_param("tag")
        items = [{**to_item(m, req.prefix), "path": message_path(m)}
                 for m in select(self._store.list(), to, tag)]
        self._render(resp, "inbox.html", items=items, to=to, tag=tag)


class MessagePage(_Page):
    def on_get(self, req: falcon.Request, resp: falcon.Response, message_id: str) -> None:
        message = self._store.get(message_id)
        if message is None:
            resp.status = 404
            self._render(resp, "not_found.html", message_id=message_id)
            return
        item = {**to_item(message, req.prefix), "path": message_path(message)}
        self._render(resp, "message.html", item=item, srcdoc=html_srcdoc(item))
