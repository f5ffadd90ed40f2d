"""Mixed viewers: 50 /stream and 50 /stream.mjpg on one daemon, then with a stalled MJPEG one.

The daemon runs ``--source file`` re-publishing a 160x120 JPEG every 0.1 s (10 Hz, above
the Lepton's 8.7 Hz) on 127.0.0.1. In this process, one asyncio loop runs ``--each``
``/stream`` clients (the ``websockets`` client) and ``--each`` ``/stream.mjpg`` clients
(asyncio streams parsing the multipart parts). Per protocol it reports frames per second
per client (mean, min), and for ``/stream`` the latency from capture (header
``timestamp``) to receipt (p50, p99); plus the daemon's CPU (percent of one core, from
/proc) and RSS. The second run adds one MJPEG client that never reads (small receive
buffer): the others' rates should not change.

Usage: python bench/mixed.py [--each 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from websockets.asyncio.client import connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from thermal_streamer.protocols.wire import parse_frame_message  # noqa: E402

SERVING = re.compile(r"serving HTTP on \S+:(\d+) and WebSocket on \S+:(\d+)")


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_daemon(tmp: str) -> tuple[subprocess.Popen, int, int]:
    image = Path(tmp) / "frame.jpg"
    Image.open(ROOT / "thermal2.jpg").resize((160, 120)).save(image, quality=90)
    conf = Path(tmp) / "bench.conf"
    conf.write_text("[Source]\nResend_Interval = 0.1\n[Stream]\nSend_Timeout = 60\n")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "websocket_http_server.py"), "-c", str(conf),
         "--source", "file", "--image", str(image), "--http-host", "127.0.0.1",
         "--http-port", "0", "--ws-host", "127.0.0.1", "--ws-port", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        match = SERVING.search(proc.stderr.readline())
        if match:
            return proc, int(match[1]), int(match[2])
    proc.kill()
    raise RuntimeError("daemon did not start")


class Window:
    """The measurement window: it opens once every viewer is connected."""

    def __init__(self, viewers: int, seconds: float):
        self.waiting, self.seconds = viewers, seconds
        self.opened = asyncio.Event()
        self.start = self.until = 0.0

    def connected(self) -> None:
        self.waiting -= 1
        if self.waiting == 0:
            self.start = time.time() + 1.0  # a second to settle
            self.until = self.start + self.seconds
            self.opened.set()


async def websocket_viewer(port: int, window: Window, latencies: list[float]) -> int:
    frames = 0
    async with connect(f"ws://127.0.0.1:{port}/stream", open_timeout=30) as ws:
        window.connected()
        await asyncio.wait_for(window.opened.wait(), 60)
        start, until = window.start, window.until
        while (left := until - time.time()) > 0:
            try:
                message = await asyncio.wait_for(ws.recv(), left)
            except TimeoutError:
                break
            if isinstance(message, bytes) and time.time() >= start:
                header, _, _ = parse_frame_message(message)
                latencies.append((time.time() - header["timestamp"]) * 1000)
                frames += 1
    return frames


async def mjpeg_viewer(port: int, window: Window) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /stream.mjpg HTTP/1.1\r\nHost: bench\r\n\r\n")
    frames = 0
    try:
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)  # response headers
        window.connected()
        await asyncio.wait_for(window.opened.wait(), 60)
        start, until = window.start, window.until
        while (left := until - time.time()) > 0:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), left)
            except TimeoutError:
                break
            length = int(re.search(rb"Content-Length: (\d+)", head)[1])
            await reader.readexactly(length + 2)
            frames += time.time() >= start
    finally:
        writer.close()
    return frames


async def measure(http_port: int, ws_port: int, each: int, seconds: float, pid: int) -> dict:
    window = Window(2 * each, seconds)
    latencies: list[float] = []
    tasks = [asyncio.create_task(websocket_viewer(ws_port, window, latencies))
             for _ in range(each)]
    tasks += [asyncio.create_task(mjpeg_viewer(http_port, window)) for _ in range(each)]
    await asyncio.wait_for(window.opened.wait(), 60)
    await asyncio.sleep(window.start - time.time())
    counts_before = cpu_s(pid)
    frames = await asyncio.gather(*tasks)
    cpu = (cpu_s(pid) - counts_before) / seconds * 100
    ws_fps = [f / seconds for f in frames[:each]]
    mjpeg_fps = [f / seconds for f in frames[each:]]
    latencies.sort()
    return {
        "ws_fps_mean": statistics.mean(ws_fps), "ws_fps_min": min(ws_fps),
        "mjpeg_fps_mean": statistics.mean(mjpeg_fps), "mjpeg_fps_min": min(mjpeg_fps),
        "ws_p50_ms": latencies[len(latencies) // 2],
        "ws_p99_ms": latencies[int(len(latencies) * 0.99)],
        "cpu_pct": cpu, "rss_mb": rss_mb(pid),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--each", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        proc, http_port, ws_port = start_daemon(tmp)
        try:
            results["mixed"] = asyncio.run(measure(http_port, ws_port, args.each, args.seconds,
                                                   proc.pid))
            stalled = socket.socket()
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.connect(("127.0.0.1", http_port))
            stalled.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: bench\r\n\r\n")
            try:
                results["mixed+stalled"] = asyncio.run(measure(
                    http_port, ws_port, args.each, args.seconds, proc.pid))
            finally:
                stalled.close()
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"| run ({args.each} + {args.each}) | WS fps mean/min | MJPEG fps mean/min "
          "| WS p50/p99 ms | server CPU % | RSS MB |")
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['ws_fps_mean']:.2f} / {r['ws_fps_min']:.2f} "
              f"| {r['mjpeg_fps_mean']:.2f} / {r['mjpeg_fps_min']:.2f} "
              f"| {r['ws_p50_ms']:.1f} / {r['ws_p99_ms']:.1f} | {r['cpu_pct']:.2f} "
              f"| {r['rss_mb']:.0f} |")
    ratio = results["mixed+stalled"]["mjpeg_fps_min"] / results["mixed"]["mjpeg_fps_min"]
    print(json.dumps(results))
    print(f"mjpeg_fps_min_ratio_with_vs_without_stalled={ratio:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
