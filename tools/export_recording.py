"""Export a recording: 16-bit multi-page TIFF, MP4 of the rendered frames, .npy stack, or CSV.

Reads the daemon's recordings (CPTV with its JSON Lines sidecar, HDF5) and whatever the
replay source reads (a foreign ``.cptv``, ``.npy``, a folder of 16-bit PNG/TIFF), with
:func:`thermal_streamer.recording.formats.read_recording`.

* ``tiff``: ``tifffile``, ImageJ hyperstack (opens in ImageJ/Fiji as a stack), uint16
  (frames, rows, cols) as recorded; each slice's label is its capture time (Unix seconds,
  6 decimals); the ImageJ ``Info`` holds JSON: ``unit`` (centikelvin, decikelvin, counts),
  ``timestamps``, ``seq``, ``fpa_temp_c`` and the recording's header.
* ``mp4``: the frames rendered by the daemon's own pipeline (``--palette``, ``--agc``,
  ``--range``, ``--scale``), piped as JPEGs to ``ffmpeg`` (libx264, yuv420p) at the
  recording's median frame rate.
* ``npy``: uint16 (frames, rows, cols), as recorded.
* ``csv``: one row per frame, the ``Stats_Log`` columns
  (``time,seq,min,max,mean,center,unit,fpa_temp_c``).

Progress goes to stderr: a bar on a terminal, one line per 10 % otherwise.

Usage::

    python tools/export_recording.py RECORDING --to tiff|mp4|npy|csv -o OUT
           [--palette NAME] [--agc linear|percentile|histogram|fixed] [--range LOW HIGH]
           [--scale N]

Exit status: 0 done, 1 the recording cannot be read or ffmpeg failed, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lepton.errors import LeptonError  # noqa: E402
from thermal_streamer.control.fields import SettingError  # noqa: E402
from thermal_streamer.control.render_settings import RenderSettings  # noqa: E402
from thermal_streamer.core.frames import RawFrame  # noqa: E402
from thermal_streamer.measure.meter import measure_frame  # noqa: E402
from thermal_streamer.outputs.stats_log import HEADER, StatsLog, csv_line  # noqa: E402
from thermal_streamer.recording.formats import Recording, read_recording  # noqa: E402
from thermal_streamer.render.pipeline import render_jpeg  # noqa: E402


class Progress:
    """Progress on stderr: a redrawn bar on a terminal, a line per 10 % otherwise."""

    def __init__(self, total: int, what: str, stream: IO[str] = sys.stderr):
        self.total, self.what, self.stream = max(total, 1), what, stream
        self.tty = stream.isatty()
        self._shown = -1

    def __call__(self, done: int) -> None:
        percent = done * 100 // self.total
        if self.tty:
            bar = "#" * (percent // 4)
            self.stream.write(f"\r{self.what} [{bar:<25}] {percent:3d}% ({done}/{self.total})")
            if done >= self.total:
                self.stream.write("\n")
            self.stream.flush()
        elif percent // 10 > self._shown:
            self._shown = percent // 10
            print(f"{self.what}: {percent}% ({done}/{self.total} frames)", file=self.stream,
                  flush=True)


def frames_of(recording: Recording) -> Iterator[tuple[int, RawFrame]]:
    """The recording as (seq, RawFrame) (what the daemon's own pipeline takes)."""
    for i, pixels in enumerate(recording.pixels):
        meta = dict(recording.meta[i])
        if not math.isnan(recording.fpa_temp_c[i]):
            meta.setdefault("fpa_temp_c", float(recording.fpa_temp_c[i]))
        yield int(recording.seq[i]), RawFrame(pixels, recording.unit,
                                              float(recording.timestamps_s[i]), meta)


def export_tiff(recording: Recording, out: Path, progress: Progress) -> None:
    import tifffile

    info = {"unit": recording.unit.value, "timestamps": recording.timestamps_s.tolist(),
            "seq": recording.seq.tolist(),
            "fpa_temp_c": [None if math.isnan(v) else v for v in recording.fpa_temp_c.tolist()],
            "header": recording.header}
    labels = [f"{t:.6f}" for t in recording.timestamps_s]
    tifffile.imwrite(out, recording.pixels, imagej=True,
                     metadata={"axes": "TYX", "Labels": labels, "Info": json.dumps(info)})
    progress(len(recording.pixels))


def export_npy(recording: Recording, out: Path, progress: Progress) -> None:
    np.save(out, recording.pixels)
    progress(len(recording.pixels))


def export_csv(recording: Recording, out: Path, progress: Progress) -> None:
    with open(out, "wb") as f:
        f.write(HEADER)
        for i, (seq, frame) in enumerate(frames_of(recording), 1):
            f.write(csv_line(StatsLog.row(frame, measure_frame(seq, frame))))
            progress(i)


def export_mp4(recording: Recording, out: Path, progress: Progress,
               settings: RenderSettings) -> None:
    """Render every frame and encode them with ffmpeg.

    Raises:
        RuntimeError: ffmpeg is missing or failed (its last lines are in the message).
    """
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("mp4 needs ffmpeg: apt-get install ffmpeg")
    times = recording.timestamps_s
    steps = np.diff(times[np.isfinite(times)])
    fps = 1 / float(np.median(steps)) if len(steps) and np.median(steps) > 0 else 8.7
    command = [ffmpeg, "-v", "error", "-y", "-f", "image2pipe", "-c:v", "mjpeg",
               "-framerate", f"{fps:.4f}", "-i", "-", "-c:v", "libx264", "-pix_fmt", "yuv420p",
               "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", str(out)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdin is not None and process.stderr is not None
    try:
        for i, (_, frame) in enumerate(frames_of(recording), 1):
            jpeg, *_ = render_jpeg(frame.pixels, frame.unit, settings)
            process.stdin.write(jpeg)
            progress(i)
        process.stdin.close()
    except BrokenPipeError:
        pass  # ffmpeg stopped: its message says why
    errors = process.stderr.read()
    if process.wait():
        raise RuntimeError(f"ffmpeg failed: {errors.decode(errors='replace').strip()[-500:]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recording", help=".cptv, .h5, .npy or a folder of 16-bit PNG/TIFF")
    parser.add_argument("--to", required=True, choices=("tiff", "mp4", "npy", "csv"))
    parser.add_argument("-o", "--out", required=True, help="the file to write")
    parser.add_argument("--palette", default="inferno", help="mp4: colormap (default inferno)")
    parser.add_argument("--agc", default="linear", help="mp4: linear, percentile, histogram, "
                        "fixed (default linear)")
    parser.add_argument("--range", nargs=2, type=float, metavar=("LOW", "HIGH"),
                        help="mp4: the fixed AGC's range, degrees C (counts for counts)")
    parser.add_argument("--scale", type=int, default=4, help="mp4: enlargement 1..8 (default 4)")
    args = parser.parse_args(argv)
    try:
        settings = RenderSettings(colormap=args.palette, agc=args.agc,
                                  range=tuple(args.range) if args.range else None,
                                  scale=args.scale)
    except SettingError as exc:
        parser.error(str(exc))
    try:
        recording = read_recording(args.recording)
    except LeptonError as exc:
        print(f"export_recording: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    progress = Progress(len(recording.pixels), f"{args.to} {out.name}")
    started = time.monotonic()
    try:
        if args.to == "mp4":
            export_mp4(recording, out, progress, settings)
        else:
            {"tiff": export_tiff, "npy": export_npy, "csv": export_csv}[args.to](
                recording, out, progress)
    except (RuntimeError, OSError) as exc:
        print(f"export_recording: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out} ({len(recording.pixels)} frames, {out.stat().st_size} bytes) in "
          f"{time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
