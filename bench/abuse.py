"""Abuse benchmark: attacks on a running daemon (issue 9), each bounded, with the figures it costs.

Usage::

    python bench/abuse.py [--root TREE] [--only NAME ...] [--limit-s S]

Each attack starts its own daemon (``TREE/websocket_http_server.py --source tcp``, every
port 0 on 127.0.0.1; ``--root`` runs another checkout, e.g. an untouched copy of the
original tree for the "before" figures), runs against it on loopback only, prints one
table row per figure and stops the daemon. Every loop is bounded in count and time; the
whole run stops by itself. RSS is the daemon's resident set size (``psutil``); a viewer
is a ``websockets`` sync client on ``/stream``.

Attacks (``--only`` picks some; add one by writing a function ``attack(daemon, args) ->
list[Figure]`` and an entry in ``ATTACKS``):

- ``squat``: 16 tcp connections that send nothing (reconnected as soon as the daemon
  closes one, as a determined attacker would), then a real producer pushing a 64x48
  JPEG every 0.5 s, reconnecting when closed: seconds until the viewer sees its frame
  (``--limit-s`` at most), and how often its connection was closed before that.
- ``hoard``: 15 producers each send a 16 MiB length prefix and 16 MiB - 1 bytes, then
  hold the connection for 15 s: peak RSS growth, growth at the end of the hold, and
  producers still connected then.
- ``bomb``: while a producer pushes 64x48 frames at 10 Hz, another pushes a 13000x13000
  greyscale PNG (164 KiB on the wire, made row by row here so this process stays
  small): peak RSS growth in the 5 s after, and the longest gap a viewer sees between
  the push and its next frame or between two frames.

The WebSocket attacks run while a producer pushes ``thermal2.jpg`` (30 KB) at 10 Hz and
a viewer counts its frames; a stalled client is a raw socket (4 KiB receive buffer)
that completes the handshake on ``/stream`` and never reads again:

- ``ws-stalled``: 1000 stalled clients join, are held 5 s, then all close at once: peak
  RSS growth, the viewer's frame rate and longest gap, and the WARNING/ERROR lines the
  daemon logged (issue 9 item 1).
- ``ws-commands``: 200 stalled clients, then one client sends 10,000 ``set`` commands as
  fast as it can: the viewer's frame rate, longest gap and state messages, peak RSS
  growth, and how the flooder ended (item 2).
- ``ws-token``: a daemon with a Control_Token; one connection sends 5000 commands with
  wrong tokens: how many were answered before it was closed, the close code, and the
  log lines about it (item 3).
- ``ws-shutdown``: 500 stalled clients with full buffers, then SIGTERM: seconds until the
  daemon exits, and its exit status (item 12).
- ``ws-fds``: a daemon limited to 256 file descriptors; 400 connections to the
  WebSocket port are held 5 s: the daemon's CPU, its log lines about accept and
  tracebacks; then they close: seconds until a viewer's handshake succeeds (item 6).

The HTTP attacks:

- ``trickle``: 400 HTTP connections each send a partial request, then one more byte
  every 5 s: the daemon's peak thread count, how many it closed within 30 s (and when
  the last), and how long a page load takes meanwhile.
- ``fdlimit``: the daemon's file descriptors limited to 256 (``prlimit``), up to 400 HTTP
  connections held open (sending nothing; opened one by one until the daemon's backlog
  is full): the daemon's CPU over 3 s, then, once they close, how long a page load takes.
- ``mjpeg-stall``: while a producer pushes a 320x240 noisy JPEG at 10 Hz, 20
  ``/stream.mjpg`` clients that never read (4 KiB receive buffers): seconds until the
  daemon has dropped them all (Send_Timeout is 10 s).
- ``smuggle``: a GET with ``Content-Length`` (or ``Transfer-Encoding: chunked``) whose
  body is another request: the status lines that come back.
- ``resets``: 200 HTTP connections reset (RST) after half a request line and 200 after a
  whole ``GET /``: tracebacks and lines in the daemon's log.
- ``sigterm``: 1000 slow HTTP connections (half a request each), then SIGTERM: seconds
  until the daemon has exited.

The memory attacks (issue 17), each with the daemon's RSS before, at its peak and after:

- ``playback``: a 300 s Lepton 3 CPTV recording (2610 frames of 160x120 centikelvin with
  noise and a moving hot spot, written here with the tree's CptvWriter) played from start
  to end through ``/playback/NAME/I`` (every PLAYBACK_STRIDE-th frame, one client).
- ``playback-2``: two such recordings played at once by two clients (every
  PLAYBACK_STRIDE_2-th frame each, at most PLAYBACK_LIMIT_S).
- ``webhook-body``: a simulated-source daemon whose alarm (frame max above -273 C)
  posts at once to an endpoint here that answers 200 with an endless body (at most
  ENDLESS_BYTES, then it closes): RSS, and how much the endpoint could send.
- ``mqtt-huge``: an edge daemon (``--source mqtt``) on a Mosquitto of its own, then a
  200 MiB retained message on the relayed camera's ``frame`` topic (``mosquitto_pub``):
  the edge's RSS over the next HUGE_WATCH_S.

And one attack on what the daemon keeps per name:

- ``region-churn``: a simulated-source daemon publishing to a Mosquitto of its own
  (``Stats_Interval = 0.05``), RENAMES renames of one region (one every RENAME_PERIOD_S,
  so each name is published): the size of ``/metrics`` before and after.

Every daemon gets its soft file-descriptor limit raised to the hard limit (as the
daemon does itself at start), so that the figures are the same whichever tree runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import os
import random
import re
import resource
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil
from PIL import Image
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.mosquitto import Mosquitto  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SERVING = re.compile(r"serving HTTP on \S+:(\d+) and WebSocket on \S+:(\d+)")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
SQUATTERS = 16  # the tcp source's producer slots
HOARDERS = 15
HOARD_BYTES = 16 * 1024 * 1024  # Max_Frame_Bytes' default
HOLD_S = 15.0  # how long the hoarders hold their half-sent frames
BOMB_SIDE = 13000  # pixels: 169 M, under Pillow's bomb error (2 x 89.5 M), over its warning
BOMB_WATCH_S = 5.0
STREAM_PERIOD_S = 0.1  # the background producer's frame period in ``bomb``
SAMPLE_S = 0.05  # RSS sampling period
SAMPLE_FRAME = ROOT / "thermal2.jpg"  # 30 KB: fills a stalled client's buffers in a few frames
WS_STALLED = 1000
WS_STALLED_HOLD_S = 5.0
WS_FLOOD_STALLED = 200
WS_FLOOD_COMMANDS = 10_000
WS_TOKEN_GUESSES = 5000
WS_SHUTDOWN_STALLED = 500
FD_LIMIT = 256
FD_HOLDERS = 400
FD_HOLD_S = 5.0
TRICKLERS = 400
TRICKLE_PERIOD_S = 5.0  # one byte per connection this often
TRICKLE_LIMIT_S = 40.0  # how long the trickle attack runs at most
TRICKLE_BOUND_S = 30.0  # all must be closed by then
HELD = 400
CPU_WINDOW_S = 3.0
STALLED = 20
STALL_LIMIT_S = 60.0
RESETS = 200
SLOW_FOR_SIGTERM = 1000
PARTIAL = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # a request that never ends
PLAYBACK_SECONDS = 300  # a recording's length: Segment_Seconds' default
PLAYBACK_RATE_HZ = 8.7
PLAYBACK_STRIDE = 1  # one client plays every frame, start to end
PLAYBACK_STRIDE_2 = 2  # two clients at once: every 2nd frame each
PLAYBACK_LIMIT_S = 120.0  # a playback run stops after this long
SETTLE_S = 2.0  # after an attack, before the "after" RSS
ENDLESS_BYTES = 256 * 1024 * 1024  # the endless webhook answer stops after this much
ENDLESS_LIMIT_S = 30.0
ANSWER_DELAY_S = 3.0  # the endless endpoint waits this long before it answers
HUGE_MQTT_BYTES = 200 * 1024 * 1024  # one retained frame message on the broker
HUGE_WATCH_S = 15.0  # how long the edge's RSS is watched after it was published
CAMERA_ID = "abuse"  # the camera the mqtt attacks' daemons publish or relay
RENAMES = 300  # region renames in the churn attack
RENAME_PERIOD_S = 0.06  # one rename this often: each name lives past a Stats_Interval
CHURN_CLIENTS = 4  # connections sharing the renames (each may send 10 commands a second)


@dataclass
class Figure:
    """One measured value: what it is, the value as printed, and its unit."""

    name: str
    value: str
    unit: str = ""


class Daemon:
    """``websocket_http_server.py --source tcp`` of one tree, run as a subprocess.

    Args:
        root: the checkout whose ``websocket_http_server.py`` runs (its own server.conf).
        conf: when not empty, a config file with this text is passed with ``-c``.
        nofile: when not 0, the daemon's soft and hard file descriptor limit.

    Attributes:
        http_port, ws_port, tcp_port: the ports it got (all started as 0).
        process: the ``psutil.Process`` (for RSS).
        lines: every stderr line so far.

    Raises:
        RuntimeError: it did not log its ports within 20 s (the message holds its log).
    """

    def __init__(self, root: Path, conf: str = "", nofile: int = 0, source: str = "tcp"):
        command = [sys.executable, str(root / "websocket_http_server.py"), "--source", source,
                   "--http-host", "127.0.0.1", "--ws-host", "127.0.0.1", "--http-port", "0",
                   "--ws-port", "0", "--tcp-port", "0"]
        self._conf: Path | None = None
        if conf:
            fd, name = tempfile.mkstemp(suffix=".conf", prefix="abuse-")
            os.close(fd)
            self._conf = Path(name)
            self._conf.write_text(conf)
            command += ["-c", name]

        def limit_fds() -> None:  # in the child, before exec
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self._popen = subprocess.Popen(command, cwd=root, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       text=True, preexec_fn=limit_fds if nofile else None)
        self.process = psutil.Process(self._popen.pid)
        _, hard = self.process.rlimit(psutil.RLIMIT_NOFILE)
        self.process.rlimit(psutil.RLIMIT_NOFILE, (hard, hard))
        self.lines: list[str] = []
        self.http_port = self.ws_port = 0
        self._serving = threading.Event()
        self._reader = threading.Thread(target=self._read, name="daemon-stderr")
        self._reader.start()
        if not self._serving.wait(START_TIMEOUT_S) or not self.http_port:
            self.stop()
            raise RuntimeError("daemon did not start:\n" + "".join(self.lines))
        self.tcp_port = self.source_status().get("port", 0)

    def _read(self) -> None:
        assert self._popen.stderr is not None
        for line in self._popen.stderr:
            self.lines.append(line)
            match = SERVING.search(line)
            if match:
                self.http_port, self.ws_port = int(match[1]), int(match[2])
                self._serving.set()
        self._serving.set()

    def source_status(self) -> dict:
        """The tcp source's counters from /healthz (its body is the same with 503, no signal)."""
        url = f"http://127.0.0.1:{self.http_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.load(response)["source_status"]
        except urllib.error.HTTPError as exc:
            with exc:
                return json.load(exc)["source_status"]

    def rss(self) -> int:
        """Resident set size, bytes."""
        return self.process.memory_info().rss

    def page_load_s(self, timeout_s: float = 10.0) -> str:
        """Seconds a GET / takes (at most ``timeout_s``), as printed."""
        started = time.monotonic()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}/",
                                        timeout=timeout_s) as response:
                response.read()
        except OSError as exc:
            return f"failed after {time.monotonic() - started:.2f} ({exc})"
        return f"{time.monotonic() - started:.2f}"

    def terminate_s(self) -> float:
        """SIGTERM and wait: seconds until it exited (SIGKILL after 5 s)."""
        started = time.monotonic()
        self.stop()
        return time.monotonic() - started

    def stop(self) -> int:
        """SIGTERM, then SIGKILL after 5 s; joins the log reader. Returns the exit status."""
        if self._popen.poll() is None:
            self._popen.terminate()
            try:
                self._popen.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        self._reader.join(STOP_TIMEOUT_S)
        if self._conf is not None:
            self._conf.unlink()
        return self._popen.returncode

    def log_lines(self, start: int, *words: str) -> int:
        """Log lines from line ``start`` on that hold any of ``words``."""
        return sum(any(w in line for w in words) for line in self.lines[start:])


def wait_until(predicate: Callable[[], object], timeout_s: float) -> bool:
    """Poll ``predicate`` every 20 ms until true or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def jpeg(width: int = 64, height: int = 48) -> bytes:
    """A small solid JPEG."""
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 80, 40)).save(out, "JPEG")
    return out.getvalue()


def huge_png(side: int) -> bytes:
    """A black ``side`` x ``side`` 8-bit greyscale PNG, built row by row (never whole in
    memory)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    compressor = zlib.compressobj(9)
    row = bytes(1 + side)  # filter type 0, then zeros
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat)
            + chunk(b"IEND", b""))


def push(sock: socket.socket, data: bytes) -> None:
    """One frame, as the imagestream client sends it: ``>Q`` length, then the bytes."""
    sock.sendall(struct.pack(">Q", len(data)) + data)


@contextlib.contextmanager
def viewer(daemon: Daemon) -> Iterator[ClientConnection]:
    """A /stream client past its hello message."""
    with connect(f"ws://127.0.0.1:{daemon.ws_port}/stream", open_timeout=5,
                 close_timeout=2, max_size=None) as ws:
        json.loads(ws.recv(timeout=5))
        yield ws


def frame_within(ws: ClientConnection, timeout_s: float) -> bool:
    """True if a binary (frame) message arrives within ``timeout_s``; text is skipped."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            if isinstance(ws.recv(timeout=left), bytes):
                return True
        except TimeoutError:
            return False
    return False


class RssSampler:
    """Samples a daemon's RSS every 50 ms in a thread while in a ``with`` block.

    Attributes:
        start, peak: RSS before the block and the highest seen, bytes.
    """

    def __init__(self, daemon: Daemon):
        self._daemon = daemon
        self.start = self.peak = daemon.rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler")

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            with contextlib.suppress(psutil.Error):
                self.peak = max(self.peak, self._daemon.rss())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


class StreamWatcher:
    """A producer pushing ``thermal2.jpg`` at 10 Hz and a /stream viewer timing its frames.

    Runs in two threads while in a ``with`` block (the viewer connects first).

    Attributes:
        arrivals: monotonic time of each frame the viewer received.
        states: state messages the viewer received.
    """

    def __init__(self, daemon: Daemon):
        self._daemon = daemon
        self._stop = threading.Event()
        self.arrivals: list[float] = []
        self.states = 0
        self._threads = [threading.Thread(target=self._produce, name="producer"),
                         threading.Thread(target=self._watch, name="viewer")]
        self._connected = threading.Event()

    def _produce(self) -> None:
        picture = SAMPLE_FRAME.read_bytes()
        with (contextlib.suppress(OSError),  # the daemon stopped (ws-shutdown)
              socket.create_connection(("127.0.0.1", self._daemon.tcp_port), timeout=5) as sock):
            while not self._stop.wait(STREAM_PERIOD_S):
                push(sock, picture)

    def _watch(self) -> None:
        try:
            with viewer(self._daemon) as ws:
                self._connected.set()
                while not self._stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        message = ws.recv(timeout=0.2)
                        if isinstance(message, bytes):
                            self.arrivals.append(time.monotonic())
                        else:
                            self.states += json.loads(message)["type"] == "state"
        except (ConnectionClosed, OSError):
            pass  # the daemon closed it: the gap figures show it
        finally:
            self._connected.set()

    def figures(self, since: float) -> list[Figure]:
        """The viewer's frame rate and longest gap from ``since`` (monotonic) to now."""
        now = time.monotonic()
        times = [since] + [t for t in self.arrivals if t > since] + [now]
        gap = max(b - a for a, b in itertools.pairwise(times))
        return [Figure("viewer's frame rate", f"{(len(times) - 2) / (now - since):.1f}", "fps"),
                Figure("viewer's longest gap between frames", f"{gap:.2f}", "s")]

    def __enter__(self) -> StreamWatcher:
        self._threads[1].start()
        self._connected.wait(10)
        self._threads[0].start()
        if not wait_until(lambda: len(self.arrivals) >= 5, 10):
            self.__exit__()
            raise RuntimeError("the producer's frames do not reach the viewer")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join()


def stalled_ws(port: int, path: str = "/stream") -> socket.socket:
    """A WebSocket (raw socket, 4 KiB receive buffer) that completes the handshake, never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(10.0)
    sock.connect(("127.0.0.1", port))
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response and len(response) < 4096:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("closed during the handshake")
        response += chunk
    if not response.startswith(b"HTTP/1.1 101"):
        raise ConnectionError(f"handshake refused: {response[:40]!r}")
    return sock


def raise_fd_limit(needed: int) -> None:
    """Raise this process's soft file descriptor limit to ``needed`` (or the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def mib(size: float) -> str:
    return f"{size / (1 << 20):+.0f}"


def squat(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """16 squatting connections (kept at 16), then a real producer: time to its first frame."""
    stop = threading.Event()
    reconnects = [0]

    def hold_slots() -> None:  # keeps SQUATTERS connections open until stop or the limit
        selector = selectors.DefaultSelector()
        socks: list[socket.socket] = []
        deadline = time.monotonic() + args.limit_s + 10
        try:
            while not stop.is_set() and time.monotonic() < deadline:
                while len(socks) < SQUATTERS:
                    sock = socket.create_connection(("127.0.0.1", daemon.tcp_port), timeout=5)
                    socks.append(sock)
                    selector.register(sock, selectors.EVENT_READ)
                for key, _ in selector.select(0.05):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    with contextlib.suppress(OSError):
                        if sock.recv(1):
                            continue
                    selector.unregister(sock)
                    sock.close()
                    socks.remove(sock)
                    reconnects[0] += 1
        finally:
            for sock in socks:
                sock.close()
            selector.close()

    squatter = threading.Thread(target=hold_slots, name="squatters")
    squatter.start()
    try:
        if not wait_until(lambda: daemon.source_status()["producers"] >= SQUATTERS, 10):
            raise RuntimeError(f"the {SQUATTERS} squatters did not all connect")
        picture, closed, sock = jpeg(), 0, None
        with viewer(daemon) as ws:
            started = time.monotonic()
            seen = None
            while seen is None and time.monotonic() - started < args.limit_s:
                try:
                    if sock is None:
                        sock = socket.create_connection(("127.0.0.1", daemon.tcp_port), timeout=5)
                    push(sock, picture)
                except OSError:
                    closed += 1
                    if sock is not None:
                        sock.close()
                    sock = None
                    continue
                if frame_within(ws, 0.5):
                    seen = time.monotonic() - started
            if sock is not None:
                sock.close()
    finally:
        stop.set()
        squatter.join()
    took = f"{seen:.2f}" if seen is not None else f"> {args.limit_s:.0f} (never)"
    return [Figure("real producer's first frame seen after", took, "s"),
            Figure("real producer's sends that failed", str(closed)),
            Figure("squatter connections the daemon closed", str(reconnects[0]))]


def hoard(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """15 producers park 16 MiB - 1 bytes of a 16 MiB frame each: RSS growth and for how long."""
    body = bytes(HOARD_BYTES - 1)
    socks = []
    with RssSampler(daemon) as rss:
        try:
            for _ in range(HOARDERS):
                sock = socket.create_connection(("127.0.0.1", daemon.tcp_port), timeout=20)
                socks.append(sock)
                sock.sendall(struct.pack(">Q", HOARD_BYTES))
                sock.sendall(body)
            sent_at = time.monotonic()
            wait_until(lambda: daemon.source_status()["producers"] == 0, HOLD_S)
            held = daemon.source_status()["producers"]
            emptied = time.monotonic() - sent_at
            end = daemon.rss()
        finally:
            for sock in socks:
                sock.close()
    return [Figure("peak RSS growth", mib(rss.peak - rss.start), "MiB"),
            Figure(f"RSS growth when the daemon had closed them all (or after {HOLD_S:.0f} s)",
                   mib(end - rss.start), "MiB"),
            Figure("hoarders still connected then", f"{held} of {HOARDERS}"),
            Figure("seconds until all were closed", f"{emptied:.1f}" if not held else "never")]


def bomb(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """A 13000x13000 PNG among 10 Hz frames: RSS growth and the longest gap a viewer sees."""
    data = huge_png(BOMB_SIDE)
    picture, stop, arrivals = jpeg(), threading.Event(), []

    def stream() -> None:  # the background producer, STREAM_PERIOD_S per frame until stop
        with socket.create_connection(("127.0.0.1", daemon.tcp_port), timeout=5) as sock:
            for _ in range(int((BOMB_WATCH_S + 10) / STREAM_PERIOD_S)):
                if stop.wait(STREAM_PERIOD_S):
                    return
                push(sock, picture)

    def watch(ws: ClientConnection) -> None:  # the viewer: when each frame arrives
        while not stop.is_set():
            if frame_within(ws, 0.2):
                arrivals.append(time.monotonic())

    with viewer(daemon) as ws:
        threads = [threading.Thread(target=stream, name="producer"),
                   threading.Thread(target=watch, args=(ws,), name="viewer")]
        for thread in threads:
            thread.start()
        try:
            if not wait_until(lambda: len(arrivals) >= 5, 5):
                raise RuntimeError("the background producer's frames do not arrive")
            with RssSampler(daemon) as rss, \
                    socket.create_connection(("127.0.0.1", daemon.tcp_port), timeout=5) as sock:
                pushed = time.monotonic()
                push(sock, data)
                stop.wait(BOMB_WATCH_S)
        finally:
            stop.set()
            for thread in threads:
                thread.join()
    times = [pushed] + [t for t in arrivals if t > pushed]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    status = daemon.source_status()
    return [Figure("PNG size on the wire", f"{len(data) / 1024:.0f}", "KiB"),
            Figure("peak RSS growth", mib(rss.peak - rss.start), "MiB"),
            Figure("longest gap between two frames at the viewer (from the push on)",
                   f"{max(gaps):.2f}" if gaps else "no frames", "s"),
            Figure("frames the viewer got", f"{len(times) - 1} in {BOMB_WATCH_S:.0f} s"),
            Figure("source counters", ", ".join(f"{k}={v}" for k, v in status.items()
                                                if isinstance(v, int) and k != "port"))]


def ws_stalled(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """1000 stalled /stream clients join, stay 5 s and leave at once: RSS, viewer, log."""
    raise_fd_limit(WS_STALLED + 256)
    first_line = len(daemon.lines)
    stalled: list[socket.socket] = []
    with StreamWatcher(daemon) as watcher, RssSampler(daemon) as rss:
        started = time.monotonic()
        try:
            for _ in range(WS_STALLED):
                stalled.append(stalled_ws(daemon.ws_port))
            joined = time.monotonic() - started
            time.sleep(WS_STALLED_HOLD_S)  # the hold being measured, not synchronisation
            held_rss = daemon.rss()
        finally:
            for sock in stalled:
                sock.close()
        time.sleep(2.0)  # the mass drop's aftermath being measured, not synchronisation
        figures = watcher.figures(started)
    return [Figure(f"{len(stalled)} stalled clients joined in", f"{joined:.1f}", "s"),
            Figure("peak RSS growth", mib(rss.peak - rss.start), "MiB"),
            Figure(f"RSS growth after {WS_STALLED_HOLD_S:.0f} s held", mib(held_rss - rss.start),
                   "MiB"),
            *figures,
            Figure("state messages the viewer got", str(watcher.states)),
            Figure("WARNING/ERROR log lines", str(daemon.log_lines(first_line, "WARNING",
                                                                   "ERROR"))),
            Figure("log lines in all", str(len(daemon.lines) - first_line))]


def ws_commands(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """200 stalled clients, then 10,000 set commands from one client: what the others see."""
    raise_fd_limit(WS_FLOOD_STALLED + 256)
    stalled: list[socket.socket] = []
    colormaps = ("ironbow", "inferno")
    try:
        with StreamWatcher(daemon) as watcher:
            for _ in range(WS_FLOOD_STALLED):
                stalled.append(stalled_ws(daemon.ws_port))
            with RssSampler(daemon) as rss, viewer(daemon) as flooder:
                started = time.monotonic()
                sent, errors, ended = 0, 0, "still open"
                try:
                    for sent in range(1, WS_FLOOD_COMMANDS + 1):
                        flooder.send(json.dumps({"cmd": "set", "colormap": colormaps[sent % 2]}))
                    flood_s = time.monotonic() - started
                    for _ in range(WS_FLOOD_COMMANDS + 1000):  # its replies, until closed
                        message = flooder.recv(timeout=5)
                        errors += isinstance(message, str) and '"error"' in message
                except (ConnectionClosed, TimeoutError) as exc:
                    flood_s = time.monotonic() - started
                    if isinstance(exc, ConnectionClosed):
                        ended = f"closed with {exc.rcvd.code if exc.rcvd else 'no close frame'}"
                time.sleep(2.0)  # the aftermath being measured, not synchronisation
                figures = watcher.figures(started)
    finally:
        for sock in stalled:
            sock.close()
    return [Figure("commands sent", f"{sent} in {flood_s:.1f} s"),
            Figure("error replies the flooder got", str(errors)),
            Figure("the flooder's connection", ended),
            Figure("peak RSS growth", mib(rss.peak - rss.start), "MiB"),
            *figures,
            Figure("state messages the viewer got", str(watcher.states))]


def ws_token(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """5000 wrong control tokens on one connection: answered how often, closed, logged."""
    first_line = len(daemon.lines)
    answered, ended = 0, "still open"
    with viewer(daemon) as ws:
        try:
            for guess in range(WS_TOKEN_GUESSES):
                ws.send(json.dumps({"cmd": "stop", "token": f"guess{guess}"}))
                for _ in range(100):  # frames and state messages may come first
                    message = ws.recv(timeout=5)
                    if isinstance(message, str) and json.loads(message)["type"] == "error":
                        answered += 1
                        break
        except ConnectionClosed as exc:
            ended = f"closed with {exc.rcvd.code if exc.rcvd else 'no close frame'}"
    return [Figure("wrong tokens answered", f"{answered} of {WS_TOKEN_GUESSES}"),
            Figure("the guesser's connection", ended),
            Figure("log lines about the token", str(daemon.log_lines(first_line, "token")))]


def ws_shutdown(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """500 stalled clients with full buffers, then SIGTERM: seconds until the daemon exits."""
    raise_fd_limit(WS_SHUTDOWN_STALLED + 256)
    stalled: list[socket.socket] = []
    try:
        with StreamWatcher(daemon):
            for _ in range(WS_SHUTDOWN_STALLED):
                stalled.append(stalled_ws(daemon.ws_port))
            time.sleep(2.0)  # frames fill their buffers (30 KB at 10 Hz), not synchronisation
            started = time.monotonic()
            status = daemon.stop()
            took = time.monotonic() - started
    finally:
        for sock in stalled:
            sock.close()
    return [Figure(f"SIGTERM to exit with {len(stalled)} stalled clients", f"{took:.2f}", "s"),
            Figure("exit status", str(status))]


def ws_fds(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """400 connections to the WebSocket port with 256 fds: CPU and log, then recovery."""
    first_line = len(daemon.lines)
    holders: list[socket.socket] = []
    refused = 0
    try:
        for _ in range(FD_HOLDERS):  # once the backlog is full, connecting times out
            try:
                holders.append(socket.create_connection(("127.0.0.1", daemon.ws_port),
                                                        timeout=0.5))
            except OSError:
                refused += 1
                if refused >= 5:
                    break
        daemon.process.cpu_percent()
        time.sleep(FD_HOLD_S)  # the hold being measured, not synchronisation
        cpu = daemon.process.cpu_percent()
    finally:
        for sock in holders:
            sock.close()
    closed = time.monotonic()

    def handshake_works() -> bool:
        with contextlib.suppress(OSError, TimeoutError, ConnectionClosed), viewer(daemon):
            return True
        return False

    recovered = wait_until(handshake_works, 20)
    took = f"{time.monotonic() - closed:.2f}" if recovered else "> 20 (never)"
    return [Figure("connections held (tried until 5 timed out)", str(len(holders))),
            Figure("daemon CPU while they are held", f"{cpu:.0f}", "%"),
            Figure("log lines about accept", str(daemon.log_lines(first_line, "accept"))),
            Figure("traceback lines", str(daemon.log_lines(first_line, "Traceback"))),
            Figure("log lines in all", str(len(daemon.lines) - first_line)),
            Figure("a viewer's handshake works again after", took, "s")]
def connect_all(port: int, count: int, blocking: bool = True) -> list[socket.socket]:
    """``count`` connections to 127.0.0.1:``port``; non-blocking ones are left connecting."""
    socks = []
    for _ in range(count):
        if blocking:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        else:
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(("127.0.0.1", port))
            socks.append(sock)
    return socks


def close_all(socks: list[socket.socket], reset: bool = False) -> None:
    """Close every socket; with ``reset`` the peer gets an RST (SO_LINGER 0)."""
    for sock in socks:
        if reset:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


def closed_by_peer(sock: socket.socket) -> bool:
    """True if the peer closed (EOF or reset); data is read and dropped."""
    try:
        return not sock.recv(65536)
    except BlockingIOError:
        return False
    except OSError:
        return True


def trickle(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """400 connections trickling a byte every 5 s: peak threads, when they are closed."""
    socks = connect_all(daemon.http_port, TRICKLERS)
    started = time.monotonic()
    for sock in socks:
        sock.sendall(PARTIAL)
        sock.setblocking(False)
    open_socks, peak, closed_at = set(socks), daemon.process.num_threads(), []
    page = "not measured"
    next_byte = started + TRICKLE_PERIOD_S
    selector = selectors.DefaultSelector()
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
    try:
        while open_socks and time.monotonic() - started < TRICKLE_LIMIT_S:
            for key, _ in selector.select(0.2):
                peer = key.fileobj
                assert isinstance(peer, socket.socket)
                if closed_by_peer(peer):
                    selector.unregister(peer)
                    open_socks.discard(peer)
                    closed_at.append(time.monotonic() - started)
            with contextlib.suppress(psutil.Error):
                peak = max(peak, daemon.process.num_threads())
            if page == "not measured" and time.monotonic() - started > 2:
                page = daemon.page_load_s()
            if time.monotonic() >= next_byte:
                next_byte += TRICKLE_PERIOD_S
                for sock in open_socks:
                    with contextlib.suppress(OSError):
                        sock.send(b"x")
    finally:
        selector.close()
        close_all(socks)
    in_bound = sum(t <= TRICKLE_BOUND_S for t in closed_at)
    last = f"{max(closed_at):.1f}" if len(closed_at) == TRICKLERS else "never"
    return [Figure("daemon's peak thread count", str(peak)),
            Figure(f"connections the daemon closed within {TRICKLE_BOUND_S:.0f} s",
                   f"{in_bound} of {TRICKLERS}"),
            Figure(f"seconds until the last was closed (limit {TRICKLE_LIMIT_S:.0f})", last),
            Figure("page load meanwhile (GET /, 2 s in)", page, "s")]


def cpu_percent(daemon: Daemon, window_s: float) -> float:
    """The daemon's CPU use over the next ``window_s``, percent of one core."""
    before = daemon.process.cpu_times()
    started = time.monotonic()
    time.sleep(window_s)
    after = daemon.process.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    return 100 * used / (time.monotonic() - started)


def fdlimit(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """256 file descriptors, 400 held connections: CPU, then a page load once they close."""
    daemon.process.rlimit(psutil.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))
    lines_before = len(daemon.lines)
    socks = []
    try:  # one at a time: a burst's SYNs beyond the backlog would wait for retries
        for _ in range(HELD):
            try:
                socks.append(socket.create_connection(("127.0.0.1", daemon.http_port), 3))
            except TimeoutError:  # backlog full: the daemon no longer accepts
                break
        exhausted = wait_until(lambda: daemon.process.num_fds() >= FD_LIMIT - 2, 2)
        cpu = cpu_percent(daemon, CPU_WINDOW_S)
    finally:
        close_all(socks)
    page = daemon.page_load_s()
    logged = daemon.lines[lines_before:]
    return [Figure("the daemon ran out of descriptors", "yes" if exhausted else "no"),
            Figure("connections held", str(len(socks))),
            Figure(f"daemon CPU with them held, {FD_LIMIT} fds", f"{cpu:.0f}",
                   "% of a core"),
            Figure("page load once they closed (GET /)", page, "s"),
            Figure("log lines meanwhile", str(len(logged))),
            Figure("tracebacks meanwhile", str(sum("Traceback" in ln for ln in logged)))]


def noise_jpeg(width: int = 320, height: int = 240) -> bytes:
    """A JPEG of random pixels (large for its size: fills socket buffers fast)."""
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), random.randbytes(width * height * 3)).save(
        out, "JPEG", quality=95)
    return out.getvalue()


def mjpeg_clients(daemon: Daemon) -> int:
    """How many /stream.mjpg clients /healthz lists."""
    url = f"http://127.0.0.1:{daemon.http_port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            health = json.load(response)
    except urllib.error.HTTPError as exc:
        with exc:
            health = json.load(exc)
    return int(health["clients"].get("mjpeg", 0))


def mjpeg_stall(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """20 MJPEG clients that never read among 10 Hz frames: seconds until all are dropped."""
    picture, stop = noise_jpeg(), threading.Event()

    def stream() -> None:  # the producer, STREAM_PERIOD_S per frame until stop
        with socket.create_connection(("127.0.0.1", daemon.tcp_port), timeout=5) as sock:
            for _ in range(int((STALL_LIMIT_S + 10) / STREAM_PERIOD_S)):
                if stop.wait(STREAM_PERIOD_S):
                    return
                push(sock, picture)

    producer = threading.Thread(target=stream, name="producer")
    producer.start()
    socks = []
    try:
        for _ in range(STALLED):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(5)
            sock.connect(("127.0.0.1", daemon.http_port))
            sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            socks.append(sock)
        started = time.monotonic()
        if not wait_until(lambda: mjpeg_clients(daemon) == STALLED, 5):
            raise RuntimeError("the stalled MJPEG clients did not all join")
        dropped = wait_until(lambda: mjpeg_clients(daemon) == 0, STALL_LIMIT_S)
        took = time.monotonic() - started
    finally:
        stop.set()
        producer.join()
        close_all(socks)
    return [Figure("JPEG size", f"{len(picture) / 1024:.0f}", "KiB"),
            Figure(f"seconds until all {STALLED} stalled clients were dropped (Send_Timeout 10)",
                   f"{took:.1f}" if dropped else f"> {STALL_LIMIT_S:.0f} (never)")]


def status_lines(port: int, data: bytes) -> list[str]:
    """Send ``data`` on a new connection; the status lines that come back within 3 s."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(data)
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                received += chunk
    return [line.decode() for line in re.findall(rb"HTTP/1\.[01] \d{3}[^\r\n]*", received)]


def smuggle(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """A GET whose body is another request: which responses come back."""
    inner = b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(inner), inner)
    figures = []
    for name, data in (
            ("Content-Length", head + b"Content-Length: %d\r\n\r\n" % len(inner) + inner),
            ("Transfer-Encoding", head + b"Transfer-Encoding: chunked\r\n\r\n" + chunked)):
        figures.append(Figure(f"GET with {name}: responses",
                              " | ".join(status_lines(daemon.http_port, data)) or "none"))
    return figures


def resets(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """Connections reset mid-request and mid-response: tracebacks in the daemon's log."""
    lines_before = len(daemon.lines)
    for request in (b"GET / HTT", b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"):
        socks = connect_all(daemon.http_port, RESETS)
        for sock in socks:
            sock.sendall(request)
        close_all(socks, reset=True)
    daemon.page_load_s()  # the daemon has handled them by the time it answers (mostly)
    time.sleep(1.0)
    logged = daemon.lines[lines_before:]
    return [Figure(f"tracebacks logged for {2 * RESETS} reset connections",
                   str(sum("Traceback" in ln for ln in logged))),
            Figure("log lines", str(len(logged)))]


def sigterm(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """1000 slow HTTP connections, then SIGTERM: seconds until the daemon exits."""
    socks = connect_all(daemon.http_port, SLOW_FOR_SIGTERM)
    try:
        for sock in socks:
            sock.sendall(PARTIAL)
        wait_until(lambda: len(daemon.process.net_connections("tcp")) >= SLOW_FOR_SIGTERM, 10)
        threads = daemon.process.num_threads()
        took = daemon.terminate_s()
    finally:
        close_all(socks)
    return [Figure("daemon threads before SIGTERM", str(threads)),
            Figure(f"seconds from SIGTERM to exit with {SLOW_FOR_SIGTERM} slow connections",
                   f"{took:.2f}")]



def mqtt_huge(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """A 200 MiB retained message on the relayed camera's frame topic: the edge's RSS."""
    message = args.scratch / "huge.bin"
    with message.open("wb") as out:
        out.truncate(HUGE_MQTT_BYTES)  # sparse: zeros, no disk
    topic = f"thermal/{CAMERA_ID}/frame"
    with RssSampler(daemon) as rss:
        with message.open("rb") as data:
            subprocess.run(["mosquitto_pub", "-p", str(args.broker.port), "-t", topic, "-r",
                            "-s"], stdin=data, check=True, timeout=60)
        time.sleep(HUGE_WATCH_S)  # pacing: the edge gets it, or the broker drops it
        after = daemon.rss()
    subprocess.run(["mosquitto_pub", "-p", str(args.broker.port), "-t", topic, "-r", "-n"],
                   check=True, timeout=10)
    return rss_figures(rss.start, rss.peak, after)


def metrics_kib(daemon: Daemon) -> float:
    """The size of the daemon's /metrics answer, KiB."""
    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.http_port}/metrics",
                                timeout=5) as response:
        return len(response.read()) / 1024


def region_churn(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """300 region renames on a daemon publishing to a broker: /metrics before and after."""
    before = metrics_kib(daemon)
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(connect(f"ws://127.0.0.1:{daemon.ws_port}/stream",
                                               open_timeout=5)) for _ in range(CHURN_CLIENTS)]
        commands = [{"cmd": "roi", "op": "add", "name": "r0", "spot": [80, 60]}] + [
            {"cmd": "roi", "op": "rename", "name": f"r{i}", "to": f"r{i + 1}"}
            for i in range(RENAMES)]
        for i, command in enumerate(commands):
            ws = clients[i % CHURN_CLIENTS]
            ws.send(json.dumps(command))
            time.sleep(RENAME_PERIOD_S)  # pacing: every name is published once
            for client in clients:  # drain frames and state: nobody stalls
                with contextlib.suppress(TimeoutError):
                    while True:
                        client.recv(timeout=0)
        time.sleep(SETTLE_S)
    return [Figure("/metrics before", f"{before:.1f}", "KiB"),
            Figure(f"/metrics after {RENAMES} region renames", f"{metrics_kib(daemon):.1f}",
                   "KiB")]

def write_recording(directory: Path, start_s: float, seed: int) -> str:
    """A PLAYBACK_SECONDS CPTV recording in ``directory`` (this tree's writer): its name."""
    sys.path.insert(0, str(ROOT))
    from lepton.radiometry import PixelUnit
    from thermal_streamer.core.frames import RawFrame
    from thermal_streamer.recording.formats import CptvWriter, SegmentHeader
    from thermal_streamer.recording.policy import SegmentName, Trigger

    name = SegmentName.at(start_s, Trigger.ALWAYS, "cptv")
    writer = CptvWriter(directory / name.name, SegmentHeader(
        name, PixelUnit.CENTIKELVIN, 120, 160, "simulated", "LEPTON3"))
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:120, 0:160]
    base = 29315 + 500 + rows * 4 + cols * 2
    count = round(PLAYBACK_SECONDS * PLAYBACK_RATE_HZ)
    for i in range(count):
        x, y = 20 + (i * 3) % 120, 60 + round(30 * np.sin(i / 40))
        spot = 3000 * np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / 50)
        pixels = (base + spot + rng.normal(0, 15, (120, 160))).astype(np.uint16)
        writer.add(i, RawFrame(pixels, PixelUnit.CENTIKELVIN, start_s + i / PLAYBACK_RATE_HZ,
                               {"fpa_temp_c": 30.0}))
        if i % 9 == 8:
            writer.flush(0)
    writer.close(0, "stopped")
    return name.name


def play(port: int, name: str, stride: int, deadline_s: float) -> int:
    """GET the index, then every ``stride``-th frame until the end or the deadline:
    frames served."""
    base = f"http://127.0.0.1:{port}/playback/{name}"
    with urllib.request.urlopen(base, timeout=60) as response:
        frames = json.load(response)["frames"]
    served = 0
    for i in range(0, frames, stride):
        if time.monotonic() > deadline_s:
            break
        with urllib.request.urlopen(f"{base}/{i}", timeout=60) as response:
            response.read()
        served += 1
    return served


def rss_figures(start: int, peak: int, after: int) -> list[Figure]:
    """RSS before, at the peak and SETTLE_S after an attack, and the growths."""
    def mb(size: int) -> str:
        return f"{size / 2 ** 20:.0f}"
    return [Figure("RSS before", mb(start), "MiB"),
            Figure("RSS peak (growth)", f"{mb(peak)} ({mib(peak - start)})", "MiB"),
            Figure(f"RSS {SETTLE_S:.0f} s after (growth)", f"{mb(after)} ({mib(after - start)})",
                   "MiB")]


def playback_attack(daemon: Daemon, names: list[str], stride: int) -> list[Figure]:
    deadline = time.monotonic() + PLAYBACK_LIMIT_S
    served: list[int] = []
    started = time.monotonic()
    with RssSampler(daemon) as rss:
        threads = [threading.Thread(target=lambda n=n: served.append(
            play(daemon.http_port, n, stride, deadline)), name=f"play-{i}")
            for i, n in enumerate(names)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(PLAYBACK_LIMIT_S + 60)
        took = time.monotonic() - started
        time.sleep(SETTLE_S)
        after = daemon.rss()
    total = round(PLAYBACK_SECONDS * PLAYBACK_RATE_HZ)
    return [*rss_figures(rss.start, rss.peak, after),
            Figure(f"frames served (of {len(names)} x {len(range(0, total, stride))})",
                   str(sum(served))),
            Figure("seconds", f"{took:.1f}")]


def playback(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """One 300 s recording played start to end: RSS before, peak, after."""
    return playback_attack(daemon, [args.recordings[0]], PLAYBACK_STRIDE)


def playback_2(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """Two 300 s recordings played at once: RSS before, peak, after."""
    return playback_attack(daemon, args.recordings[:2], PLAYBACK_STRIDE_2)


class EndlessEndpoint:
    """An HTTP endpoint on 127.0.0.1 answering every request with 200 and a body that
    goes on (ENDLESS_BYTES at most, or until the client closes). Attributes: url, sent."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}/hook"
        self.sent = 0
        self.requests = 0
        self.done = threading.Event()  # an answer ended (the client closed, or the cap)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="endless")
        self._thread.start()

    def _serve(self) -> None:
        self._server.settimeout(0.2)
        chunk = b"x" * 65536
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5)
                with contextlib.suppress(OSError):
                    conn.recv(65536)
                    self.requests += 1
                    self._stop.wait(ANSWER_DELAY_S)  # the RSS sampler starts first
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
                    while self.sent < ENDLESS_BYTES and not self._stop.is_set():
                        conn.sendall(chunk)
                        self.sent += len(chunk)
            self.done.set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._server.close()


def webhook_body(daemon: Daemon, args: argparse.Namespace) -> list[Figure]:
    """An alarm's webhook answered with an endless body: RSS before, peak, after."""
    endpoint: EndlessEndpoint = args.endpoint
    with RssSampler(daemon) as rss:
        endpoint.done.wait(ENDLESS_LIMIT_S)
        time.sleep(SETTLE_S)
        after = daemon.rss()
    return [*rss_figures(rss.start, rss.peak, after),
            Figure("bytes the endpoint could send", mib(endpoint.sent), "MiB")]


ATTACKS: dict[str, Callable[[Daemon, argparse.Namespace], list[Figure]]] = {
    "squat": squat,
    "hoard": hoard,
    "bomb": bomb,
    "ws-stalled": ws_stalled,
    "ws-commands": ws_commands,
    "ws-token": ws_token,
    "ws-shutdown": ws_shutdown,
    "ws-fds": ws_fds,
    "trickle": trickle,
    "fdlimit": fdlimit,
    "mjpeg-stall": mjpeg_stall,
    "smuggle": smuggle,
    "resets": resets,
    "sigterm": sigterm,
    "playback": playback,
    "playback-2": playback_2,
    "webhook-body": webhook_body,
    "mqtt-huge": mqtt_huge,
    "region-churn": region_churn,
}
# attacks needing a config
CONFIGS = {"ws-token": "[Security]\nControl_Token = s3cret-of-16-chars\n"}
FD_LIMITS = {"ws-fds": FD_LIMIT}  # attacks needing a lower file descriptor limit
SOURCES = {"webhook-body": "simulated", "mqtt-huge": "mqtt",
           "region-churn": "simulated"}  # attacks needing another source than tcp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the tree whose daemon is attacked (default: this one)")
    parser.add_argument("--only", action="append", choices=sorted(ATTACKS),
                        help="run only this attack (repeatable)")
    parser.add_argument("--limit-s", type=float, default=40.0,
                        help="longest wait for the squat attack's real producer, s (default 40)")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # this side holds 1000 sockets
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    print(f"daemon tree: {args.root.resolve()}")
    with tempfile.TemporaryDirectory(prefix="abuse-") as scratch:
        for name in args.only or list(ATTACKS):
            run(name, args, Path(scratch))


def run(name: str, args: argparse.Namespace, scratch: Path) -> None:
    """Run one attack against a daemon of its own and print its figures."""
    conf = CONFIGS.get(name, "")
    endpoint = None
    if name.startswith("playback"):
        directory = scratch / "recordings"
        if not directory.is_dir():
            directory.mkdir()
            args.recordings = [write_recording(directory, 1714564800.0 + 1000 * k, k)
                               for k in range(2)]
        conf = f"[Recording]\nRecordings_Dir = {directory}\n"
    if name == "webhook-body":
        endpoint = args.endpoint = EndlessEndpoint()
        conf = ("[Alarm always]\nROI = frame\nStat = max\nAbove = -273\n"
                f"Webhook = {endpoint.url}\n[Measurement]\nWebhook_Retries = 0\n")
    broker = None
    if name in ("mqtt-huge", "region-churn"):
        broker = args.broker = Mosquitto()
        args.scratch = scratch
        url = f"mqtt://127.0.0.1:{broker.port}"
        conf = (f"[MQTT]\nBroker = {url}\nCamera_ID = {CAMERA_ID}\n"
                + (f"[Source]\nMQTT_Camera = {CAMERA_ID}\n" if name == "mqtt-huge" else
                   "Stats_Interval = 0.05\nPublish_Frames = no\n"))
    try:
        daemon = Daemon(args.root.resolve(), conf, FD_LIMITS.get(name, 0),
                        SOURCES.get(name, "tcp"))
        try:
            started = time.monotonic()
            figures = ATTACKS[name](daemon, args)
        finally:
            daemon.stop()
    finally:
        if endpoint is not None:
            endpoint.close()
        if broker is not None:
            broker.stop()
    print(f"\n{name} ({time.monotonic() - started:.0f} s)")
    for figure in figures:
        print(f"  {figure.name:<68} {figure.value} {figure.unit}".rstrip())


if __name__ == "__main__":
    main()
