"""The original project's fan-out, as a benchmark baseline: one loop, blocking sends.

It does what the seed project's server did, with ``websocket-server==0.6.4``: a loop
that reads the JPEG file, base64-encodes it and calls
``server.send_message_to_all(text)``, at the source rate. ``send_message_to_all``
walks the client list and does a blocking ``socket.send`` per client, so one client
that stops reading freezes the loop for everyone once its socket buffers are full.

The only change to the message: a JPEG comment segment (COM, ``FF FE``) is inserted
right after the start-of-image marker, carrying ``seq`` and the publish time
(``time.time()`` taken just after the file was read, i.e. the capture time of this
frame, like the daemon's ``header.timestamp``). Its fixed size (:data:`TAG_BYTES`
bytes after SOI, 48 bytes in all) makes the first 64 base64 characters decode to
exactly SOI + COM, so a client reads seq and time without decoding the whole frame.
A COM segment is valid JPEG; browsers and decoders ignore it. It adds 46 bytes.

The loop keeps a deadline schedule (no drift; when late it does not burst), which is
kind to the original. The process exits by itself: after ``--duration`` seconds the
loop ends; a watchdog thread ends the process ``--grace`` seconds later even when the
loop is blocked in a send to a stalled client.

Prints ``original serving WebSocket on 127.0.0.1:<port>`` on stderr when ready.
"""

from __future__ import annotations

import argparse
import base64
import logging
import os
import struct
import sys
import threading
import time

from websocket_server import WebsocketServer

JPEG_SOI = b"\xff\xd8"
JPEG_COM = b"\xff\xfe"
TAG_FORMAT = "bench seq=%010d t=%019.6f"  # 42 ASCII bytes
TAG_BYTES = len(TAG_FORMAT % (0, 0.0))
PREFIX_BYTES = len(JPEG_SOI) + len(JPEG_COM) + 2 + TAG_BYTES  # 48: a multiple of 3
PREFIX_B64_CHARS = PREFIX_BYTES // 3 * 4  # 64
assert PREFIX_BYTES % 3 == 0


def tag_jpeg(jpeg: bytes, seq: int, publish_time: float) -> bytes:
    """Insert the benchmark's COM segment (seq, publish time in Unix seconds) after SOI."""
    if not jpeg.startswith(JPEG_SOI):
        raise ValueError("not a JPEG: no start-of-image marker")
    tag = (TAG_FORMAT % (seq, publish_time)).encode("ascii")
    return JPEG_SOI + JPEG_COM + struct.pack(">H", 2 + len(tag)) + tag + jpeg[len(JPEG_SOI):]


def read_tag(text_prefix: str | bytes) -> tuple[int, float]:
    """(seq, publish time) from the first :data:`PREFIX_B64_CHARS` characters of a message.

    Raises:
        ValueError: the message carries no benchmark tag.
    """
    prefix = base64.b64decode(text_prefix[:PREFIX_B64_CHARS])
    tag = prefix[6:].decode("ascii", "replace")
    if prefix[2:4] != JPEG_COM or not tag.startswith("bench seq="):
        raise ValueError("message has no benchmark tag")
    seq_text, time_text = tag[len("bench seq="):].split(" t=")
    return int(seq_text), float(time_text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", required=True, help="JPEG file read for every frame")
    parser.add_argument("--interval", type=float, required=True, help="seconds between frames")
    parser.add_argument("--duration", type=float, required=True, help="seconds to run")
    parser.add_argument("--grace", type=float, default=3.0,
                        help="the process ends this long after --duration, blocked or not")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    def watchdog() -> None:
        sys.stderr.write("original: watchdog ends the process\n")
        sys.stderr.flush()
        os._exit(0)

    timer = threading.Timer(args.duration + args.grace, watchdog)
    timer.daemon = True
    timer.start()

    server = WebsocketServer(host="127.0.0.1", port=args.port, loglevel=logging.WARNING)
    server.run_forever(threaded=True)
    sys.stderr.write(f"original serving WebSocket on 127.0.0.1:{server.port}\n")
    sys.stderr.flush()

    seq = 0
    start = time.monotonic()
    deadline = start
    while time.monotonic() - start < args.duration:
        with open(args.image, "rb") as f:
            jpeg = f.read()
        seq += 1
        text = base64.b64encode(tag_jpeg(jpeg, seq, time.time())).decode("ascii")
        server.send_message_to_all(text)
        deadline = max(deadline + args.interval, time.monotonic())
        time.sleep(max(0.0, deadline - time.monotonic()))
    sys.stderr.write(f"original: published {seq} frames\n")
    sys.stderr.flush()
    server.shutdown_abruptly()
    return 0


if __name__ == "__main__":
    sys.exit(main())
