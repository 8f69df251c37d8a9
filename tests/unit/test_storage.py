"""services.storage.LocalStorage: generated names only, atomic writes, and the stray sweep."""

from __future__ import annotations

import os
import time

import pytest

from services.catalogue import search_terms, slugify
from services.storage import IMAGES, THUMBNAILS, InvalidLocation, LocalStorage, sweep_strays
from tests.support.catalogue import files_under

NAME = "img_01hzz0000000000000000000aa.webp"
OTHER = "img_01hzz0000000000000000000bb.webp"


@pytest.fixture
def storage(tmp_path) -> LocalStorage:
    return LocalStorage(tmp_path / "media", "https://shop.example/media/")


def test_save_open_url_delete(storage):
    storage.save(IMAGES, NAME, b"RIFF....WEBP")
    opened = storage.open(IMAGES, NAME)
    assert opened is not None
    with opened.stream:
        assert opened.stream.read() == b"RIFF....WEBP"
    assert opened.size == 12 and opened.content_type == "image/webp" and opened.etag.startswith('"')
    assert storage.url(IMAGES, NAME) == f"https://shop.example/media/images/{NAME}"
    assert [stored.name for stored in storage.list(IMAGES)] == [NAME]
    assert [str(path) for path in files_under(storage.root)] == [f"images/{NAME}"]
    storage.delete(IMAGES, NAME)
    storage.delete(IMAGES, NAME)  # deleting twice is fine
    assert storage.open(IMAGES, NAME) is None
    assert files_under(storage.root) == []


@pytest.mark.parametrize(("kind", "name"), [
    (IMAGES, "../../etc/passwd"),
    (IMAGES, "../thumbnails/" + NAME),
    (IMAGES, "img_01hzz0000000000000000000aa.webp/.."),
    (IMAGES, "photo.jpg"),
    (IMAGES, "IMG_01HZZ0000000000000000000AA.webp"),
    (IMAGES, "img_01hzz0000000000000000000aa.svg"),
    (IMAGES, "img_01hzz0000000000000000000aa.webp\x00.png"),
    (".tmp", NAME),
    ("receipts", NAME),
    ("..", NAME),
])
def test_anything_but_a_generated_name_in_a_known_kind_is_refused(storage, kind, name):
    with pytest.raises(InvalidLocation):
        storage.save(kind, name, b"x")
    with pytest.raises(InvalidLocation):
        storage.delete(kind, name)
    assert storage.open(kind, name) is None
    assert files_under(storage.root.parent) == []


def test_a_failed_write_leaves_no_partial_file(storage, monkeypatch):
    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        storage.save(IMAGES, NAME, b"data")
    assert files_under(storage.root) == []


def test_sweep_removes_old_strays_only(storage):
    storage.save(IMAGES, NAME, b"kept: a row refers to it")
    storage.save(THUMBNAILS, OTHER, b"old stray")
    storage.save(IMAGES, OTHER, b"young stray: maybe an upload in progress")
    old = time.time() - 7200
    os.utime(storage.root / THUMBNAILS / OTHER, (old, old))
    storage.scratch_dir.mkdir(parents=True, exist_ok=True)
    partial = storage.scratch_dir / "crashed.part"
    partial.write_bytes(b"half")
    os.utime(partial, (old, old))

    removed = sweep_strays(storage, {IMAGES: {NAME}, THUMBNAILS: set()}, older_than=time.time() - 3600)

    assert removed == 2
    assert {str(path) for path in files_under(storage.root)} == {f"images/{NAME}", f"images/{OTHER}"}


def test_search_terms_keep_only_words():
    assert search_terms("  Red   T-Shirt!! ") == ["red", "t", "shirt"]
    assert search_terms("50% off_sale 'drop table'; --") == ["50", "off", "sale", "drop", "table"]
    assert search_terms("%%% ___ \x00") == []
    assert search_terms("Ìbàdàn àdìrẹ") == ["ìbàdàn", "àdìrẹ"]
    assert len(search_terms("a " * 50)) == 8


def test_slugify():
    assert slugify("Home & Garden") == "home-garden"
    assert slugify("  Phones,  Tablets ") == "phones-tablets"
