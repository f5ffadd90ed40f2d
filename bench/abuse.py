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

Every daemon gets its soft file-descriptor limit raised to the hard limit (as the
daemon does itself at start), so that the figures are the same whichever tree runs.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import re
import resource
import selectors
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
from PIL import Image
from websockets.sync.client import ClientConnection, connect

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
TRICKLERS = 400
TRICKLE_PERIOD_S = 5.0  # one byte per connection this often
TRICKLE_LIMIT_S = 40.0  # how long the trickle attack runs at most
TRICKLE_BOUND_S = 30.0  # all must be closed by then
FD_LIMIT = 256
HELD = 400
CPU_WINDOW_S = 3.0
STALLED = 20
STALL_LIMIT_S = 60.0
RESETS = 200
SLOW_FOR_SIGTERM = 1000
PARTIAL = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # a request that never ends


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

    Attributes:
        http_port, ws_port, tcp_port: the ports it got (all started as 0).
        process: the ``psutil.Process`` (for RSS).
        lines: every stderr line so far.

    Raises:
        RuntimeError: it did not log its ports within 20 s (the message holds its log).
    """

    def __init__(self, root: Path):
        command = [sys.executable, str(root / "websocket_http_server.py"), "--source", "tcp",
                   "--http-host", "127.0.0.1", "--ws-host", "127.0.0.1", "--http-port", "0",
                   "--ws-port", "0", "--tcp-port", "0"]
        self._popen = subprocess.Popen(command, cwd=root, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       text=True)
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
        self.tcp_port = self.source_status()["port"]

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

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; joins the log reader."""
        if self._popen.poll() is None:
            self._popen.terminate()
            try:
                self._popen.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        self._reader.join(STOP_TIMEOUT_S)


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


ATTACKS: dict[str, Callable[[Daemon, argparse.Namespace], list[Figure]]] = {
    "squat": squat,
    "hoard": hoard,
    "bomb": bomb,
    "trickle": trickle,
    "fdlimit": fdlimit,
    "mjpeg-stall": mjpeg_stall,
    "smuggle": smuggle,
    "resets": resets,
    "sigterm": sigterm,
}


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
    for name in args.only or list(ATTACKS):
        daemon = Daemon(args.root.resolve())
        try:
            started = time.monotonic()
            figures = ATTACKS[name](daemon, args)
        finally:
            daemon.stop()
        print(f"\n{name} ({time.monotonic() - started:.0f} s)")
        for figure in figures:
            print(f"  {figure.name:<68} {figure.value} {figure.unit}".rstrip())


if __name__ == "__main__":
    main()
