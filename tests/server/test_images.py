"""server.sources.images: complete images only; sizes from the image, not EXIF."""

import io

import pytest
from PIL import Image

from server.sources.images import TornImage, decode_image
from tests.conftest import ROOT, shared_file


def test_jpeg_passes_through_with_its_own_size():
    """A JPEG comes back byte for byte, with the size from its SOF header."""
    data = (ROOT / "thermal2.jpg").read_bytes()
    assert decode_image(data) == (data, 640, 480)


def test_misleading_exif_size_is_ignored():
    """The seed frame whose EXIF claims 4553x2400 is 1024x586."""
    data = shared_file("seed-frames/cj667113_Websocket_HTTP_Server__thermal4.jpg").read_bytes()
    assert decode_image(data)[1:] == (1024, 586)


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
