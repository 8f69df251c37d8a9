"""Turn a send request's body (url-encoded or multipart) into ordered fields and file parts."""

from __future__ import annotations

import io
import mimetypes
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import falcon
from falcon.media.multipart import BodyPart, MultipartFormHandler, MultipartParseError

from sandbox.mailgun.store import NewAttachment

FILE_FIELDS = frozenset({"attachment", "inline"})
_MAX_FORM_PARTS = 1000


class FormError(ValueError):
    """The body could not be read as a form; answered as a 400."""


@dataclass
class FormData:
    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[NewAttachment] = field(default_factory=list)

    def getall(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key == name]

    def first(self, name: str) -> str | None:
        """The first non-blank value: Mailgun treats a blank parameter as a missing one."""
        return next((value for value in self.getall(name) if value.strip()), None)

    def with_prefix(self, prefix: str) -> dict[str, str]:
        """`h:X-Foo` style fields as {"X-Foo": value}; a repeated name keeps its last value."""
        return {key[len(prefix):]: value for key, value in self.fields if key.startswith(prefix)}


def parse_form(content_type: str | None, body: bytes) -> FormData:
    """Parse a body that was read whole (its size is checked first), so the socket is always drained."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == falcon.MEDIA_URLENCODED:
        return _parse_urlencoded(body)
    if media_type == falcon.MEDIA_MULTIPART:
        return _parse_multipart(content_type or "", body)
    # Mailgun reads other bodies as an empty form, so the caller gets the usual "'from' ... missing".
    return FormData()


def _parse_urlencoded(body: bytes) -> FormData:
    text = body.decode("utf-8", errors="replace")
    return FormData(fields=parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="replace"))


def _multipart_handler(max_part_bytes: int) -> MultipartFormHandler:
    handler = MultipartFormHandler()
    handler.parse_options.max_body_part_buffer_size = max_part_bytes
    handler.parse_options.max_body_part_count = _MAX_FORM_PARTS
    return handler


def _parse_multipart(content_type: str, body: bytes) -> FormData:
    form = FormData()
    # Any single part may be as large as the whole (already size-checked) body.
    handler = _multipart_handler(max(len(body), 1))
    try:
        for part in handler.deserialize(io.BytesIO(body), content_type, len(body)):
            name = part.name or ""
            if name in FILE_FIELDS:
                form.files.append(_file_part(name, part, len(form.files)))
            else:
                form.fields.append((name, part.data.decode(_charset(part.content_type), errors="replace")))
    except (MultipartParseError, falcon.HTTPError) as exc:
        raise FormError(f"invalid multipart body: {exc.description or exc.title}") from exc
    return form


def _file_part(name: str, part: BodyPart, position: int) -> NewAttachment:
    filename = _unescape_filename(part.filename or "") or f"{name}-{position + 1}"
    return NewAttachment(name, filename, _content_type(part.content_type, filename), part.data)


def _unescape_filename(filename: str) -> str:
    # Browsers and urllib3 write `"`, CR and LF in a part's filename as %22, %0D, %0A (WHATWG/HTML5).
    for escaped, char in (("%22", '"'), ("%0D", "\r"), ("%0A", "\n")):
        filename = filename.replace(escaped, char).replace(escaped.lower(), char)
    return filename


def _content_type(declared: str, filename: str) -> str:
    # Falcon reports a part without a Content-Type as text/plain; Mailgun guesses from the filename then.
    if declared.strip().lower() == "text/plain":
        guessed, _ = mimetypes.guess_type(filename)
        return guessed or declared
    return declared


def _charset(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
            try:
                "".encode(charset)
            except LookupError:
                break
            return charset
    return "utf-8"
