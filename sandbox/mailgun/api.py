"""The sandbox's own JSON endpoints (no auth, outside /v3/): inbox listing, faults, stats, health."""

from __future__ import annotations

import falcon

from sandbox.mailgun.faults import FaultConfigError, Faults, Stats
from sandbox.mailgun.store import MessageStore
from sandbox.mailgun.views import content_disposition, safe_content_type, select, to_item


def not_found(resp: falcon.Response, message: str) -> None:
    resp.status = 404
    resp.media = {"message": message}


class MessagesResource:
    def __init__(self, store: MessageStore) -> None:
        self._store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        limit = req.get_param_as_int("limit", min_value=1)
        messages = select(self._store.list(), req.get_param("to"), req.get_param("tag"), limit)
        resp.media = {"items": [to_item(message, req.prefix) for message in messages]}

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"deleted": self._store.clear()}


class MessageResource:
    def __init__(self, store: MessageStore) -> None:
        self._store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response, message_id: str) -> None:
        message = self._store.get(message_id)
        if message is None:
            not_found(resp, f"Message not found: {message_id}")
            return
        resp.media = to_item(message, req.prefix)


class AttachmentResource:
    def __init__(self, store: MessageStore) -> None:
        self._store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response, message_id: str, index: int) -> None:
        found = self._store.attachment(message_id, index)
        if found is None:
            not_found(resp, f"Attachment not found: {message_id} #{index}")
            return
        info, data = found
        resp.content_type = safe_content_type(info.content_type)
        resp.set_header("Content-Disposition", content_disposition(info.filename))
        # An attachment is whatever the app sent: never let the browser run or sniff it as a page.
        resp.set_header("X-Content-Type-Options", "nosniff")
        resp.set_header("Content-Security-Policy", "sandbox")
        resp.data = data


class FaultsResource:
    def __init__(self, faults: Faults) -> None:
        self._faults = faults

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._faults.snapshot()

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        try:
            self._faults.configure(req.get_media())
        except FaultConfigError as exc:
            resp.status = 400
            resp.media = {"message": str(exc)}
            return
        resp.media = self._faults.snapshot()

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._faults.clear()
        resp.media = self._faults.snapshot()


class StatsResource:
    def __init__(self, stats: Stats, store: MessageStore) -> None:
        self._stats = stats
        self._store = store

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {**self._stats.snapshot(), "inbox": self._store.count()}

    def on_delete(self, req: falcon.Request, resp: falcon.Response) -> None:
        self._stats.reset()
        resp.media = {**self._stats.snapshot(), "inbox": self._store.count()}


class HealthResource:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = {"status": "ok"}
