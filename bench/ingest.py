"""TCP ingest benchmark: 640x480 JPEGs pushed to ``--source tcp`` until a /stream client has them.

Usage::

    python bench/ingest.py [--seconds S] [--rates 10,30,100,300,0] [--quality Q]

One daemon (``websocket_http_server.py --source tcp``, everything on 127.0.0.1, ports
0) and, in this process, one producer thread written like the imagestream client
(``>Q`` length, ``sendall``) and one ``websockets`` sync client on ``/stream``.

Frames (``--image``: one given picture instead): 64 different 640x480 JPEGs of a moving
gradient (``tools/send_frames.py``'s pattern, about 30-40 KB each); each is sent with a
JPEG comment segment (COM, 0xFFFE, right after SOI; decoders ignore it) holding its
sequence number, so the client knows which frame it got. The tcp source passes JPEGs
through untouched, so the client receives exactly the bytes that were sent.

Per target rate (0 = as fast as ``sendall`` goes), for ``--seconds``:

- ``sent Hz``: frames the producer sent / seconds (``sendall`` blocks when the daemon
  falls behind and the socket buffers are full);
- ``ingested Hz``: frames the tcp source published (``/healthz`` source_status.frames)
  / the same seconds; frames still in the socket buffers when sending stops are
  waited for (up to 10 s) and counted, so "not ingested" is what was really lost;
- ``client Hz``: frames the /stream client received (the hub keeps only the newest
  frame, so a client may skip frames at high rates: by design);
- latency ``p50/p99/max`` ms: client receipt time minus the time just before the
  frame's ``sendall``, both ``time.perf_counter()`` in this process.
"""

from __future__ import annotations

import argparse
import io
import struct
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from send_frames import pattern_frames  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from tests.conftest import Daemon, wait_until  # noqa: E402
from thermal_streamer.protocols.wire import parse_frame_message  # noqa: E402

COM = b"\xff\xfe"  # JPEG comment marker (ITU-T T.81, table B.1)
DISTINCT_FRAMES = 64


def tagged(jpeg: bytes, seq: int) -> bytes:
    """``jpeg`` with a COM segment holding ``seq`` right after SOI."""
    payload = b"seq=%012d" % seq
    return jpeg[:2] + COM + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def seq_of(jpeg: bytes) -> int | None:
    if jpeg[2:4] != COM or jpeg[6:10] != b"seq=":
        return None
    return int(jpeg[10:22])


class Client(threading.Thread):
    """A /stream client recording (receipt time, seq) of every frame until stopped."""

    def __init__(self, url: str):
        super().__init__(name="bench-client")
        self.url = url
        self.received: list[tuple[float, int]] = []
        self.ready, self.stop = threading.Event(), threading.Event()

    def run(self) -> None:
        with connect(self.url, open_timeout=5, close_timeout=2, max_size=None) as ws:
            ws.recv(timeout=5)  # hello
            self.ready.set()
            while not self.stop.is_set():
                try:
                    message = ws.recv(timeout=0.2)
                except TimeoutError:
                    continue
                now = time.perf_counter()
                if isinstance(message, bytes):
                    _, jpeg, _ = parse_frame_message(message)
                    seq = seq_of(jpeg)
                    if seq is not None:
                        self.received.append((now, seq))


def run_rate(daemon: Daemon, port: int, frames: list[bytes], rate_hz: float,
             seconds: float, first_seq: int) -> dict:
    """Push frames at ``rate_hz`` for ``seconds``; return the row's figures."""
    import socket

    client = Client(daemon.ws_url + "/stream")
    client.start()
    client.ready.wait(5)
    before = daemon.health()["source_status"]["frames"]
    sent_at: dict[int, float] = {}
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    started = time.perf_counter()
    seq = first_seq
    while (now := time.perf_counter()) - started < seconds:
        data = tagged(frames[seq % len(frames)], seq)
        sent_at[seq] = now
        sock.sendall(struct.pack(">Q", len(data)))
        sock.sendall(data)
        seq += 1
        if rate_hz:
            delay = started + (seq - first_seq) / rate_hz - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
    elapsed = time.perf_counter() - started
    sent = seq - first_seq
    # every frame still in the socket buffers is ingested after sending stops: wait for it
    wait_until(lambda: daemon.health()["source_status"]["frames"] - before >= sent, 10)
    sock.close()
    client.stop.set()
    client.join(5)
    ingested = daemon.health()["source_status"]["frames"] - before
    latencies = np.array([t - sent_at[s] for t, s in client.received if s in sent_at]) * 1e3
    return {"target": rate_hz, "sent_hz": sent / elapsed, "ingested_hz": ingested / elapsed,
            "client_hz": len(client.received) / elapsed,
            "p50": np.percentile(latencies, 50) if len(latencies) else float("nan"),
            "p99": np.percentile(latencies, 99) if len(latencies) else float("nan"),
            "max": latencies.max() if len(latencies) else float("nan"),
            "lost_ingest": sent - ingested, "next_seq": seq}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per rate (5)")
    parser.add_argument("--rates", default="10,30,100,300,0",
                        help="target rates in Hz, 0 = flat out (10,30,100,300,0)")
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality (85)")
    parser.add_argument("--image", type=Path,
                        help="use this picture (resized to 640x480) instead of the pattern")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    if args.image:
        from PIL import Image

        with Image.open(args.image) as image:
            out = io.BytesIO()
            image.convert("RGB").resize((640, 480)).save(out, "JPEG", quality=args.quality)
        frames = [out.getvalue()]
    else:
        generator = pattern_frames(640, 480, args.quality)
        frames = [next(generator) for _ in range(DISTINCT_FRAMES)]
    mean_kb = sum(map(len, frames)) / len(frames) / 1024
    daemon = Daemon(["--source", "tcp", "--tcp-port", "0"])
    try:
        daemon_port = daemon.health()["source_status"]["port"]
        print(f"640x480 JPEG, quality {args.quality}, mean {mean_kb:.1f} KiB; "
              f"{args.seconds:g} s per row; one /stream client")
        print(f"{'target Hz':>9} {'sent Hz':>8} {'ingested Hz':>11} {'client Hz':>9} "
              f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'not ingested':>12}")
        seq = 0
        for rate in rates:
            row = run_rate(daemon, daemon_port, frames, rate, args.seconds, seq)
            seq = row["next_seq"]
            target = "flat out" if rate == 0 else f"{rate:g}"
            print(f"{target:>9} {row['sent_hz']:8.1f} {row['ingested_hz']:11.1f} "
                  f"{row['client_hz']:9.1f} {row['p50']:7.2f} {row['p99']:7.2f} "
                  f"{row['max']:7.2f} {row['lost_ingest']:12d}")
    finally:
        daemon.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
