#!/usr/bin/env python3
"""Send a PSI bsread stream (docs/bsread.md, §N below) for the daemon's ``zmq`` source.

Binds a ZeroMQ PUSH socket (PUB with ``--pub``) like bsread's Sender (§1) and sends, at
10 Hz by default, messages of three channels (§2-§7):

    image            uint16, shape [640, 480] (numpy 480 rows x 640 cols): a 2-D Gaussian
                     spot circling the frame on a background of about 1000 counts
    beam_energy      float64 scalar, 5 + 0.5·sin(pulse / 10)
    repetition_rate  int32 scalar, 100

``pulse_id`` counts up from ``--start-pulse-id``; the global timestamp is the time of
sending; the data header carries its MD5 ``hash`` (§3, §9). ``--compress
bitshuffle_lz4`` compresses the data header and the image (§8.2) with the
``bitshuffle`` package. ``--bad-every N`` makes every N-th message invalid on purpose
(its last part is left out, so the data header does not match the parts).

The address may use port ``*`` (any free port); the bound endpoint is printed on the
first line of standard output, e.g. ``bound tcp://127.0.0.1:40123``.

Examples:

    python tools/bsread_generator.py                     # PUSH on tcp://127.0.0.1:9999
    python tools/bsread_generator.py --pub --compress bitshuffle_lz4 --seconds 60
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import signal
import struct
import sys
import time
from collections.abc import Sequence

import numpy as np
import zmq

WIDTH, HEIGHT = 640, 480
SEND_TIMEOUT_MS = 200  # a PUSH with no receiver blocks; this keeps --seconds honest
QUEUE = 10  # PY's Sender queue_size (§1)
TYPES = {np.dtype("uint16"): "uint16", np.dtype("float64"): "float64",
         np.dtype("int32"): "int32", np.dtype("int64"): "int64", np.dtype("uint8"): "uint8"}


def bitshuffle_lz4(data: np.ndarray) -> bytes:
    """bsread's bitshuffle_lz4 layout (§8.2): sizes, then the bitshuffle package's blocks."""
    import bitshuffle

    flat = np.ascontiguousarray(data).reshape(-1)
    size = flat.dtype.itemsize
    block = max(128, 8192 // size // 8 * 8)  # the senders' block size (§8.2)
    body = bitshuffle.compress_lz4(flat, block)
    return struct.pack(">qI", flat.nbytes, block * size) + body.tobytes()


def build_message(values: dict[str, np.ndarray | float | int], pulse_id: int,
                  timestamp: tuple[int, int], compress: str = "none",
                  compressed: Sequence[str] = ()) -> list[bytes]:
    """The parts of one bsread message (§2), little-endian.

    Args:
        values: channel name -> scalar (Python float -> float64, numpy scalar -> its
            type) or ndarray (numpy shape, slowest first; sent fastest first, §6).
        pulse_id: the pulse number.
        timestamp: (sec, ns), used as global and per-channel timestamp (as PY does, §7).
        compress: "none" or "bitshuffle_lz4": compression of the data header (§3) and of
            the channels named in ``compressed``.

    Returns:
        2 + 2·len(values) parts.
    """
    channels, value_parts = [], []
    for name, value in values.items():
        array = np.asarray(value)
        if isinstance(value, float):
            array = array.astype(np.float64)
        shape = list(array.shape[::-1]) or [1]  # §6: fastest dimension first; scalar [1]
        entry = {"name": name, "type": TYPES[array.dtype], "shape": shape, "encoding": "little"}
        raw = array.astype(array.dtype.newbyteorder("<"))
        if compress != "none" and name in compressed:
            entry["compression"] = compress
            value_parts.append(bitshuffle_lz4(raw))
        else:
            value_parts.append(raw.tobytes())
        channels.append(entry)
    data_header = json.dumps({"htype": "bsr_d-1.1", "channels": channels}).encode()
    main = {"htype": "bsr_m-1.1", "pulse_id": pulse_id,
            "global_timestamp": {"sec": timestamp[0], "ns": timestamp[1]}}
    if compress != "none":
        data_header = bitshuffle_lz4(np.frombuffer(data_header, np.uint8))
        main["dh_compression"] = compress
    main["hash"] = hashlib.md5(data_header).hexdigest()
    stamp = struct.pack("<QQ", *timestamp)
    parts = [json.dumps(main).encode(), data_header]
    for value_part in value_parts:
        parts += [value_part, stamp]
    return parts


class Scene:
    """The 640x480 uint16 picture: a Gaussian spot moving on a circle."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT):
        self.width, self.height = width, height
        self._y, self._x = np.mgrid[0:height, 0:width].astype(np.float32)
        self._noise = np.random.default_rng(0).integers(0, 50, (height, width), dtype=np.uint16)

    def image(self, pulse_id: int) -> np.ndarray:
        """ndarray uint16 (height, width), counts: background about 1000, spot peak about 31000."""
        angle = pulse_id / 20.0
        cx = self.width / 2 + self.width / 4 * math.cos(angle)
        cy = self.height / 2 + self.height / 4 * math.sin(angle)
        sigma = self.width / 20
        spot = np.exp(-((self._x - cx) ** 2 + (self._y - cy) ** 2) / (2 * sigma * sigma))
        return (1000 + 30000 * spot).astype(np.uint16) + self._noise


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", default="tcp://127.0.0.1:9999",
                        help="endpoint to bind (tcp://127.0.0.1:9999; port * = any free port)")
    parser.add_argument("--pub", action="store_true", help="PUB socket instead of PUSH")
    parser.add_argument("--rate", type=float, default=10.0, help="messages per second (10)")
    parser.add_argument("--count", type=int, help="stop after this many messages")
    parser.add_argument("--seconds", type=float, help="stop after this many seconds")
    parser.add_argument("--start-pulse-id", type=int, default=0, help="first pulse_id (0)")
    parser.add_argument("--compress", choices=("none", "bitshuffle_lz4"), default="none",
                        help="compression of the data header and the image (none)")
    parser.add_argument("--bad-every", type=int, default=0, metavar="N",
                        help="leave the last part out of every N-th message (0: never)")
    args = parser.parse_args(argv)
    if args.rate <= 0:
        parser.error("--rate must be above 0")

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    context = zmq.Context()
    sock = context.socket(zmq.PUB if args.pub else zmq.PUSH)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.setsockopt(zmq.SNDHWM, QUEUE)
    sock.setsockopt(zmq.SNDTIMEO, SEND_TIMEOUT_MS)
    try:
        sock.bind(args.address)
    except zmq.ZMQError as exc:
        print(f"bsread_generator: cannot bind {args.address}: {exc}", file=sys.stderr)
        return 1
    print("bound", sock.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
    scene = Scene()
    started = time.monotonic()
    sent = dropped = 0
    pulse_id = args.start_pulse_id
    try:
        while not stopping:
            if args.count is not None and sent + dropped >= args.count:
                break
            if args.seconds is not None and time.monotonic() - started >= args.seconds:
                break
            now = time.time_ns()
            values = {"image": scene.image(pulse_id),
                      "beam_energy": 5 + 0.5 * math.sin(pulse_id / 10),
                      "repetition_rate": np.int32(100)}
            parts = build_message(values, pulse_id, divmod(now, 1_000_000_000), args.compress,
                                  ("image",))
            if args.bad_every and (pulse_id - args.start_pulse_id + 1) % args.bad_every == 0:
                parts = parts[:-1]
            try:
                sock.send_multipart(parts)
                sent += 1
            except zmq.Again:  # PUSH: nobody connected (or the queue is full)
                dropped += 1
            pulse_id += 1
            delay = started + (sent + dropped) / args.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        context.term()
    print(f"sent {sent} messages, {dropped} not taken", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
