"""POST/DELETE /v1/products/{id}/images and GET /media/...: what is accepted, what each hostile
upload gets, what is served, and that files and rows always agree (nothing left behind)."""

from __future__ import annotations

import dataclasses
import io
import os
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import falcon.testing
import pytest
from PIL import ExifTags, Image

from api.app import create_app
from models import db
from models.catalogue import ProductImage
from services import catalogue
from services.storage import IMAGES, THUMBNAILS, storage_for
from tests.support.catalogue import (
    create_product,
    encoded,
    files_under,
    jpeg_with_gps,
    multipart,
    noise,
    pixel_bomb_png,
    png_bytes,
    seller,
    truncated_jpeg,
    upload,
    zip_bytes,
)
from tests.support.identity import assert_problem

UPLOAD_LIMIT = 300_000  # bytes per file in these tests (the default is 10 MB)


@pytest.fixture
def media_root(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def settings(deps, media_root):
    return deps.settings.replace(media_root=media_root, upload_max_bytes=UPLOAD_LIMIT, images_per_product=3)


@pytest.fixture
def client(deps, settings) -> falcon.testing.TestClient:
    """The app with a private MEDIA_ROOT (so "nothing on disk" can be checked) and small limits."""
    return falcon.testing.TestClient(create_app(dataclasses.replace(deps, settings=settings)))


@pytest.fixture
def owner(client):
    user, headers = seller(client)
    return {"user": user, "headers": headers, "product": create_product(client, headers)}


@pytest.fixture
def media_path(settings) -> Callable[[str], str]:
    """The path to request for an Image URL, which must be absolute, under PUBLIC_BASE_URL."""

    def path_of(url: str) -> str:
        parts = urlsplit(url)
        assert url.startswith(f"{settings.public_base_url}/media/") and parts.scheme and parts.netloc, url
        return parts.path

    return path_of


def stored(media_root: Path) -> list[str]:
    return [str(path) for path in files_under(media_root)]


def image_rows() -> int:
    with db.connection():
        return ProductImage.select().count()


# --- the happy path ----------------------------------------------------------------------------

def test_jpeg_with_gps_is_stored_without_it_and_served_publicly(client, owner, media_root, media_path):
    original = jpeg_with_gps(size=(64, 32), orientation=6)
    assert b"TestCam" in original
    result = upload(client, owner["product"]["id"], owner["headers"], original)
    assert result.status_code == 201, result.text
    image = result.json
    assert set(image) == {"id", "url", "thumbnail_url", "width", "height", "content_type"}
    assert image["id"].startswith("img_") and image["content_type"] == "image/webp"
    assert (image["width"], image["height"]) == (32, 64)  # orientation applied
    assert sorted(stored(media_root)) == sorted([f"images/{image['id']}.webp", f"thumbnails/{image['id']}.webp"])

    served = client.simulate_get(media_path(image["url"]))  # no Authorization header
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/webp"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["etag"].startswith('"')
    assert int(served.headers["content-length"]) == len(served.content)
    picture = Image.open(io.BytesIO(served.content))
    assert picture.format == "WEBP" and picture.size == (32, 64)
    assert not picture.getexif() and not picture.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert b"Exif" not in served.content and b"TestCam" not in served.content

    again = client.simulate_get(media_path(image["url"]), headers={"If-None-Match": served.headers["etag"]})
    assert again.status_code == 304 and not again.content

    thumb = client.simulate_get(media_path(image["thumbnail_url"]))
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).format == "WEBP"

    product = client.simulate_get(f"/v1/products/{owner['product']['id']}").json
    assert product["images"] == [image]
    assert client.simulate_get("/v1/products").json["data"][0]["images"] == [image]


def test_thumbnails_are_small(client, owner, media_path):
    result = upload(client, owner["product"]["id"], owner["headers"], encoded(Image.new("RGB", (900, 600)), "JPEG"))
    assert result.status_code == 201, result.text
    thumb = client.simulate_get(media_path(result.json["thumbnail_url"]))
    assert Image.open(io.BytesIO(thumb.content)).size == (320, 213)


def test_a_png_named_jpg_is_judged_by_its_content(client, owner, media_root):
    result = upload(client, owner["product"]["id"], owner["headers"], png_bytes(), filename="photo.jpg",
                    content_type="image/jpeg")
    assert result.status_code == 201, result.text
    assert result.json["content_type"] == "image/webp"
    assert len(stored(media_root)) == 2


def test_a_dot_dot_filename_never_reaches_the_file_system(client, owner, media_root, tmp_path):
    result = upload(client, owner["product"]["id"], owner["headers"], png_bytes(),
                    filename="../../../escaped.png", content_type="image/png")
    assert result.status_code == 201, result.text
    assert sorted(stored(media_root)) == sorted([f"images/{result.json['id']}.webp",
                                                 f"thumbnails/{result.json['id']}.webp"])
    assert not any("escaped" in path.name for path in tmp_path.parent.rglob("*"))


# --- hostile or broken uploads: a documented answer, and nothing on disk -------------------------

@pytest.mark.parametrize(("data", "filename", "content_type", "status", "code"), [
    (b"just some text\n", "notes.png", "image/png", 415, "unsupported_media_type"),
    (zip_bytes(), "photos.zip", "application/zip", 415, "unsupported_media_type"),
    (zip_bytes(), "photo.jpg", "image/jpeg", 415, "unsupported_media_type"),
    (encoded(Image.new("RGB", (8, 8)), "GIF"), "anim.gif", "image/gif", 415, "unsupported_media_type"),
    (b"", "empty.jpg", "image/jpeg", 415, "unsupported_media_type"),
    (pixel_bomb_png(50_000, 50_000), "bomb.png", "image/png", 422, "image_too_large"),
    (pixel_bomb_png(7_000, 7_000), "big.png", "image/png", 422, "image_too_large"),
    (truncated_jpeg(), "cut.jpg", "image/jpeg", 422, "image_corrupt"),
], ids=["text-as-png", "zip", "zip-as-jpg", "gif", "empty", "pixel-bomb", "over-40mp", "truncated-jpeg"])
def test_refused_uploads_leave_nothing_behind(client, owner, media_root, data, filename, content_type, status,
                                              code):
    result = upload(client, owner["product"]["id"], owner["headers"], data, filename=filename,
                    content_type=content_type)
    assert_problem(result, status, code)
    assert stored(media_root) == [] and image_rows() == 0


def test_an_oversize_body_is_refused_before_reading(client, owner, media_root):
    body, form_type = multipart([("file", "huge.jpg", "image/jpeg", b"\xff" * (UPLOAD_LIMIT + 70_000))])
    result = client.simulate_post(f"/v1/products/{owner['product']['id']}/images", body=body,
                                  headers={**owner["headers"], "Content-Type": form_type})
    assert_problem(result, 413, "body_too_large")
    assert stored(media_root) == []


def test_an_oversize_file_is_cut_off_while_streaming(client, owner, media_root):
    # Within the body limit (file limit + form overhead) but over the file limit: found while streaming.
    body, form_type = multipart([("file", "big.jpg", "image/jpeg", b"\xff" * (UPLOAD_LIMIT + 1))])
    result = client.simulate_post(f"/v1/products/{owner['product']['id']}/images", body=body,
                                  headers={**owner["headers"], "Content-Type": form_type})
    assert_problem(result, 413, "file_too_large")
    assert stored(media_root) == []


def test_a_file_exactly_at_the_limit_is_read(client, owner):
    data = encoded(noise((40, 40)), "PNG")
    padded = data + b"\x00" * (UPLOAD_LIMIT - len(data))  # trailing bytes after IEND are ignored by decoders
    assert upload(client, owner["product"]["id"], owner["headers"], padded).status_code == 201


@pytest.mark.parametrize(("parts", "field"), [
    ([], "file"),
    ([("photo", "a.png", "image/png", png_bytes())], "photo"),
    ([("file", "a.png", "image/png", png_bytes()), ("file", "b.png", "image/png", png_bytes())], "file"),
    ([("file", "a.png", "image/png", png_bytes()), ("caption", None, "text/plain", b"hi")], "caption"),
])
def test_the_form_must_hold_exactly_one_file_part(client, owner, media_root, parts, field):
    body, form_type = multipart(parts)
    result = client.simulate_post(f"/v1/products/{owner['product']['id']}/images", body=body,
                                  headers={**owner["headers"], "Content-Type": form_type})
    assert field in {e["field"] for e in assert_problem(result, 422, "validation_error")["errors"]}
    assert stored(media_root) == [] and image_rows() == 0


def test_not_multipart_or_malformed_multipart(client, owner, media_root):
    url = f"/v1/products/{owner['product']['id']}/images"
    assert_problem(client.simulate_post(url, headers=owner["headers"], body=png_bytes()),
                   415, "unsupported_media_type")
    assert_problem(client.simulate_post(url, headers=owner["headers"], json={"file": "aGk="}),
                   415, "unsupported_media_type")
    body, form_type = multipart([("file", "a.png", "image/png", png_bytes())])
    truncated = client.simulate_post(url, body=body[: len(body) // 2],
                                     headers={**owner["headers"], "Content-Type": form_type})
    assert_problem(truncated, 400, "invalid_multipart")
    no_boundary = client.simulate_post(url, body=body, headers={**owner["headers"],
                                                                "Content-Type": "multipart/form-data"})
    assert_problem(no_boundary, 400, "invalid_multipart")
    assert stored(media_root) == []


def test_a_body_without_content_length_is_411(client, owner):
    body, form_type = multipart([("file", "a.png", "image/png", png_bytes())])
    result = client.simulate_post(f"/v1/products/{owner['product']['id']}/images", body=body,
                                  headers={**owner["headers"], "Content-Type": form_type},
                                  extras={"CONTENT_LENGTH": ""})
    assert_problem(result, 411, "length_required")


# --- who may upload, and how many --------------------------------------------------------------

def test_only_the_owner_may_upload_or_delete_images(client, owner, media_root):
    _, other = seller(client)
    product_id = owner["product"]["id"]
    assert_problem(upload(client, product_id, other, png_bytes()), 404, "not_found")
    assert_problem(upload(client, product_id, {}, png_bytes()), 401, "unauthenticated")
    assert_problem(upload(client, "prd_01hzz0000000000000000000aa", owner["headers"], png_bytes()), 404, "not_found")
    assert stored(media_root) == []

    image = upload(client, product_id, owner["headers"], png_bytes()).json
    url = f"/v1/products/{product_id}/images/{image['id']}"
    assert_problem(client.simulate_delete(url, headers=other), 404, "not_found")
    assert_problem(client.simulate_delete(url), 401, "unauthenticated")
    other_product = create_product(client, other)
    assert_problem(client.simulate_delete(f"/v1/products/{other_product['id']}/images/{image['id']}",
                                          headers=other), 404, "not_found")
    assert len(stored(media_root)) == 2 and image_rows() == 1


def test_at_most_n_images_per_product(client, owner, media_root):
    product_id = owner["product"]["id"]
    for _ in range(3):
        assert upload(client, product_id, owner["headers"], png_bytes()).status_code == 201
    assert_problem(upload(client, product_id, owner["headers"], png_bytes()), 409, "too_many_images")
    assert len(stored(media_root)) == 6 and image_rows() == 3


def test_the_limit_holds_when_it_is_only_caught_under_the_lock(client, owner, settings, media_root):
    """Two uploads that both passed the early check: the second one's files are removed."""
    product_id = owner["product"]["id"]
    for _ in range(3):
        assert upload(client, product_id, owner["headers"], png_bytes()).status_code == 201
    store = storage_for(settings)
    with db.connection(), pytest.raises(catalogue.errors.TooManyImages):
        catalogue.add_image(owner["user"]["id"], product_id, io.BytesIO(png_bytes()), store,
                            catalogue.images.ImageLimits.from_settings(settings), settings.images_per_product)
    assert len(stored(media_root)) == 6 and image_rows() == 3


# --- deleting: rows first, then files ----------------------------------------------------------

def test_deleting_an_image_removes_row_and_files(client, owner, media_root, media_path):
    product_id = owner["product"]["id"]
    kept = upload(client, product_id, owner["headers"], png_bytes()).json
    gone = upload(client, product_id, owner["headers"], png_bytes()).json
    deleted = client.simulate_delete(f"/v1/products/{product_id}/images/{gone['id']}", headers=owner["headers"])
    assert deleted.status_code == 204
    assert sorted(stored(media_root)) == sorted([f"images/{kept['id']}.webp", f"thumbnails/{kept['id']}.webp"])
    assert_problem(client.simulate_get(media_path(gone["url"])), 404, "not_found")
    assert client.simulate_get(f"/v1/products/{product_id}").json["images"] == [kept]
    assert_problem(client.simulate_delete(f"/v1/products/{product_id}/images/{gone['id']}",
                                          headers=owner["headers"]), 404, "not_found")


def test_deleting_a_product_removes_its_images(client, owner, media_root, media_path):
    product_id = owner["product"]["id"]
    image = upload(client, product_id, owner["headers"], png_bytes()).json
    assert client.simulate_delete(f"/v1/products/{product_id}", headers=owner["headers"]).status_code == 204
    assert stored(media_root) == [] and image_rows() == 0
    assert_problem(client.simulate_get(media_path(image["url"])), 404, "not_found")
    assert_problem(upload(client, product_id, owner["headers"], png_bytes()), 404, "not_found")


def test_a_failed_insert_removes_the_files_it_wrote(client, owner, media_root, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(ProductImage, "create", fail)
    result = upload(client, owner["product"]["id"], owner["headers"], png_bytes())
    assert result.status_code == 500  # a real server fault, reported as one
    assert stored(media_root) == [] and image_rows() == 0


def test_the_sweep_heals_a_crash_between_file_and_row(client, owner, settings, media_root):
    product_id = owner["product"]["id"]
    kept = upload(client, product_id, owner["headers"], png_bytes()).json
    broken = upload(client, product_id, owner["headers"], png_bytes()).json
    store = storage_for(settings)
    # A crash after the files were written, before the row: files with no row.
    orphan = "img_01hzz0000000000000000000zz.webp"
    store.save(IMAGES, orphan, b"stray")
    store.save(THUMBNAILS, orphan, b"stray")
    young = "img_01hzz0000000000000000000yy.webp"
    store.save(IMAGES, young, b"an upload still in progress")
    old = time.time() - 7200
    for path in (media_root / IMAGES / orphan, media_root / THUMBNAILS / orphan):
        os.utime(path, (old, old))
    # And a row whose file was lost (e.g. restored from an older backup).
    (media_root / IMAGES / f"{broken['id']}.webp").unlink()

    with db.connection():
        report = catalogue.sweep_media(store, grace_seconds=3600)

    assert (report.stray_files, report.rows_without_files) == (2, 1)
    assert sorted(stored(media_root)) == sorted([f"images/{kept['id']}.webp", f"thumbnails/{kept['id']}.webp",
                                                 f"images/{young}"])
    assert client.simulate_get(f"/v1/products/{product_id}").json["images"] == [kept]


# --- serving -----------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/media/images/..%2F..%2Fetc%2Fpasswd",
    "/media/images/photo.jpg",
    "/media/receipts/img_01hzz0000000000000000000aa.webp",
    "/media/.tmp/img_01hzz0000000000000000000aa.webp",
    "/media/images/img_01hzz0000000000000000000aa.webp",
    "/media/images/img_01hzz0000000000000000000aa.webp%00.png",
])
def test_media_serves_only_generated_names_that_exist(client, media_root, path):
    (media_root / "receipts").mkdir(parents=True)
    (media_root / "receipts" / "img_01hzz0000000000000000000aa.webp").write_bytes(b"private")
    assert_problem(client.simulate_get(path), 404, "not_found")
