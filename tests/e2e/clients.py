"""Small real clients for the end-to-end tests (loopback only, every wait bounded)."""

from __future__ import annotations

import base64
import os
import socket
import threading
import time

from websockets.sync.client import connect

from thermal_streamer.protocols.wire import parse_frame_message


def stalled_client(port: int, path: str = "/stream", rcvbuf: int = 4096) -> socket.socket:
    """Open a WebSocket (raw socket, handshake done) that never reads again."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(5.0)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("closed during handshake")
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def is_closed_by_peer(sock: socket.socket, timeout_s: float) -> bool:
    """Drain the socket until the peer closes it (True) or ``timeout_s`` passes (False)."""
    deadline = time.monotonic() + timeout_s
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            if not sock.recv(1 << 20):
                return True
        except TimeoutError:
            continue
        except ConnectionError:
            return True
    return False


class FrameCounter(threading.Thread):
    """A /stream client in a thread that counts (and checks) the frames it receives.

    Attributes:
        headers: every frame header received, in order.
        jpegs_ok: False as soon as one JPEG was not whole (bad SOI/EOI or size).
    """

    def __init__(self, url: str, duration_s: float, keep_jpegs: bool = False):
        super().__init__(name=f"frame-counter-{url}")
        self.url, self.duration_s, self.keep_jpegs = url, duration_s, keep_jpegs
        self.headers: list[dict] = []
        self.jpegs: list[bytes] = []
        self.jpegs_ok = True
        self.error: Exception | None = None
        self.connected = threading.Event()
        self._end = threading.Event()

    def stop(self) -> None:
        """End early (within 0.2 s) instead of after ``duration_s``."""
        self._end.set()

    def run(self) -> None:
        try:
            with connect(self.url, open_timeout=5, close_timeout=2) as ws:
                self.connected.set()
                deadline = time.monotonic() + self.duration_s
                while (left := deadline - time.monotonic()) > 0 and not self._end.is_set():
                    try:
                        message = ws.recv(timeout=min(left, 0.2))
                    except TimeoutError:
                        continue
                    if isinstance(message, str):
                        continue
                    header, jpeg, _ = parse_frame_message(message)
                    self.headers.append(header)
                    if not (jpeg.startswith(b"\xff\xd8") and jpeg.endswith(b"\xff\xd9")
                            and len(jpeg) == header["jpeg_size"]):
                        self.jpegs_ok = False
                    if self.keep_jpegs:
                        self.jpegs.append(jpeg)
        except Exception as exc:  # reported by the test
            self.error = exc
        finally:
            self.connected.set()

    @property
    def rate(self) -> float:
        return len(self.headers) / self.duration_s
