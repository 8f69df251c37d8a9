"""Receiving one file from a `multipart/form-data` body, streamed to an anonymous temp file.

Multipart bodies have their own limit (the file limit plus room for the form's framing), not
`max_body_bytes`: it is checked on Content-Length before a byte is read, and the file part is
counted again while it streams, so a lying or chunked client is cut off at the limit too. The
body is read in fixed-size chunks straight to disk: it is never held in memory, let alone twice.
The client's filename is never used (nothing it says reaches the file system).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import falcon
from falcon.media.multipart import MultipartFormHandler, MultipartParseOptions

from api.errors import ApiError

MULTIPART = "multipart/form-data"
FORM_OVERHEAD_BYTES = 64 * 1024  # boundaries and part headers around the file
CHUNK_BYTES = 64 * 1024


def _handler() -> MultipartFormHandler:
    options = MultipartParseOptions()
    options.max_body_part_count = 4  # one file, and little room for anything else
    options.max_body_part_headers_size = 8 * 1024
    options.max_secure_filename_length = 255
    return MultipartFormHandler(options)


_FORM = _handler()


@contextlib.contextmanager
def received_file(req: falcon.Request, field: str, max_bytes: int, scratch_dir: Path) -> Iterator[BinaryIO]:
    """The `field` part of the body as a readable temp file (deleted on exit, even after a crash:
    it is unlinked from the start). Raises 411, 413, 415, 400 or 422 problems."""
    length = _checked_length(req, max_bytes + FORM_OVERHEAD_BYTES)
    scratch_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=scratch_dir) as spool:
        _receive(req, length, field, max_bytes, spool)
        spool.seek(0)
        yield spool


def _checked_length(req: falcon.Request, limit: int) -> int:
    media_type = (req.content_type or "").split(";")[0].strip().lower()
    if media_type != MULTIPART:
        raise ApiError(415, "unsupported_media_type", "Unsupported media type",
                       f"Send the file as {MULTIPART} with a part named `file`.")
    length = req.content_length
    if length is None:
        raise ApiError(411, "length_required", "Length required", "Send a Content-Length header.")
    if length > limit:
        raise _too_large("body_too_large", f"The body limit for uploads is {limit} bytes.")
    return length


def _receive(req: falcon.Request, length: int, field: str, max_bytes: int, spool: BinaryIO) -> None:
    found = False
    try:
        for part in _FORM.deserialize(req.bounded_stream, req.content_type, length):
            if part.name != field:
                raise _field_error(part.name or "(unnamed part)", "unknown field")
            if found:
                raise _field_error(field, "send exactly one file")
            _copy(part.stream, spool, max_bytes)
            found = True
    except (falcon.MediaMalformedError, falcon.HTTPInvalidHeader, falcon.errors.DelimiterError):
        raise ApiError(400, "invalid_multipart", "Malformed multipart body",
                       "The body is not a complete multipart/form-data form.") from None
    if not found:
        raise _field_error(field, "is required")


def _copy(stream: BinaryIO, spool: BinaryIO, max_bytes: int) -> None:
    received = 0
    while chunk := stream.read(CHUNK_BYTES):
        received += len(chunk)
        if received > max_bytes:
            raise _too_large("file_too_large", f"Files may be at most {max_bytes} bytes.")
        spool.write(chunk)


def _too_large(code: str, detail: str) -> ApiError:
    return ApiError(413, code, "Request body too large", detail)


def _field_error(field: str, message: str) -> ApiError:
    return ApiError(422, "validation_error", "Validation failed", "The request form has invalid fields.",
                    errors=[{"field": field, "message": message}])
