"""Server-rendered HTML (confirmation result, the password-reset form, the docs page)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import falcon
from jinja2 import Environment, FileSystemLoader, select_autoescape

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                   autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)


def render(resp: falcon.Response, template: str, status: int = 200, **context: Any) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_HTML
    resp.text = _env.get_template(template).render(**context)


def wants_html(req: falcon.Request) -> bool:
    return req.client_prefers([falcon.MEDIA_JSON, falcon.MEDIA_HTML]) == falcon.MEDIA_HTML
