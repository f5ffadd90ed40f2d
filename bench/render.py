"""Rendering time per frame: our pipeline against the original's matplotlib rendering.

For each AGC mode, at native size (Lepton 3 160x120 and Lepton 2 80x60) and with
Scale 4 (bilinear, the default, and nearest), measures the time to turn one raw frame
into a colour JPEG (AGC, colormap, enlarging, JPEG: the same work the baselines do;
the header statistics are timed on their own line, and so are 16 measurement regions:
the ``rois`` header field with 8 spots of 3x3 and 8 boxes of 21x16, and with 16 boxes
of 41x31, each a new frame's one measurement (the whole frame and the regions, which
every reader shares), and that measurement read by the four readers of a frame: the
header, the alarms, the stats log and MQTT), and in the same run:

- the original: ``matplotlib.pyplot.imsave`` of the same frame and colormap into an
  in-memory JPEG (what the original project did for every frame);
- a matplotlib figure of the same display size (imshow, savefig to JPEG), the usual
  way to get an enlarged picture out of matplotlib.

Frames are the real Lepton captures in tests/data. Prints a table (ms per frame and
bytes per frame), then ``speedup_vs_matplotlib=<ratio>`` as the last line: the
default pipeline (linear AGC, inferno, Scale 1) at native Lepton 3 size against
``plt.imsave``.

Usage: python bench/render.py [--repeat N]
"""

from __future__ import annotations

import argparse
import io
import itertools
import statistics
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lepton.radiometry import PixelUnit  # noqa: E402
from thermal_streamer.control.render_settings import AGC_MODES, RenderSettings  # noqa: E402
from thermal_streamer.core.frames import RawFrame  # noqa: E402
from thermal_streamer.measure.frame_stats import compute_stats  # noqa: E402
from thermal_streamer.measure.meter import Meter  # noqa: E402
from thermal_streamer.measure.regions import MAX_REGIONS, Region  # noqa: E402
from thermal_streamer.render.pipeline import render_jpeg  # noqa: E402

FRAMES = {
    "lepton3 160x120": ROOT / "tests/data/Jkillelea_Lepton-3-Module__raw1.npy",
    "lepton2 80x60": ROOT / "tests/data/brandoncurtis_LeptonModule__raw1.npy",
}


def per_frame_ms(render, repeat: int) -> tuple[float, int]:
    """Median milliseconds of ``render()`` over ``repeat`` calls (after a warm-up), and bytes."""
    size = len(render())
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        render()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000, size


def ours(pixels, unit, settings):
    def render():
        return render_jpeg(pixels, unit, settings)[0]
    return render


def stats(pixels, unit):
    def render():
        compute_stats(pixels, unit)
        return b""
    return render


def regions(pixels, unit, box_w, box_h, spots=True, readers=1):
    """The ``rois`` header field of 16 regions spread over the frame (half of them spots of
    3x3 when ``spots``, the rest boxes), measured anew for every call (a new seq), with
    the whole frame's statistics; then ``readers - 1`` more readers of the same frame."""
    rows, cols = pixels.shape
    chosen = []
    for n in range(MAX_REGIONS):
        x, y = (n * 37) % (cols - box_w), (n * 23) % (rows - box_h)
        chosen.append(Region.make_spot(f"r{n}", x + 1, y + 1, 3) if spots and n % 2 else
                      Region.make_box(f"r{n}", x, y, x + box_w - 1, y + box_h - 1))
    meter = Meter(chosen, lambda part: None)
    frame = RawFrame(pixels, unit, 0.0)
    seqs = itertools.count(1)

    def render():
        seq = next(seqs)
        meter.header_part(seq, frame)
        for _ in range(readers - 1):
            meter.measure(seq, frame)
        return b""
    return render


def imsave(pixels):
    def render():
        out = io.BytesIO()
        plt.imsave(out, pixels, cmap="inferno", format="jpeg")
        return out.getvalue()
    return render


def figure(pixels, scale):
    rows, cols = pixels.shape
    fig = plt.figure(figsize=(cols * scale / 100, rows * scale / 100), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    image = ax.imshow(pixels, cmap="inferno", interpolation="bilinear")

    def render():
        image.set_data(pixels)
        out = io.BytesIO()
        fig.savefig(out, format="jpeg", dpi=100)
        return out.getvalue()
    return render


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    print("| frame | scale | pipeline | ms/frame | bytes/frame |")
    print("|---|---|---|---|---|")
    results = {}
    for label, path in FRAMES.items():
        pixels = np.load(path)
        unit = PixelUnit.CENTIKELVIN if pixels.min() > 20000 else PixelUnit.COUNTS
        for scale in (1, 4):
            rows = [(f"ours agc={mode}",
                     ours(pixels, unit, RenderSettings(agc=mode, range=(20, 35), scale=scale)))
                    for mode in AGC_MODES]
            rows.append(("matplotlib figure", figure(pixels, scale)))
            if scale == 1:
                rows.append(("original plt.imsave", imsave(pixels)))
                rows.append(("ours header statistics", stats(pixels, unit)))
                rows.append(("ours rois: 16 regions (8 spots 3x3, 8 boxes 21x16)",
                             regions(pixels, unit, 21, 16)))
                rows.append(("ours rois: 16 boxes 41x31",
                             regions(pixels, unit, 41, 31, spots=False)))
                rows.append(("ours measurement read by 4 readers, 16 regions (as above)",
                             regions(pixels, unit, 21, 16, readers=4)))
            else:
                rows.append(("ours agc=linear nearest", ours(pixels, unit, RenderSettings(
                    scale=scale, interpolation="nearest"))))
            for name, render in rows:
                ms, size = per_frame_ms(render, args.repeat)
                results[(label, scale, name)] = ms
                print(f"| {label} | {scale} | {name} | {ms:.3f} | {size} |")
    l3 = "lepton3 160x120"
    default = results[(l3, 1, "ours agc=linear")]
    print(f"\nlepton3 native, default pipeline: {default:.3f} ms/frame")
    figure4 = results[(l3, 4, "matplotlib figure")]
    print(f"speedup_vs_figure_scale4_bilinear={figure4 / results[(l3, 4, 'ours agc=linear')]:.1f}")
    print(f"speedup_vs_figure_scale4_nearest="
          f"{figure4 / results[(l3, 4, 'ours agc=linear nearest')]:.1f}")
    print(f"speedup_vs_matplotlib={results[(l3, 1, 'original plt.imsave')] / default:.2f}")


if __name__ == "__main__":
    main()
