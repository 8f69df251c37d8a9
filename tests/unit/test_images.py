"""services.images: what is accepted, what is refused, and what survives re-encoding (pixels only)."""

from __future__ import annotations

import io
import tempfile

import pytest
from PIL import ExifTags, Image, ImageCms, ImageFile, PngImagePlugin

from services.errors import ImageCorrupt, ImageTooLarge, UnsupportedImage
from services.images import ImageLimits, process
from tests.support.catalogue import (
    encoded,
    jpeg_with_gps,
    noise,
    pixel_bomb_png,
    png_bytes,
    truncated_jpeg,
    zip_bytes,
)

LIMITS = ImageLimits(max_pixels=40_000_000, max_side=256, thumbnail_side=64)


def run(data: bytes, limits: ImageLimits = LIMITS):
    return process(io.BytesIO(data), limits)


def reopen(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_jpeg_with_gps_comes_back_upright_and_without_any_exif():
    original = jpeg_with_gps(size=(64, 32), orientation=6)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input really has GPS

    result = run(original)

    assert result.source_format == "JPEG" and result.content_type == "image/webp"
    for rendition in (result.image, result.thumbnail):
        image = reopen(rendition.data)
        assert image.format == "WEBP"
        assert not image.getexif() and not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert not {"exif", "xmp", "icc_profile"} & set(image.info)
        assert b"Exif" not in rendition.data and b"TestCam" not in rendition.data
    # Orientation 6 (rotate 90 degrees) is applied to the pixels: 64x32 becomes 32x64.
    assert (result.image.width, result.image.height) == (32, 64)
    assert reopen(result.image.data).size == (32, 64)


def test_large_images_are_scaled_down_and_thumbnailed():
    result = run(encoded(noise((1000, 500)), "PNG"))
    assert (result.image.width, result.image.height) == (256, 128)
    assert (result.thumbnail.width, result.thumbnail.height) == (64, 32)
    assert reopen(result.thumbnail.data).size == (64, 32)


def test_small_images_are_not_scaled_up():
    result = run(png_bytes((20, 10), "RGB"))
    assert (result.image.width, result.image.height) == (20, 10)
    assert (result.thumbnail.width, result.thumbnail.height) == (20, 10)


def test_transparency_survives_and_an_opaque_alpha_channel_is_dropped():
    assert reopen(run(png_bytes((32, 32), "RGBA")).image.data).mode == "RGBA"
    opaque = encoded(Image.new("RGBA", (32, 32), (1, 2, 3, 255)), "PNG")
    assert reopen(run(opaque).image.data).mode == "RGB"
    palette = Image.new("P", (16, 16), 0)
    palette.info["transparency"] = 0
    assert reopen(run(encoded(palette, "PNG", transparency=0)).image.data).mode == "RGBA"


@pytest.mark.parametrize("mode", ["L", "LA", "1", "I;16", "CMYK"])
def test_other_pixel_modes_are_converted(mode):
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    result = run(encoded(Image.new(mode, (16, 8)), fmt))
    assert reopen(result.image.data).mode in ("RGB", "RGBA")


def test_png_text_chunks_and_icc_profiles_are_not_carried_over():
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Ada at 6.45N 3.39E")
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encoded(Image.new("RGB", (16, 16), (9, 9, 9)), "PNG", pnginfo=info, icc_profile=profile)
    assert b"Ada at" in data
    result = run(data)
    assert b"Ada at" not in result.image.data
    assert "icc_profile" not in reopen(result.image.data).info


def test_webp_input_is_accepted():
    assert run(encoded(noise((40, 30)), "WEBP")).source_format == "WEBP"


@pytest.mark.parametrize("data", [
    b"hello, I am a text file pretending to be a PNG\n",
    b"",
    zip_bytes(),
    encoded(Image.new("RGB", (8, 8)), "GIF"),
    encoded(Image.new("RGB", (8, 8)), "BMP"),
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
], ids=["text", "empty", "zip", "gif", "bmp", "pdf", "svg"])
def test_anything_but_jpeg_png_webp_is_unsupported(data):
    with pytest.raises(UnsupportedImage):
        run(data)


def test_a_pixel_bomb_is_refused_from_its_header():
    with pytest.raises(ImageTooLarge):
        run(pixel_bomb_png(50_000, 50_000))  # beyond even Pillow's own bomb limit


def test_our_megapixel_limit_is_stricter_than_pillows():
    with pytest.raises(ImageTooLarge):
        run(pixel_bomb_png(8_000, 6_000))  # 48 MP: under Pillow's limit, over ours (40 MP)
    with pytest.raises(ImageTooLarge):
        run(png_bytes((100, 100)), ImageLimits(max_pixels=9_999, max_side=256, thumbnail_side=64))


def test_a_truncated_jpeg_is_corrupt():
    with pytest.raises(ImageCorrupt):
        run(truncated_jpeg())


def test_a_png_with_broken_pixel_data_is_corrupt_or_unsupported():
    data = bytearray(png_bytes((64, 64), "RGB"))
    idat = data.index(b"IDAT")
    data[idat + 8: idat + 40] = b"\xff" * 32  # garbage in the compressed stream
    with pytest.raises((ImageCorrupt, UnsupportedImage)):
        run(bytes(data))


def test_large_jpeg_is_decoded_in_draft_mode_to_the_kept_size():
    result = run(encoded(noise((2048, 1024)), "JPEG"))
    assert (result.image.width, result.image.height) == (256, 128)


# --- completeness, whatever Pillow's process-wide truncation setting -------------------------

@pytest.fixture(params=[False, True], ids=["pillow-strict", "pillow-lenient"])
def lenient_pillow(request, monkeypatch):
    """WeasyPrint (receipts) sets ImageFile.LOAD_TRUNCATED_IMAGES = True on import; the checks
    must not depend on it."""
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", request.param)


def cut(data: bytes, keep: float = 0.6) -> bytes:
    return data[: int(len(data) * keep)]


@pytest.mark.parametrize("data", [
    cut(encoded(noise((120, 120)), "JPEG", quality=90)),
    cut(encoded(noise((120, 120)), "JPEG", quality=90, progressive=True)),
    cut(encoded(noise((120, 120)), "PNG")),
    cut(encoded(noise((120, 120)), "WEBP")),
    encoded(noise((120, 120)), "JPEG")[:-2],  # everything but the EOI marker
], ids=["jpeg", "progressive-jpeg", "png", "webp", "jpeg-without-eoi"])
def test_truncated_files_are_corrupt_even_when_pillow_is_lenient(lenient_pillow, data):
    with pytest.raises(ImageCorrupt):
        run(data)


def test_a_png_failing_a_crc_is_corrupt_even_when_pillow_is_lenient(lenient_pillow):
    data = bytearray(encoded(noise((64, 64)), "PNG"))
    data[data.index(b"IDAT") + 20] ^= 0xFF  # one flipped byte inside the pixel data
    with pytest.raises(ImageCorrupt):
        run(bytes(data))


@pytest.mark.parametrize("data", [
    encoded(noise((120, 80)), "JPEG", quality=90, progressive=True),
    encoded(noise((120, 80)), "JPEG", quality=90) + b"trailing data some cameras append",
    encoded(Image.new("RGB", (120, 80)), "JPEG", restart_marker_blocks=1),
    jpeg_with_gps(),  # an EXIF segment (with its own embedded markers) before the image
], ids=["progressive", "data-after-eoi", "restart-markers", "exif"])
def test_complete_jpeg_variants_are_accepted(lenient_pillow, data):
    assert run(data).source_format == "JPEG"


def test_an_upload_spooled_to_disk_is_checked_through_a_memory_map(lenient_pillow):
    with tempfile.TemporaryFile() as spool:
        spool.write(cut(encoded(noise((120, 120)), "JPEG")))
        spool.seek(0)
        with pytest.raises(ImageCorrupt):
            process(spool, LIMITS)
        spool.seek(0)
        spool.truncate()
        spool.write(encoded(noise((120, 120)), "PNG"))
        spool.seek(0)
        assert process(spool, LIMITS).source_format == "PNG"
