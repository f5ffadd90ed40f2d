#!/usr/bin/env python3
"""Push frames to the daemon's ``tcp`` source (docs/protocol.md, section 3.2).

Each frame goes out as an 8-byte big-endian length (``struct`` format ``>Q``) and then
that many bytes of JPEG or PNG, written with ``sendall`` like the original imagestream
client. Frames come from one of:

    --folder DIR     the JPEG/PNG files in DIR, sorted by name, cycled
    --video FILE     the frames of a video, decoded by ffmpeg to MJPEG on a pipe
    --pattern        a moving gradient drawn with Pillow (the default)

Examples:

    python tools/send_frames.py --rate 9                       # test pattern, forever
    python tools/send_frames.py --folder shots/ --count 100
    python tools/send_frames.py --video clip.mp4 --seconds 30 --port 5000

Exit status: 0 when done (or on Ctrl-C), 1 when the daemon cannot be reached or the
input cannot be read, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import io
import itertools
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageDraw

LENGTH = struct.Struct(">Q")  # docs/protocol.md, 3.2: the frame's length, big-endian
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
JPEG_SOI, JPEG_EOI = b"\xff\xd8", b"\xff\xd9"  # ITU-T T.81 markers
READ_BYTES = 1 << 16


def pattern_frames(width: int, height: int, quality: int = 85) -> Iterator[bytes]:
    """JPEGs of a diagonal gradient that moves one step per frame, with the frame number."""
    base = Image.linear_gradient("L").resize((width, height))
    for n in itertools.count():
        shift = (n * 8) % 256
        frame = base.point(lambda v, s=shift: (v + s) % 256).convert("RGB")
        ImageDraw.Draw(frame).text((10, 10), f"frame {n}", fill=(255, 0, 0))
        out = io.BytesIO()
        frame.save(out, "JPEG", quality=quality)
        yield out.getvalue()


def folder_frames(folder: Path) -> Iterator[bytes]:
    """The bytes of every JPEG/PNG in ``folder`` (sorted by name), over and over."""
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise SystemExit(f"send_frames: no .jpg, .jpeg or .png files in {folder}")
    while True:
        for path in files:
            yield path.read_bytes()


def video_frames(video: Path) -> Iterator[bytes]:
    """The frames of ``video`` as JPEGs: ffmpeg writes MJPEG to a pipe, split at EOI."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("send_frames: --video needs ffmpeg on the PATH "
                         "(apt-get install ffmpeg), or extract frames and use --folder")
    if not video.is_file():
        raise SystemExit(f"send_frames: {video} is not a file")
    command = [ffmpeg, "-nostdin", "-loglevel", "error", "-i", str(video),
               "-f", "image2pipe", "-c:v", "mjpeg", "-q:v", "3", "-"]
    with subprocess.Popen(command, stdout=subprocess.PIPE) as process:
        buffer = b""
        try:
            while chunk := process.stdout.read(READ_BYTES):
                buffer += chunk
                # 0xFF in entropy-coded data is followed by 0x00, so FF D9 only ends an image
                while (end := buffer.find(JPEG_EOI)) >= 0:
                    start = buffer.find(JPEG_SOI)
                    yield buffer[max(start, 0):end + 2]
                    buffer = buffer[end + 2:]
        finally:
            process.kill()
    if process.returncode not in (0, -9):
        raise SystemExit(f"send_frames: ffmpeg could not read {video} (exit {process.returncode})")


def send(frames: Iterator[bytes], host: str, port: int, rate_hz: float,
         count: int | None, seconds: float | None) -> int:
    """Send frames at ``rate_hz`` until ``count`` frames or ``seconds`` are done.

    Returns:
        The number of frames sent.
    """
    sock = socket.create_connection((host, port), timeout=10)
    sent = 0
    started = time.monotonic()
    interval = 1.0 / rate_hz if rate_hz > 0 else 0.0
    try:
        for data in frames:
            if count is not None and sent >= count:
                break
            if seconds is not None and time.monotonic() - started >= seconds:
                break
            sock.sendall(LENGTH.pack(len(data)))
            sock.sendall(data)
            sent += 1
            delay = started + sent * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    finally:
        sock.close()
    return sent


def size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError("must be WIDTHxHEIGHT, e.g. 640x480") from None
    if not (1 <= width <= 8192 and 1 <= height <= 8192):
        raise argparse.ArgumentTypeError("width and height must be 1..8192")
    return width, height


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    given = parser.add_mutually_exclusive_group()
    given.add_argument("--folder", type=Path, help="send the JPEG/PNG files in this folder")
    given.add_argument("--video", type=Path, help="send a video's frames (needs ffmpeg)")
    given.add_argument("--pattern", action="store_true", help="send a moving gradient (default)")
    parser.add_argument("--size", type=size, default=(640, 480), help="pattern size (640x480)")
    parser.add_argument("--host", default="127.0.0.1", help="daemon address (127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="its TCP_Port (5000)")
    parser.add_argument("--rate", type=float, default=10.0,
                        help="frames per second; 0 = as fast as possible (10)")
    parser.add_argument("--count", type=int, help="stop after this many frames")
    parser.add_argument("--seconds", type=float, help="stop after this many seconds")
    args = parser.parse_args(argv)
    if args.folder is not None:
        frames = folder_frames(args.folder)
    elif args.video is not None:
        frames = video_frames(args.video)
    else:
        frames = pattern_frames(*args.size)
    try:
        sent = send(frames, args.host, args.port, args.rate, args.count, args.seconds)
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        print(f"send_frames: cannot send to {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"sent {sent} frames to {args.host}:{args.port}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
