"""Where uploaded media lives: a small interface, and the local-directory implementation.

Only names this service generated ever reach the file system: every method checks the kind
against a fixed list and the name against the generated-name pattern before building a path, so
no client-supplied string (filename, URL segment) can name a file. An object store can replace
`LocalStorage` later by implementing `Storage`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from config import Settings

log = logging.getLogger(__name__)

IMAGES, THUMBNAILS = "images", "thumbnails"
KINDS = (IMAGES, THUMBNAILS)
CONTENT_TYPES = {"webp": "image/webp", "jpg": "image/jpeg", "png": "image/png"}
# <prefix>_<26 id chars>.<extension>, e.g. img_01hzx3...q7.webp: the shape of models.db.new_id.
GENERATED_NAME = re.compile(r"^[a-z]{2,8}_[0-9a-z]{26}\.(webp|jpg|png)$")
SCRATCH_DIR = ".tmp"  # partial writes and uploads being received; never served


class InvalidLocation(ValueError):
    """A kind or name this storage never generates; nothing is read or written."""


@dataclass(frozen=True)
class StoredFile:
    name: str
    modified: float  # epoch seconds


@dataclass
class OpenedFile:
    stream: BinaryIO
    size: int
    content_type: str
    etag: str  # quoted, strong: a stored name never changes content


def generated_name(stem: str, extension: str) -> str:
    name = f"{stem}.{extension}"
    if not GENERATED_NAME.match(name):
        raise InvalidLocation("not a generated name")
    return name


def is_valid_location(kind: str, name: str) -> bool:
    return kind in KINDS and bool(GENERATED_NAME.match(name))


class Storage(Protocol):
    scratch_dir: Path  # local space for uploads being received, whatever the backend

    def save(self, kind: str, name: str, data: bytes) -> None: ...
    def delete(self, kind: str, name: str) -> None: ...
    def open(self, kind: str, name: str) -> OpenedFile | None: ...
    def list(self, kind: str) -> Iterator[StoredFile]: ...
    def url(self, kind: str, name: str) -> str: ...
    def sweep_scratch(self, older_than: float) -> int: ...


class LocalStorage:
    """Files under `root/<kind>/<name>`, written atomically (temp file, fsync, rename)."""

    def __init__(self, root: Path, base_url: str) -> None:
        self.root = Path(root)
        self.base_url = base_url.rstrip("/")
        self.scratch_dir = self.root / SCRATCH_DIR

    def _path(self, kind: str, name: str) -> Path:
        if not is_valid_location(kind, name):
            raise InvalidLocation(f"refusing {kind!r}/{name!r}")
        return self.root / kind / name

    def save(self, kind: str, name: str, data: bytes) -> None:
        target = self._path(kind, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        self.scratch_dir.mkdir(parents=True, exist_ok=True)
        partial = self.scratch_dir / f"{secrets.token_hex(12)}.part"
        try:
            with open(partial, "xb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, target)  # readers see no file or the whole file, never half of it
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)

    def delete(self, kind: str, name: str) -> None:
        self._path(kind, name).unlink(missing_ok=True)

    def open(self, kind: str, name: str) -> OpenedFile | None:
        if not is_valid_location(kind, name):
            return None
        try:
            stream = open(self._path(kind, name), "rb")  # noqa: SIM115 - the response closes it
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        size = os.fstat(stream.fileno()).st_size
        etag = hashlib.sha256(f"{kind}/{name}/{size}".encode()).hexdigest()[:32]
        return OpenedFile(stream=stream, size=size, content_type=CONTENT_TYPES[name.rsplit(".", 1)[1]],
                          etag=f'"{etag}"')

    def list(self, kind: str) -> Iterator[StoredFile]:
        if kind not in KINDS:
            raise InvalidLocation(f"unknown kind {kind!r}")
        with contextlib.suppress(FileNotFoundError), os.scandir(self.root / kind) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False) and GENERATED_NAME.match(entry.name):
                    yield StoredFile(entry.name, entry.stat(follow_symlinks=False).st_mtime)

    def url(self, kind: str, name: str) -> str:
        self._path(kind, name)  # validates
        return f"{self.base_url}/{kind}/{name}"

    def sweep_scratch(self, older_than: float) -> int:
        """Remove partial writes left by a crash (anything in the scratch dir older than `older_than`)."""
        removed = 0
        with contextlib.suppress(FileNotFoundError), os.scandir(self.scratch_dir) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < older_than:
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
        return removed


def _fsync_dir(path: Path) -> None:
    """Make the rename itself durable; a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@functools.lru_cache(maxsize=8)
def storage_for(settings: Settings) -> Storage:
    """The process's storage for these settings (media served by this API under /media)."""
    return LocalStorage(settings.media_root, f"{settings.public_base_url}/media")


def remove_quietly(storage: Storage, files: Iterable[tuple[str, str]]) -> None:
    """Delete files whose rows are gone. A failure only leaves a stray for the sweep."""
    for kind, name in files:
        try:
            storage.delete(kind, name)
        except OSError:
            log.warning("could not delete a media file; the sweep will", extra={"kind": kind, "file": name})


def sweep_strays(storage: Storage, known: Mapping[str, set[str]], older_than: float) -> int:
    """Delete stored files no row refers to, if older than `older_than` (epoch seconds): the grace
    period covers uploads whose files are written but whose row is not committed yet."""
    removed = 0
    for kind in KINDS:
        for stored in list(storage.list(kind)):
            if stored.name not in known.get(kind, set()) and stored.modified < older_than:
                storage.delete(kind, stored.name)
                removed += 1
    return removed + storage.sweep_scratch(older_than)
