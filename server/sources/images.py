"""Checking and converting still images for the image sources (``file``, ``tcp``).

Pure: bytes in, JPEG bytes and size out; no files, sockets or threads.
"""

from __future__ import annotations

import io

from PIL import Image

JPEG_EOI = b"\xff\xd9"  # end-of-image marker (ITU-T T.81, table B.1)


class TornImage(Exception):
    """The bytes are not a complete image (yet)."""


def decode_image(data: bytes) -> tuple[bytes, int, int]:
    """Check that ``data`` is a complete image and return it as JPEG.

    JPEG bytes pass through untouched; other formats (PNG, ...) are converted once.
    Width and height come from the image itself (the JPEG's SOF), never from EXIF.
    May take a few milliseconds (a full decode); thread-safe.

    Returns:
        (jpeg bytes, width, height), width and height in pixels.

    Raises:
        TornImage: empty, truncated or not decodable.
    """
    if not data:
        raise TornImage("empty file")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # a full decode: a truncated image raises here
            if image.format == "JPEG":
                if not data.rstrip(b"\0").endswith(JPEG_EOI):
                    raise TornImage("JPEG has no end-of-image marker")
                return data, image.width, image.height
            out = io.BytesIO()
            image.convert("RGB").save(out, "JPEG", quality=90, subsampling=0)
            return out.getvalue(), image.width, image.height
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise TornImage(str(exc) or type(exc).__name__) from None
