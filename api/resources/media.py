"""GET /media/{kind}/{name}: uploaded product images and thumbnails, public and immutable.

Only the storage's own kinds and generated names are served (anything else is a 404 before the
file system is touched), so private files under MEDIA_ROOT (receipts) are never reachable here.
"""

from __future__ import annotations

import falcon

from api.spec import operation
from services.errors import NotFound
from services.storage import OpenedFile, storage_for

TAGS = ("media",)
# A stored name never changes content: caches may keep it for a year without asking again.
CACHE_CONTROL = "public, max-age=31536000, immutable"


class MediaFile:
    @operation("A product image or thumbnail (public, cacheable forever)", tags=TAGS,
               responses={200: ("image/webp", "The image (image/jpeg or image/png for other stored formats)"),
                          304: None},
               errors={404: ["not_found"]})
    def on_get(self, req: falcon.Request, resp: falcon.Response, kind: str, name: str) -> None:
        opened = storage_for(req.context.deps.settings).open(kind, name)
        if opened is None:
            raise NotFound("No such file.")
        _headers(resp, opened)
        if _matches(req.get_header("If-None-Match"), opened.etag):
            opened.stream.close()
            resp.status = 304
            return
        resp.content_type = opened.content_type
        resp.set_stream(opened.stream, opened.size)


def _headers(resp: falcon.Response, opened: OpenedFile) -> None:
    resp.set_header("ETag", opened.etag)
    resp.set_header("Cache-Control", CACHE_CONTROL)
    resp.set_header("X-Content-Type-Options", "nosniff")
    resp.set_header("Content-Security-Policy", "default-src 'none'; sandbox")
    resp.set_header("Cross-Origin-Resource-Policy", "cross-origin")  # storefronts on other origins embed them


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison, as If-None-Match requires."""
    if not if_none_match:
        return False
    candidates = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


ROUTES = [("/media/{kind}/{name}", MediaFile())]
