"""The viewer page in headless Chromium against a real daemon (simulated Lepton)."""

from __future__ import annotations

import io
import re
import signal
import socket

from PIL import Image, ImageStat

FRAME_WAIT_MS = 5_000  # the page must show 20 frames within this
RECONNECT_WAIT_MS = 12_000  # back-off tops out at 5 s, so two attempts fit
TEMPERATURE = re.compile(r"^(-?\d+\.\d)°C$")
ROOM_C = (15.0, 45.0)  # the simulated scene's plausible range


def open_viewer(new_page, daemon, **viewport):
    """Open the daemon's page and wait for the first frame on screen."""
    page = new_page(**viewport)
    page.goto(daemon.http_url + "/")
    page.wait_for_function("window.viewerStats && viewerStats.framesShown >= 1",
                           timeout=FRAME_WAIT_MS)
    return page


def shown(page) -> int:
    return page.evaluate("viewerStats.framesShown")


def free_ports(count: int) -> list[int]:
    """Distinct ports the OS says are free right now (bound to port 0 together, then closed)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def temperature(page, selector: str) -> float:
    text = page.text_content(selector)
    match = TEMPERATURE.match(text)
    assert match, f"{selector} shows {text!r}"
    return float(match[1])


def test_page_shows_twenty_frames_within_five_seconds(new_page, start_daemon):
    """viewerStats.framesShown rises by at least 20 within 5 s and the status says connected."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon)
    start = shown(page)
    page.wait_for_function(f"viewerStats.framesShown >= {start + 20}", timeout=FRAME_WAIT_MS)
    assert page.text_content("#status") == "connected"
    assert page.is_hidden("#overlay")
    stats = page.evaluate("viewerStats")
    assert stats["connected"] is True and stats["decodeErrors"] == 0
    assert stats["lastHeader"]["type"] == "frame" and stats["lastSeq"] == stats["lastHeader"]["seq"]
    assert float(page.text_content("#fps")) > 4


def test_page_counts_match_frames_on_the_wire(new_page, start_daemon):
    """Binary frames seen by Playwright on the WebSocket match the page's framesReceived."""
    daemon = start_daemon("--source", "simulated")
    page = new_page()
    wire = {"binary": 0, "text": 0, "urls": []}

    def on_websocket(ws):
        wire["urls"].append(ws.url)

        def on_frame(payload):
            wire["binary" if isinstance(payload, bytes) else "text"] += 1

        ws.on("framereceived", on_frame)

    page.on("websocket", on_websocket)
    page.goto(daemon.http_url + "/")
    page.wait_for_function("window.viewerStats && viewerStats.framesShown >= 20",
                           timeout=FRAME_WAIT_MS + 2_000)
    received = page.evaluate("viewerStats.framesReceived")
    assert wire["urls"] == [f"ws://127.0.0.1:{daemon.ws_port}/stream"]
    assert wire["text"] >= 1  # the hello
    # Playwright's event may land a frame later than the page's handler, or earlier.
    assert abs(wire["binary"] - received) <= 2, (wire, received)
    assert wire["binary"] >= 20


def test_image_area_is_not_blank(new_page, start_daemon):
    """The screenshot's image region has real contrast and many distinct colours."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon)
    page.wait_for_function("viewerStats.framesShown >= 5", timeout=FRAME_WAIT_MS)
    box = page.locator("#frame").bounding_box()
    assert box["width"] >= 320 and abs(box["height"] - box["width"] * 3 / 4) <= 2, box
    screenshot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    region = screenshot.crop((int(box["x"]), int(box["y"]),
                              int(box["x"] + box["width"]), int(box["y"] + box["height"])))
    spread = ImageStat.Stat(region.convert("L")).stddev[0]
    colours = len(region.getcolors(region.width * region.height))
    assert spread > 10, f"luminance stddev {spread:.1f}"
    assert colours > 200, f"{colours} distinct colours"


def test_temperatures_are_plausible_celsius(new_page, start_daemon):
    """Min, max, mean and centre show °C values of a room, ordered, and label the scale bar."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon)
    low, high = (temperature(page, "#t-min"), temperature(page, "#t-max"))
    mean, centre = (temperature(page, "#t-mean"), temperature(page, "#t-center"))
    assert ROOM_C[0] <= low <= mean <= high <= ROOM_C[1], (low, mean, high)
    assert low <= centre <= high
    assert page.text_content("#scale-min").endswith("°C")
    assert page.text_content("#scale-max").endswith("°C")
    assert page.is_visible("#scale-bar")
    assert page.evaluate("viewerStats.lastHeader.unit") == "C"


def test_page_reconnects_after_daemon_restart(new_page, start_daemon):
    """Stopping the daemon shows "disconnected"; a new daemon on the same ports gets frames again."""
    http_port, ws_port = free_ports(2)
    ports = ("--http-port", str(http_port), "--ws-port", str(ws_port))
    first = start_daemon("--source", "simulated", *ports)
    page = open_viewer(new_page, first)
    assert first.stop() == 0
    page.wait_for_function("viewerStats.connected === false", timeout=FRAME_WAIT_MS)
    assert page.text_content("#status").startswith("disconnected")
    page.wait_for_function("!document.getElementById('overlay').hidden", timeout=1_000)
    before = shown(page)

    start_daemon("--source", "simulated", *ports)
    page.wait_for_function(f"viewerStats.framesShown >= {before + 5}", timeout=RECONNECT_WAIT_MS)
    assert page.text_content("#status") == "connected"
    assert page.evaluate("viewerStats.connects") == 2
    assert page.is_hidden("#overlay")


def test_no_signal_overlay_when_frames_stop(new_page, start_daemon):
    """A frozen daemon (socket open, no frames) brings up "No signal" after 3 s; frames clear it."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon)
    daemon.process.send_signal(signal.SIGSTOP)
    try:
        page.wait_for_function(
            "document.getElementById('overlay').textContent.startsWith('No signal')",
            timeout=FRAME_WAIT_MS)
        assert page.evaluate("viewerStats.connected") is True
    finally:
        daemon.process.send_signal(signal.SIGCONT)
    page.wait_for_function("document.getElementById('overlay').hidden", timeout=FRAME_WAIT_MS)


def scale_bar_ends(page) -> tuple[list[int], list[int]]:
    """RGB of the scale bar's first and last pixel."""
    return tuple(page.evaluate("""(x) => {
        const bar = document.getElementById('scale-bar');
        return Array.from(bar.getContext('2d').getImageData(x * (bar.width - 1), 0, 1, 1).data)
            .slice(0, 3);
    }""", x) for x in (0, 1))


def close_colours(actual, expected, tolerance: int = 3) -> bool:
    """Colours equal within ``tolerance`` per channel (the canvas gradient rounds and dithers)."""
    return all(abs(a - e) <= tolerance
               for got, want in zip(actual, expected, strict=True)
               for a, e in zip(got, want, strict=True))


def test_scale_bar_follows_the_colormap(new_page, start_daemon):
    """The bar is drawn from the state's colormap; "_r" reverses it; unknown names use inferno."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon)
    assert close_colours(scale_bar_ends(page), ([0, 0, 4], [252, 255, 164]))  # inferno
    expected = {"gray": ([0, 0, 0], [255, 255, 255]), "magma_r": ([252, 253, 191], [0, 0, 4]),
                "ironbow": ([0, 0, 0], [255, 255, 224]), "cividis": ([0, 0, 4], [252, 255, 164])}
    for name, ends in expected.items():
        page.evaluate("(name) => viewer.drawScaleBar(name)", name)
        assert close_colours(scale_bar_ends(page), ends), (name, scale_bar_ends(page))


def test_commands_and_state_reach_the_page(new_page, start_daemon):
    """viewer.send() commands change the state: colormap name shown, "Paused" overlay on stop."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon)
    assert page.evaluate("viewer.send({cmd: 'set', colormap: 'viridis'})") is True
    page.wait_for_function("document.getElementById('colormap').textContent === 'viridis'",
                           timeout=FRAME_WAIT_MS)
    assert close_colours(scale_bar_ends(page), ([68, 1, 84], [253, 231, 37]))  # viridis
    assert page.evaluate("viewer.send({cmd: 'stop'})") is True
    page.wait_for_function("document.getElementById('overlay').textContent === 'Paused'",
                           timeout=FRAME_WAIT_MS)
    page.evaluate("viewer.send({cmd: 'start'})")
    page.wait_for_function("document.getElementById('overlay').hidden", timeout=FRAME_WAIT_MS)


def test_blob_urls_are_revoked(new_page, start_daemon):
    """After many frames at most two object URLs are alive, so memory stays flat."""
    daemon = start_daemon("--source", "simulated")
    page = new_page()
    page.add_init_script("""
        window.liveUrls = 0;
        const create = URL.createObjectURL, revoke = URL.revokeObjectURL;
        URL.createObjectURL = (blob) => { window.liveUrls += 1; return create(blob); };
        URL.revokeObjectURL = (url) => { window.liveUrls -= 1; return revoke(url); };
    """)
    page.goto(daemon.http_url + "/")
    page.wait_for_function("window.viewerStats && viewerStats.framesShown >= 20",
                           timeout=FRAME_WAIT_MS + 2_000)
    assert page.evaluate("window.liveUrls") <= 2


def test_frame_age_notes_skewed_clocks(new_page, start_daemon):
    """Frame age is a few ms normally, and is flagged when the page's clock is 10 s ahead."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon)
    page.wait_for_function("viewerStats.framesShown >= 3", timeout=FRAME_WAIT_MS)
    age = page.text_content("#age")
    assert re.fullmatch(r"-?\d+ ms", age) and abs(int(age.split()[0])) < 1000, age
    skewed = new_page()
    skewed.add_init_script("const realNow = Date.now; Date.now = () => realNow() + 10_000;")
    skewed.goto(daemon.http_url + "/")
    skewed.wait_for_function(
        "document.getElementById('age').textContent.endsWith('(clocks differ?)')",
        timeout=FRAME_WAIT_MS)


def test_phone_viewport_has_no_horizontal_scroll(new_page, start_daemon):
    """At 390x844 the page does not scroll sideways and the image spans the width."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon, width=390, height=844, is_mobile=True,
                       has_touch=True, device_scale_factor=2)
    scroll_width, client_width = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert scroll_width <= client_width == 390
    box = page.locator("#frame").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert box["width"] >= 370, box
    assert abs(box["height"] - box["width"] * 3 / 4) <= 2, box
    assert page.is_visible("#t-max")
