"""thermal_streamer.protocols.images: complete images only; sizes from the image, not EXIF; no
bombs."""

import io
import struct
import zlib

import pytest
from PIL import Image

from tests.conftest import ROOT, with_exif_size
from thermal_streamer.protocols.images import (
    MAX_FRAME_PIXELS,
    ImageTooLarge,
    TornImage,
    decode_image,
)


def test_jpeg_passes_through_with_its_own_size():
    """A JPEG comes back byte for byte, with the size from its SOF header."""
    data = (ROOT / "thermal2.jpg").read_bytes()
    assert decode_image(data) == (data, 640, 480)


def test_misleading_exif_size_is_ignored():
    """A JPEG whose EXIF claims 4553x2400 (as one of the original's seed frames did) is 640x480."""
    data = with_exif_size((ROOT / "thermal4.jpg").read_bytes(), 4553, 2400)
    assert decode_image(data) == (data, 640, 480)


@pytest.mark.parametrize("cut", [0, 2, 100, 1000, -3, -1])
def test_torn_jpeg_is_refused(cut):
    """Every truncation of a JPEG (even just its end marker) raises TornImage."""
    data = (ROOT / "thermal3.jpg").read_bytes()
    with pytest.raises(TornImage):
        decode_image(data[:cut])


def test_png_is_converted_to_jpeg():
    """A PNG comes back as a JPEG of the same size."""
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(out, "PNG")
    jpeg, width, height = decode_image(out.getvalue())
    assert jpeg.startswith(b"\xff\xd8") and (width, height) == (40, 30)


def chunk(kind: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, type, data, CRC (PNG specification, section 5.3)."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header(width: int, height: int) -> bytes:
    """An 8-bit greyscale PNG's signature and IHDR, then an empty IDAT: no pixels at all."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"")


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "green").save(out, "PNG")
    return out.getvalue()


def test_default_limit_is_4096_squared_from_the_header():
    """4097x4096 is refused from its header; 4096x4096 passes the check (then is torn)."""
    with pytest.raises(ImageTooLarge) as error:
        decode_image(png_header(4097, 4096))
    assert str(error.value) == "4097x4096 is 16781312 pixels, over Max_Frame_Pixels = 16777216"
    assert (error.value.size, error.value.limit) == ((4097, 4096), MAX_FRAME_PIXELS)
    with pytest.raises(TornImage):
        decode_image(png_header(4096, 4096))


def test_limit_is_inclusive_and_checked_before_decoding():
    """A PNG of exactly max_pixels decodes; one pixel over is refused even if truncated."""
    data = png(40, 30)
    assert decode_image(data, max_pixels=1200)[1:] == (40, 30)
    for whole_or_torn in (data, data[:-20]):
        with pytest.raises(ImageTooLarge, match=r"^40x30 is 1200 pixels, over "
                           r"Max_Frame_Pixels = 1199$"):
            decode_image(whole_or_torn, max_pixels=1199)


def test_jpeg_size_is_checked_from_its_sof():
    """A 640x480 JPEG is refused with a limit one pixel under its size."""
    data = (ROOT / "thermal2.jpg").read_bytes()
    with pytest.raises(ImageTooLarge, match=r"^640x480 is 307200 pixels"):
        decode_image(data, max_pixels=640 * 480 - 1)


@pytest.mark.parametrize("side", [13000, 20000])  # Pillow's warning, Pillow's error
def test_pillow_decompression_bombs_are_refused(side):
    """Over Pillow's own limit (its warning included) is refused even with a higher max."""
    with pytest.raises(ImageTooLarge) as error:
        decode_image(png_header(side, side), max_pixels=side * side)
    assert str(error.value) == (
        f"over Pillow's decompression-bomb limit of {Image.MAX_IMAGE_PIXELS} pixels")
    assert (error.value.size, error.value.limit) == (None, Image.MAX_IMAGE_PIXELS)
