"""Render the sample frames thermal2.jpg, thermal3.jpg, thermal4.jpg from real Lepton captures.

The frames that ``shift.sh`` cycles into the ``file`` source's image. They are rendered
with the daemon's own pipeline (linear AGC, inferno, scale 4 -> 640x480) from three
radiometric Lepton 3.5 captures of the BSD-2-Clause repository Jkillelea/Lepton-3-Module,
whose copies are in ``tests/data`` (see tests/data/README.md and SAMPLE_FRAMES.md).

Usage::

    python tools/make_sample_frames.py [--data DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lepton.radiometry import PixelUnit  # noqa: E402
from thermal_streamer.control.render_settings import RenderSettings  # noqa: E402
from thermal_streamer.measure.frame_stats import compute_stats  # noqa: E402
from thermal_streamer.render.pipeline import render_jpeg  # noqa: E402

DATA_DIR = ROOT / "tests" / "data"
CAPTURE_PREFIX = "Jkillelea_Lepton-3-Module__"
SAMPLES = {  # output name: capture (radiometric centikelvin, (120, 160) uint16)
    "thermal2.jpg": "raw1.npy",
    "thermal3.jpg": "raw3.npy",
    "thermal4.jpg": "raw6.npy",
}
SETTINGS = RenderSettings(colormap="inferno", agc="linear", scale=4,  # 160x120 -> 640x480
                          interpolation="bilinear", jpeg_quality=90)


def render_sample(capture: Path) -> tuple[bytes, str]:
    """Render one capture; returns (JPEG bytes, a one-line description of its range)."""
    pixels = np.load(capture)
    if pixels.dtype != np.uint16 or pixels.ndim != 2:
        raise ValueError(f"{capture}: expected a 2-D uint16 array, "
                         f"got {pixels.dtype} {pixels.shape}")
    jpeg, width, height, _ = render_jpeg(pixels, PixelUnit.CENTIKELVIN, SETTINGS)
    stats = compute_stats(pixels, PixelUnit.CENTIKELVIN)
    return jpeg, f"{width}x{height}, {stats.min:.1f}..{stats.max:.1f} °C"


def main(argv: list[str] | None = None) -> int:
    """Write the sample frames; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA_DIR,
                        help=f"folder with the captures (default {DATA_DIR})")
    parser.add_argument("--out", type=Path, default=ROOT,
                        help=f"folder to write the JPEGs to (default {ROOT})")
    args = parser.parse_args(argv)
    for name, capture in SAMPLES.items():
        source = args.data / (CAPTURE_PREFIX + capture)
        if not source.is_file():
            print(f"missing capture {source}", file=sys.stderr)
            return 1
        jpeg, description = render_sample(source)
        (args.out / name).write_bytes(jpeg)
        print(f"{name}: {source.name}, {description}, {len(jpeg)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
