"""Shared fixtures: the daemon as a subprocess on 127.0.0.1, data paths."""

from __future__ import annotations

import json
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
TEST_DATA = ROOT / "tests" / "data"
SERVING = re.compile(r"serving HTTP on \S+:(\d+) and WebSocket on \S+:(\d+)")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
CHECKOUT_DAEMON = (sys.executable, str(ROOT / "websocket_http_server.py"))


def stop_process(process: subprocess.Popen, sig: int = signal.SIGTERM,
                 timeout_s: float = STOP_TIMEOUT_S) -> int:
    """Send ``sig`` to a process we started (by its PID) and wait; SIGKILL it if it is
    still there after ``timeout_s``. Returns its exit status. Idempotent."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class Daemon:
    """A running daemon subprocess (``websocket_http_server.py`` of this checkout unless
    ``program`` names another, e.g. an installed console script) and what it logged.

    Attributes:
        http_port, ws_port: the ports it got (it is started with port 0).
        lines: every stderr line so far (a reader thread appends to it).
    """

    def __init__(self, args: list[str], cwd: Path = ROOT, env: dict | None = None,
                 program: tuple[str, ...] = CHECKOUT_DAEMON):
        command = [*program, "--http-host", "127.0.0.1", "--ws-host", "127.0.0.1",
                   "--http-port", "0", "--ws-port", "0", *args]
        self.process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        text=True, env={**os.environ, **(env or {})})
        self.lines: list[str] = []
        self._serving = threading.Event()
        self.http_port = self.ws_port = 0
        self._reader = threading.Thread(target=self._read, name="daemon-stderr")
        self._reader.start()
        if not self._serving.wait(START_TIMEOUT_S):
            self.stop()
            raise RuntimeError("daemon did not start:\n" + "".join(self.lines))

    def _read(self) -> None:
        for line in self.process.stderr:
            self.lines.append(line)
            match = SERVING.search(line)
            if match:
                self.http_port, self.ws_port = int(match[1]), int(match[2])
                self._serving.set()
        self._serving.set()  # exited: let the starter see it

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}"

    def health(self) -> dict:
        with urllib.request.urlopen(self.http_url + "/healthz", timeout=5) as response:
            return json.load(response)

    def wait_for_frames(self, count: int = 1, timeout_s: float = 10.0) -> None:
        """Wait until the source has produced ``count`` frames (polls /healthz)."""
        if not wait_until(lambda: self.health()["frames_captured"] >= count, timeout_s):
            raise AssertionError(f"no {count} frames within {timeout_s} s:\n{self.log()}")

    def log(self) -> str:
        return "".join(self.lines)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the daemon and wait for it; kill it if it hangs. Returns the exit status."""
        stop_process(self.process, sig)
        self._reader.join(STOP_TIMEOUT_S)
        return self.process.returncode


@pytest.fixture
def start_daemon():
    """Start daemons with ``start_daemon(*args)``; every one is stopped after the test."""
    daemons: list[Daemon] = []

    def start(*args: str, cwd: Path = ROOT, env: dict | None = None) -> Daemon:
        daemon = Daemon(list(args), cwd, env)
        daemons.append(daemon)
        return daemon

    yield start
    for daemon in daemons:
        daemon.stop()


def wait_until(predicate, timeout_s: float, interval_s: float = 0.02):
    """Poll ``predicate`` until it returns a true value or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval_s)


def with_exif_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The same JPEG with an EXIF (APP1) segment after its JFIF APP0 claiming another size."""
    assert jpeg[:4] == b"\xff\xd8\xff\xe0"  # SOI, then the JFIF APP0 segment
    exif = Image.Exif()
    exif[0x0100], exif[0x0101] = width, height  # ImageWidth, ImageLength
    exif.get_ifd(0x8769).update({0xA002: width, 0xA003: height})  # PixelX/YDimension
    payload = exif.tobytes()  # starts with "Exif\0\0"
    app0_end = 4 + int.from_bytes(jpeg[4:6], "big")
    return b"".join((jpeg[:app0_end], b"\xff\xe1", struct.pack(">H", 2 + len(payload)),
                     payload, jpeg[app0_end:]))
