"""Helpers for catalogue tests: sellers, products, multipart bodies and hostile or honest images."""

from __future__ import annotations

import io
import secrets
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import falcon.testing
from PIL import ExifTags, Image

from tests.support.identity import bearer, signed_in

# --- users and products ----------------------------------------------------------------------

def seller(client: falcon.testing.TestClient, email: str | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """A confirmed, signed-in user: (User, auth headers)."""
    user, tokens = signed_in(client, email or f"seller-{secrets.token_hex(4)}@example.com")
    return user, bearer(tokens["access_token"])


def product_body(**overrides: Any) -> dict[str, Any]:
    body = {"name": "Ankara tote bag", "description": "Hand-stitched, lined, with an inner pocket.",
            "price": 1_250_000, "stock": 5}
    body.update(overrides)
    return {key: value for key, value in body.items() if value is not ...}


def create_product(client: falcon.testing.TestClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    result = client.simulate_post("/v1/products", json=product_body(**overrides), headers=headers)
    assert result.status_code == 201, result.text
    return result.json


# --- multipart -------------------------------------------------------------------------------

def multipart(parts: list[tuple[str, str | None, str, bytes]]) -> tuple[bytes, str]:
    """(body, Content-Type) for parts of (field name, filename or None, content type, data)."""
    boundary = "----test" + secrets.token_hex(12)
    chunks = []
    for name, filename, content_type, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        chunks.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\nContent-Type: {content_type}\r\n\r\n"
                      .encode() + data + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def upload(client: falcon.testing.TestClient, product_id: str, headers: dict[str, str], data: bytes,
           filename: str = "photo.jpg", content_type: str = "image/jpeg") -> falcon.testing.Result:
    body, form_type = multipart([("file", filename, content_type, data)])
    return client.simulate_post(f"/v1/products/{product_id}/images", body=body,
                                headers={**headers, "Content-Type": form_type})


# --- images ----------------------------------------------------------------------------------

GPS_LATITUDE = (6.0, 27.0, 0.0)  # Lagos


def noise(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """Incompressible pixels, so sizes are realistic."""
    return Image.frombytes(mode, size, secrets.token_bytes(size[0] * size[1] * len(mode)))


def encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg_with_gps(size: tuple[int, int] = (64, 32), orientation: int = 6) -> bytes:
    """A real camera-like JPEG: GPS position, camera make, and an orientation to apply."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "TestCam"
    exif[ExifTags.Base.Orientation] = orientation
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = GPS_LATITUDE
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (3.0, 23.0, 0.0)
    return encoded(Image.new("RGB", size, (200, 30, 30)), "JPEG", exif=exif, quality=90)


def png_bytes(size: tuple[int, int] = (48, 48), mode: str = "RGBA") -> bytes:
    return encoded(Image.new(mode, size, (10, 120, 200, 128)[: len(mode)]), "PNG")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def pixel_bomb_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny, well-formed PNG whose header declares width x height pixels (8-bit RGB)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
            + _chunk(b"IEND", b""))


def truncated_jpeg() -> bytes:
    whole = encoded(noise((200, 200)), "JPEG", quality=90)
    return whole[: len(whole) // 2]


def zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("photo.jpg", jpeg_with_gps())
    return buffer.getvalue()


def files_under(root: Path) -> list[Path]:
    """Every file below `root` (scratch files included), relative to it."""
    return sorted(path.relative_to(root) for path in root.rglob("*") if path.is_file()) if root.exists() else []
