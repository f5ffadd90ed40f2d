"""Benchmark viewers: N asyncio ``websockets`` clients in one process, one result file.

Protocol with the parent (``bench/fanout.py``):

1. connect ``--n`` clients (at most ``--connect-concurrency`` handshakes at a time);
   each starts reading at once, so nothing piles up before the window;
2. print ``READY <connected> <failed>`` on stdout;
3. read one line ``<t0> <t1>`` (Unix seconds) from stdin: the measurement window;
4. record every frame received in [t0, t1]; at t1 stop reading, close every connection
   (bounded), write the JSON result to ``--out`` and exit.

Per frame a client records its receipt time (``time.time()`` right after ``recv()``
returns), the frame's ``seq`` and its publish time:

- ``stream`` (our ``/stream``): ``seq`` and ``timestamp`` from the JSON header;
- ``original`` (``bench/original_server.py``): from the JPEG comment tag it inserts,
  read from the first 64 base64 characters (the rest is not decoded);
- ``legacy`` (our ``/``, plain base64): no seq or time exists; only counts.

The receipt time includes this process's own scheduling delay: when a frame reaches
all N clients at once, the last of them is handled after the other N-1. The parent
measures this process's CPU so a client-side bottleneck can be seen.

Every wait is bounded: connects by ``--open-timeout``, the window line by
``--ready-timeout``, reading by t1, closing by :data:`CLOSE_TIMEOUT_S`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time

from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # repo root
from bench.original_server import PREFIX_B64_CHARS, read_tag  # noqa: E402
from thermal_streamer.protocols.wire import HEADER_LENGTH  # noqa: E402

CLOSE_TIMEOUT_S = 3.0


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


class Viewer:
    """One client connection and what it received inside the window."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.connection: ClientConnection | None = None
        self.seqs: list[int] = []
        self.latencies_us: list[int] = []
        self.frames = 0
        self.first: tuple[int, float] | None = None  # (seq, publish time) of the first frame
        self.last: tuple[int, float] | None = None  # ... and of the last, in the window
        self.max_gap_s = 0.0  # longest time without a frame in the window (edges included)
        self.previous: float | None = None  # receipt time of the last frame in the window
        self.error: str | None = None

    async def read(self, window: asyncio.Future) -> None:
        """Receive frames until cancelled; record those received inside the window."""
        assert self.connection is not None
        t0 = t1 = None
        # /stream: text messages are hello/state JSON, binary ones frames; the base64
        # protocols are read as bytes (no UTF-8 decoding of the whole frame).
        decode = None if self.kind == "stream" else False
        while True:
            message = await self.connection.recv(decode=decode)
            now = time.time()
            if t0 is None:
                if not window.done():
                    continue
                t0, t1 = window.result()
            if now < t0:
                continue
            if now > t1:
                return
            if self.kind == "stream":
                if isinstance(message, str):
                    continue  # hello / state
                (length,) = HEADER_LENGTH.unpack_from(message)
                header = json.loads(message[HEADER_LENGTH.size:HEADER_LENGTH.size + length])
                seq, published = header["seq"], header["timestamp"]
            elif self.kind == "original":
                seq, published = read_tag(message[:PREFIX_B64_CHARS])
            else:
                seq = published = None
            self.frames += 1
            self.max_gap_s = max(self.max_gap_s, now - (self.previous or t0))
            self.previous = now
            if seq is None:
                continue
            self.seqs.append(seq)
            self.latencies_us.append(round((now - published) * 1e6))
            if self.first is None:
                self.first = (seq, published)
            self.last = (seq, published)

    def result(self) -> dict:
        """What the parent needs: counts, seqs, latencies (µs), window edges, errors."""
        return {"frames": self.frames, "seqs": self.seqs, "latencies_us": self.latencies_us,
                "first": self.first, "last": self.last, "max_gap_s": self.max_gap_s,
                "error": self.error}


async def run(args: argparse.Namespace) -> dict:
    loop = asyncio.get_running_loop()
    window: asyncio.Future = loop.create_future()
    viewers = [Viewer(args.kind) for _ in range(args.n)]
    readers: list[asyncio.Task] = []
    reading: list[Viewer] = []  # readers[i] reads for reading[i] (in the order they connected)
    gate = asyncio.Semaphore(args.connect_concurrency)

    async def open_one(viewer: Viewer) -> None:
        async with gate:
            try:
                viewer.connection = await connect(
                    args.url, max_size=None, compression=None, ping_interval=None,
                    open_timeout=args.open_timeout, close_timeout=1.0)
            except Exception as exc:  # noqa: BLE001 - reported per client, not fatal
                viewer.error = f"connect: {type(exc).__name__}: {exc}"
                return
        readers.append(asyncio.create_task(viewer.read(window)))
        reading.append(viewer)

    await asyncio.gather(*(open_one(v) for v in viewers))
    connected = sum(v.connection is not None for v in viewers)
    print(f"READY {connected} {args.n - connected}", flush=True)

    line = await asyncio.wait_for(loop.run_in_executor(None, sys.stdin.readline),
                                  args.ready_timeout)
    t0, t1 = (float(x) for x in line.split())
    window.set_result((t0, t1))
    await asyncio.sleep(max(0.0, t1 - time.time()) + 0.05)
    for task in readers:
        task.cancel()
    for viewer in viewers:  # the gap from the last frame to the window's end
        viewer.max_gap_s = max(viewer.max_gap_s, t1 - (viewer.previous or t0))
    outcomes = await asyncio.gather(*readers, return_exceptions=True)
    for viewer, outcome in zip(reading, outcomes, strict=True):
        if isinstance(outcome, Exception) and not isinstance(outcome, asyncio.CancelledError):
            viewer.error = f"read: {type(outcome).__name__}: {outcome}"

    async def close_all() -> None:
        await asyncio.gather(*(v.connection.close() for v in viewers if v.connection),
                             return_exceptions=True)

    try:
        await asyncio.wait_for(close_all(), CLOSE_TIMEOUT_S)
    except TimeoutError:
        for viewer in viewers:
            if viewer.connection is not None and viewer.connection.transport is not None:
                viewer.connection.transport.abort()
    return {"connected": connected, "clients": [v.result() for v in viewers]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--kind", choices=("stream", "original", "legacy"), required=True)
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--out", required=True, help="JSON result file")
    parser.add_argument("--connect-concurrency", type=int, default=32)
    parser.add_argument("--open-timeout", type=float, default=30.0)
    parser.add_argument("--ready-timeout", type=float, default=120.0)
    args = parser.parse_args()
    raise_fd_limit()
    result = asyncio.run(run(args))
    with open(args.out, "w") as f:
        json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
