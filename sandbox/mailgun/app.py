"""The WSGI app: routes for the emulated Mailgun API, the inbox pages and the sandbox controls."""

from __future__ import annotations

from typing import Any

import falcon

from sandbox.mailgun import api, pages
from sandbox.mailgun.faults import Faults, Stats
from sandbox.mailgun.send import SendResource, Settings
from sandbox.mailgun.store import MessageStore


def _serialize_error(req: falcon.Request, resp: falcon.Response, exc: falcon.HTTPError) -> None:
    # Mailgun-style {"message": ...} for falcon's own errors too (bad JSON, unknown route, ...).
    text = exc.title if not exc.description else f"{exc.title}: {exc.description}"
    resp.content_type = falcon.MEDIA_JSON
    resp.media = {"message": text}


def create_app(settings: Settings, store: MessageStore, faults: Faults | None = None,
               stats: Stats | None = None) -> falcon.App:
    faults = faults or Faults()
    stats = stats or Stats()
    app = falcon.App()
    app.set_error_serializer(_serialize_error)
    env = pages.make_environment()
    routes: list[tuple[str, Any]] = [
        ("/v3/{domain}/messages", SendResource(settings, store, faults, stats)),
        ("/", pages.InboxPage(store, env, settings.domain)),
        ("/messages/{message_id}", pages.MessagePage(store, env, settings.domain)),
        ("/api/messages", api.MessagesResource(store)),
        ("/api/messages/{message_id}", api.MessageResource(store)),
        ("/api/messages/{message_id}/attachments/{index:int(min=0)}", api.AttachmentResource(store)),
        ("/api/faults", api.FaultsResource(faults)),
        ("/api/stats", api.StatsResource(stats, store)),
        ("/healthz", api.HealthResource()),
    ]
    for template, resource in routes:
        app.add_route(template, resource)
    return app
