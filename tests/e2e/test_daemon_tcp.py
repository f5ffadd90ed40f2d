"""--source tcp: producers push length-prefixed JPEG/PNG frames that reach WebSocket clients."""

import contextlib
import io
import json
import socket
import struct
import subprocess
import sys
import time

from PIL import Image
from websockets.sync.client import connect

from tests.conftest import ROOT, wait_until
from thermal_streamer.protocols.wire import parse_frame_message

TERABYTE = 1 << 40


def picture(width: int, height: int, fmt: str = "JPEG", shade: int = 0) -> bytes:
    """A small image of the given size and format, made with Pillow."""
    image = Image.new("RGB", (width, height), (shade, 128, 255 - shade))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def producer(port: int) -> socket.socket:
    """A producer connection, like the original imagestream client."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    return sock


def push(sock: socket.socket, data: bytes, length: int | None = None) -> None:
    """Send one frame as the original imagestream client does: pack >Q, sendall."""
    sock.sendall(struct.pack(">Q", len(data) if length is None else length))
    sock.sendall(data)


def tcp_port(daemon) -> int:
    return daemon.health()["source_status"]["port"]


def start_tcp(start_daemon):
    daemon = start_daemon("--source", "tcp", "--tcp-port", "0")
    return daemon, tcp_port(daemon)


@contextlib.contextmanager
def open_viewer(daemon):
    """A /stream client that has received its hello (so it gets every later frame)."""
    with connect(daemon.ws_url + "/stream", open_timeout=5, close_timeout=2) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        yield ws


def next_frame(ws, timeout_s: float = 5.0) -> tuple[dict, bytes]:
    """The next binary frame message's header and JPEG (text messages are skipped)."""
    deadline = time.monotonic() + timeout_s
    while True:
        message = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(message, bytes):
            header, jpeg, _ = parse_frame_message(message)
            return header, jpeg


def closed_by_peer(sock: socket.socket, timeout_s: float) -> bool:
    """True when the daemon closes ``sock`` within ``timeout_s``."""
    sock.settimeout(timeout_s)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_producer_frames_reach_websocket_clients(start_daemon):
    """A JPEG pushed with a >Q length reaches /stream clients byte for byte."""
    daemon, port = start_tcp(start_daemon)
    jpeg = picture(64, 48)
    with open_viewer(daemon) as ws, contextlib.closing(producer(port)) as sock:
        push(sock, jpeg)
        header, received = next_frame(ws)
    assert received == jpeg
    assert (header["source"], header["width"], header["height"]) == ("tcp", 64, 48)
    assert daemon.health()["source_status"]["frames"] == 1


def test_png_is_converted_to_jpeg(start_daemon):
    """A PNG is converted once: the client receives a JPEG of the same size."""
    daemon, port = start_tcp(start_daemon)
    with open_viewer(daemon) as ws, contextlib.closing(producer(port)) as sock:
        push(sock, picture(50, 30, "PNG"))
        header, received = next_frame(ws)
    assert received.startswith(b"\xff\xd8") and received.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(received)) as image:
        assert (image.format, image.size) == ("JPEG", (50, 30))
    assert (header["width"], header["height"]) == (50, 30)


def test_terabyte_length_closes_that_producer_only(start_daemon):
    """A 1 TiB length prefix closes that producer; another producer keeps working."""
    daemon, port = start_tcp(start_daemon)
    with open_viewer(daemon) as ws, contextlib.closing(producer(port)) as good, \
            contextlib.closing(producer(port)) as bad:
        assert wait_until(lambda: daemon.health()["source_status"]["producers"] == 2, 5)
        bad.sendall(struct.pack(">Q", TERABYTE))
        assert closed_by_peer(bad, 5)
        push(good, picture(40, 20))
        header, _ = next_frame(ws)
    assert (header["width"], header["height"]) == (40, 20)
    status = daemon.health()["source_status"]
    assert status["closed_oversize"] == 1 and status["closed_zero"] == 0
    assert (f"is over Max_Frame_Bytes = {16 * 1024 * 1024}" in daemon.log()
            and f"frame length {TERABYTE}" in daemon.log())


def test_zero_length_closes_the_producer(start_daemon):
    """A length of zero closes that producer's connection and is counted."""
    daemon, port = start_tcp(start_daemon)
    with contextlib.closing(producer(port)) as sock:
        sock.sendall(struct.pack(">Q", 0))
        assert closed_by_peer(sock, 5)
    assert daemon.health()["source_status"]["closed_zero"] == 1
    assert "frame length 0 is zero" in daemon.log()


def test_junk_is_skipped_and_the_connection_stays_usable(start_daemon):
    """Bytes that are no image are skipped and counted; the next good frame is published."""
    daemon, port = start_tcp(start_daemon)
    with open_viewer(daemon) as ws, contextlib.closing(producer(port)) as sock:
        push(sock, b"this is not a picture" * 10)
        push(sock, picture(33, 22))
        header, _ = next_frame(ws)
    assert (header["width"], header["height"]) == (33, 22)
    status = daemon.health()["source_status"]
    assert (status["skipped"], status["frames"]) == (1, 1)
    assert "skipped a 210-byte frame from 127.0.0.1:" in daemon.log()


def test_several_producers_at_once(start_daemon):
    """Three producers connected at once each get their frames to the client."""
    daemon, port = start_tcp(start_daemon)
    sizes = [(20, 10), (30, 15), (40, 20)]
    with open_viewer(daemon) as ws:
        socks = [producer(port) for _ in sizes]
        try:
            assert wait_until(lambda: daemon.health()["source_status"]["producers"] == 3, 5)
            seen = set()
            for sock, size in zip(socks, sizes, strict=True):
                push(sock, picture(*size))
                header, _ = next_frame(ws)
                seen.add((header["width"], header["height"]))
        finally:
            for sock in socks:
                sock.close()
    assert seen == set(sizes)


def test_stops_within_2_s_with_an_idle_producer(start_daemon):
    """An idle producer (half a length prefix sent) does not delay shutdown past 2 s."""
    daemon, port = start_tcp(start_daemon)
    with contextlib.closing(producer(port)) as sock:
        sock.sendall(b"\x00\x00\x00")
        assert wait_until(lambda: daemon.health()["source_status"]["producers"] == 1, 5)
        started = time.monotonic()
        assert daemon.stop() == 0
        assert time.monotonic() - started < 2.0
        assert closed_by_peer(sock, 2)
    assert "Traceback" not in daemon.log()


def test_busy_tcp_port_exits_1_naming_the_option():
    """A TCP_Port that cannot be bound exits 1 saying why and naming --tcp-port."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, str(ROOT / "websocket_http_server.py"), "--source", "tcp",
             "--tcp-port", str(port), "--http-host", "127.0.0.1", "--http-port", "0",
             "--ws-host", "127.0.0.1", "--ws-port", "0"],
            capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    assert result.returncode == 1
    assert (f"cannot listen for TCP frames on 127.0.0.1:{port}: Address already in use; another "
            "program is using it: stop that program or choose another port with --tcp-port"
            in result.stderr)
