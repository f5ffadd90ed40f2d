#!/usr/bin/env python3
"""Make the README's picture of the viewer page: ``docs/screenshot.png``.

Starts the daemon with the simulated Lepton on 127.0.0.1 (any free ports), opens its page
in Debian's headless Chromium through Playwright, waits until the page has shown frames
and raw pixels, points at the hottest pixel so the hover readout shows, saves the page as
a PNG reduced to 256 colours (to keep it small), and stops the daemon by its PID.

    python tools/screenshot.py [-o docs/screenshot.png] [--width 1280] [--height 900]

Needs ``/usr/bin/chromium`` and the ``playwright`` package (requirements-test.txt); never
``playwright install``. Exit status: 0 when the picture is saved, 1 when the daemon or the
browser fails, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SERVING = re.compile(r"serving HTTP on \S+:(\d+) and WebSocket on \S+:(\d+)")
START_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
FRAMES_SHOWN = 30  # about 3.5 s of the simulated Lepton's 8.7 unique frames a second
PAGE_TIMEOUT_MS = 15_000


def start_daemon() -> tuple[subprocess.Popen, int]:
    """Start the daemon with the simulated Lepton on loopback; return it and its HTTP port.

    Raises:
        RuntimeError: when it does not log its ports within START_TIMEOUT_S.
    """
    command = [sys.executable, str(ROOT / "websocket_http_server.py"), "--source", "simulated",
               "--http-host", "127.0.0.1", "--ws-host", "127.0.0.1",
               "--http-port", "0", "--ws-port", "0"]
    process = subprocess.Popen(command, cwd=ROOT, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ports: list[int] = []
    serving = threading.Event()

    def read_log() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            match = SERVING.search(line)
            if match and not ports:
                ports.append(int(match[1]))
                serving.set()
        serving.set()  # it exited

    threading.Thread(target=read_log, name="daemon-stderr", daemon=True).start()
    if not serving.wait(START_TIMEOUT_S) or not ports:
        stop_daemon(process)
        raise RuntimeError("the daemon did not start")
    return process, ports[0]


def stop_daemon(process: subprocess.Popen) -> None:
    """SIGTERM the daemon by its PID; SIGKILL it if it is still there after STOP_TIMEOUT_S."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()


def capture(url: str, width: int, height: int) -> bytes:
    """Open the page at ``url``, wait for frames, hover the hottest pixel; return a PNG."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.goto(url)
            page.wait_for_function(f"window.viewerStats && viewerStats.framesShown >= "
                                   f"{FRAMES_SHOWN} && viewerStats.rawFrames >= 1")
            header = page.evaluate("viewerStats.lastHeader")
            x, y = header["stats"]["max_pos"]
            raw = header.get("raw", {})
            rows, cols = raw.get("rows", 120), raw.get("cols", 160)
            box = page.locator("#frame").bounding_box()
            page.mouse.move(box["x"] + (x + 0.5) * box["width"] / cols,
                            box["y"] + (y + 0.5) * box["height"] / rows)
            page.wait_for_function("!document.getElementById('cursor').hidden")
            time.sleep(0.3)  # let the plot and readouts settle on the same frame
            return page.screenshot(type="png")
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args(argv)
    try:
        process, http_port = start_daemon()
    except (OSError, RuntimeError) as error:
        print(f"screenshot: {error}", file=sys.stderr)
        return 1
    try:
        png = capture(f"http://127.0.0.1:{http_port}/", args.width, args.height)
    except Exception as error:  # Playwright's errors, a missing browser
        print(f"screenshot: the browser failed: {error}", file=sys.stderr)
        return 1
    finally:
        stop_daemon(process)
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    picture.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(args.out, optimize=True)
    print(f"{args.out}: {args.out.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
