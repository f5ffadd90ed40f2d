"""Checking and converting still images for the image sources (``file``, ``tcp``).

Pure: bytes in, JPEG bytes and size out; no files, sockets or threads.

Errors::

    ImageError          the bytes cannot become a frame; skip them
    ├── TornImage       not a complete, decodable image (yet)
    └── ImageTooLarge   more pixels than Max_Frame_Pixels (refused before decoding)
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

JPEG_EOI = b"\xff\xd9"  # end-of-image marker (ITU-T T.81, table B.1)
MAX_FRAME_PIXELS = 4096 * 4096  # Max_Frame_Pixels' default: 48 MiB as RGB once decoded


class ImageError(Exception):
    """The bytes cannot become a frame; the source skips them and counts them."""


class TornImage(ImageError):
    """The bytes are not a complete image (yet)."""


class ImageTooLarge(ImageError):
    """The image has more pixels than allowed; it was refused before it was decoded.

    Attributes:
        size: (width, height) its header declares, pixels; None when Pillow refused it
            first (over its own decompression-bomb limit, checked as it reads the header).
        limit: the most pixels allowed (``Max_Frame_Pixels``, or Pillow's limit when
            ``size`` is None).
    """

    def __init__(self, size: tuple[int, int] | None, limit: int):
        self.size, self.limit = size, limit
        if size is None:
            super().__init__(f"over Pillow's decompression-bomb limit of {limit} pixels")
        else:
            width, height = size
            super().__init__(f"{width}x{height} is {width * height} pixels, over "
                             f"Max_Frame_Pixels = {limit}")


def decode_image(data: bytes, max_pixels: int = MAX_FRAME_PIXELS) -> tuple[bytes, int, int]:
    """Check that ``data`` is a complete image and return it as JPEG.

    The size is read from the header first (PNG's IHDR, JPEG's SOF: Pillow's
    ``Image.open`` reads no pixel data), and an image over ``max_pixels`` is refused
    before anything is decoded. JPEG bytes then pass through untouched; other formats
    (PNG, ...) are converted once. Width and height come from the image itself, never
    from EXIF. May take a few milliseconds (a full decode; a 4096x4096 RGB PNG took
    0.4 s and 71 MiB more peak memory on one x86 core, longer on a Pi). Thread-safe (Pillow's
    ``DecompressionBombWarning`` is turned into an error with a process-wide warnings
    filter for the duration of the call).

    Args:
        data: the image file's bytes.
        max_pixels: the most pixels (width x height) accepted, >= 1.

    Returns:
        (jpeg bytes, width, height), width and height in pixels.

    Raises:
        ImageTooLarge: the header declares more than ``max_pixels`` pixels, or Pillow
            calls it a decompression bomb (its ``DecompressionBombWarning`` counts as
            an error here).
        TornImage: empty, truncated or not decodable.
    """
    if not data:
        raise TornImage("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise ImageTooLarge((width, height), max_pixels)
                image.load()  # a full decode: a truncated image raises here
                if image.format == "JPEG":
                    if not data.rstrip(b"\0").endswith(JPEG_EOI):
                        raise TornImage("JPEG has no end-of-image marker")
                    return data, width, height
                out = io.BytesIO()
                image.convert("RGB").save(out, "JPEG", quality=90, subsampling=0)
                return out.getvalue(), width, height
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageTooLarge(None, Image.MAX_IMAGE_PIXELS or 0) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise TornImage(str(exc) or type(exc).__name__) from None
