"""Uploaded images: Pillow decides what a file is, then it is re-encoded from its pixels alone.

Pure logic (no database, no storage) so it can be unit-tested. The steps:
1. identify with only the JPEG, PNG and WebP decoders enabled (name and Content-Type are ignored);
2. refuse decompression bombs from the header, before any pixel is decoded;
3. check the container is complete (see require_complete), then decode in full;
4. apply the EXIF orientation, convert to sRGB, drop every other piece of metadata;
5. encode a web image and a thumbnail. Nothing of the original file survives but its pixels.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import mmap
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from config import Settings
from services.errors import ImageCorrupt, ImageTooLarge, UnsupportedImage

log = logging.getLogger(__name__)

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
# Pillow reports multi-picture JPEGs (many phone cameras) as MPO; they are JPEGs.
_REPORTED_FORMATS = {"JPEG", "MPO", "PNG", "WEBP"}
OUTPUT_FORMAT, OUTPUT_EXTENSION, OUTPUT_CONTENT_TYPE = "WEBP", "webp", "image/webp"
OUTPUT_QUALITY = 82
_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class ImageLimits:
    max_pixels: int  # decoded width x height of the upload
    max_side: int  # long side of the stored image
    thumbnail_side: int  # long side of the thumbnail

    @classmethod
    def from_settings(cls, settings: Settings) -> ImageLimits:
        return cls(max_pixels=settings.max_megapixels * 1_000_000, max_side=settings.image_max_px,
                   thumbnail_side=settings.thumbnail_px)


@dataclass(frozen=True)
class Rendition:
    data: bytes
    width: int
    height: int


@dataclass(frozen=True)
class ProcessedImage:
    source_format: str
    image: Rendition
    thumbnail: Rendition
    content_type: str = OUTPUT_CONTENT_TYPE
    extension: str = OUTPUT_EXTENSION


def process(source: BinaryIO, limits: ImageLimits) -> ProcessedImage:
    """Validate and re-encode an upload; raises UnsupportedImage, ImageTooLarge or ImageCorrupt."""
    with identify(source, limits) as original:
        source_format = "JPEG" if original.format == "MPO" else str(original.format)
        require_complete(source, source_format)
        _draft(original, limits.max_side)
        decode(original)
        pixels = normalise(original)
    image = fit(pixels, limits.max_side)
    thumbnail = fit(pixels, limits.thumbnail_side)
    return ProcessedImage(source_format=source_format, image=encode(image), thumbnail=encode(thumbnail))


def identify(source: BinaryIO, limits: ImageLimits) -> Image.Image:
    """Open lazily (header only) and check what it is and how big it would be once decoded."""
    try:
        image = Image.open(source, formats=ACCEPTED_FORMATS)
    except Image.DecompressionBombError:
        raise ImageTooLarge("The image's dimensions are too large to process.") from None
    except UnidentifiedImageError:
        raise UnsupportedImage("Upload a JPEG, PNG or WebP image.") from None
    except Exception:  # a decoder choking on a malformed header: the client's data, not our bug
        raise ImageCorrupt("The image header cannot be read.") from None
    if image.format not in _REPORTED_FORMATS:
        image.close()
        raise UnsupportedImage("Upload a JPEG, PNG or WebP image.")
    width, height = image.size
    if width < 1 or height < 1 or width * height > limits.max_pixels:
        image.close()
        raise ImageTooLarge(f"Images may have at most {limits.max_pixels // 1_000_000} megapixels.")
    return image


def require_complete(source: BinaryIO, source_format: str) -> None:
    """Refuse truncated files and PNGs that fail a checksum, judged from the bytes themselves.

    Pillow can be told process-wide to pad truncated images with grey instead of failing
    (`ImageFile.LOAD_TRUNCATED_IMAGES`), and WeasyPrint -- which renders our receipts -- turns that
    on when it is imported. So completeness cannot be left to the decoder."""
    with _bytes_of(source) as data:
        complete = {"JPEG": _jpeg_complete, "PNG": _png_complete, "WEBP": _webp_complete}[source_format](data)
    if not complete:
        raise ImageCorrupt("The image data is truncated or corrupt.")


@contextlib.contextmanager
def _bytes_of(source: BinaryIO) -> Iterator[bytes | mmap.mmap]:
    """The whole upload as a buffer without copying it: a memory map of the spooled file."""
    if isinstance(source, io.BytesIO):
        yield source.getvalue()
        return
    with mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        yield mapped


def _jpeg_complete(data: bytes | mmap.mmap) -> bool:
    """SOI, then segments and entropy-coded scans, up to an EOI marker (anything after it is ignored)."""
    size = len(data)
    if data[:2] != b"\xff\xd8":
        return False
    pos = 2
    while True:
        pos = data.find(b"\xff", pos)  # like libjpeg, tolerate stray bytes between segments
        while 0 <= pos < size and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos < 0 or pos >= size:
            return False
        marker = data[pos]
        pos += 1
        if marker == 0xD9:
            return True
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            continue
        if pos + 2 > size:
            return False
        pos += int.from_bytes(data[pos:pos + 2], "big")
        if pos > size:
            return False
        if marker == 0xDA:  # start of scan: entropy-coded data runs to the next real marker
            pos = _end_of_scan(data, pos)
            if pos < 0:
                return False


def _end_of_scan(data: bytes | mmap.mmap, pos: int) -> int:
    """Where the marker after a scan starts, or -1 if the data ends first."""
    size = len(data)
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= size:
            return -1
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7:  # a stuffed 0xFF byte, or a restart marker
            pos += 2
        elif following == 0xFF:
            pos += 1
        else:
            return pos


def _png_complete(data: bytes | mmap.mmap) -> bool:
    """Every chunk whole and matching its CRC, up to IEND."""
    view, size, pos = memoryview(data), len(data), 8
    if bytes(view[:8]) != b"\x89PNG\r\n\x1a\n":
        return False
    try:
        while pos + 12 <= size:
            length = int.from_bytes(view[pos:pos + 4], "big")
            end = pos + 12 + length
            if end > size:
                return False
            if zlib.crc32(view[pos + 4:end - 4]) != int.from_bytes(view[end - 4:end], "big"):
                return False
            if bytes(view[pos + 4:pos + 8]) == b"IEND":
                return True
            pos = end
        return False
    finally:
        view.release()


def _webp_complete(data: bytes | mmap.mmap) -> bool:
    """The RIFF container holds as many bytes as its header says."""
    return (len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP"
            and len(data) >= 8 + int.from_bytes(data[4:8], "little"))


def decode(image: Image.Image) -> None:
    try:
        image.load()
    except Exception:  # truncated or corrupt pixel data; whatever the decoder raises, it is a 4xx
        raise ImageCorrupt("The image data is truncated or corrupt.") from None


def normalise(image: Image.Image) -> Image.Image:
    """Upright, sRGB, RGB or RGBA, and no metadata at all (EXIF, GPS, XMP, ICC, text chunks)."""
    upright = _upright(image)
    alpha = _has_alpha(upright)
    if upright.mode not in ("RGB", "RGBA", "CMYK", "L"):
        upright = upright.convert("RGBA" if alpha else "RGB")
    pixels = _to_srgb(upright, "RGBA" if alpha else "RGB")
    if pixels.mode == "RGBA" and pixels.getchannel("A").getextrema() == (255, 255):
        pixels = pixels.convert("RGB")  # an opaque alpha channel only costs bytes
    pixels.info = {}
    return pixels


def fit(image: Image.Image, side: int) -> Image.Image:
    """The image scaled down (never up) so that its long side is at most `side`."""
    if max(image.size) <= side:
        return image
    scaled = image.copy()
    scaled.thumbnail((side, side), Image.Resampling.LANCZOS)
    return scaled


def encode(image: Image.Image) -> Rendition:
    buffer = io.BytesIO()
    # No exif/icc_profile/xmp arguments: the encoder writes none (it never reads image.info).
    image.save(buffer, OUTPUT_FORMAT, quality=OUTPUT_QUALITY, method=4)
    return Rendition(data=buffer.getvalue(), width=image.width, height=image.height)


def _draft(image: Image.Image, side: int) -> None:
    """Let the JPEG decoder scale down by 1/2, 1/4 or 1/8 while decoding a photo far larger than
    what we keep: a fraction of the memory and time, and no visible difference after resizing."""
    if image.format in ("JPEG", "MPO") and max(image.size) > side:
        ratio = side / max(image.size)
        image.draft(None, (math.ceil(image.width * ratio), math.ceil(image.height * ratio)))


def _upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # unreadable EXIF: keep the pixels as they are rather than refuse the photo
        log.info("ignoring unreadable EXIF orientation")
        return image.copy()


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _to_srgb(image: Image.Image, mode: str) -> Image.Image:
    profile = image.info.get("icc_profile")
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=mode)
            if converted is not None:
                return converted
        except Exception:  # a broken or mismatched profile: fall back to the untagged pixels
            log.info("ignoring unusable ICC profile")
    return image if image.mode == mode else image.convert(mode)
