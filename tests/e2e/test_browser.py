"""The viewer page in headless Chromium against a real daemon (simulated Lepton)."""

from __future__ import annotations

import io
import json
import re
import signal
import socket
import subprocess
import sys
import urllib.request

import numpy as np
import pytest
from PIL import Image, ImageStat

from tests.conftest import ROOT

FRAME_WAIT_MS = 5_000  # the page must show 20 frames within this
RECONNECT_WAIT_MS = 12_000  # back-off tops out at 5 s, so two attempts fit
TEMPERATURE = re.compile(r"^(-?\d+\.\d)°C$")
ROOM_C = (15.0, 45.0)  # the simulated scene's plausible range
# an init script: window.liveUrls counts object URLs created and not yet revoked
COUNT_LIVE_BLOB_URLS = """
    window.liveUrls = 0;
    const create = URL.createObjectURL, revoke = URL.revokeObjectURL;
    URL.createObjectURL = (blob) => { window.liveUrls += 1; return create(blob); };
    URL.revokeObjectURL = (url) => { window.liveUrls -= 1; return revoke(url); };
"""


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
    assert wire["urls"] == [f"ws://127.0.0.1:{daemon.ws_port}/stream?raw=1"]  # a raw source
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


# samples the <img> on every animation frame until `frames` more frames were shown
IMAGE_SIZE_SAMPLES = """(frames) => new Promise((resolve) => {
    const image = document.getElementById('frame');
    const stop = viewerStats.framesShown + frames;
    const widths = [];
    const sample = () => {
        widths.push(image.naturalWidth);
        if (viewerStats.framesShown >= stop) resolve(widths);
        else requestAnimationFrame(sample);
    };
    sample();
})"""


def test_picture_on_screen_always_has_its_size(new_page, start_daemon):
    """While frames stream, the <img> never holds a half-loaded picture (naturalWidth 0)."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon)
    widths = page.evaluate(IMAGE_SIZE_SAMPLES, 20)
    assert len(widths) >= 20 and set(widths) == {160}


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
    """Stopping the daemon shows "disconnected"; a new daemon on the same ports gets frames."""
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


def server_lut_ends(daemon, name: str) -> tuple[list[int], list[int]]:
    """First and last RGB entry of the daemon's /colormap.json table for ``name``."""
    with urllib.request.urlopen(f"{daemon.http_url}/colormap.json?name={name}", timeout=5) as reply:
        lut = bytes.fromhex(json.load(reply)["lut"])
    return list(lut[:3]), list(lut[-3:])


def test_scale_bar_follows_the_colormap(new_page, start_daemon):
    """The bar is painted from the daemon's table for each name ("_r" too); others leave it."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon)
    page.wait_for_function("document.getElementById('scale-bar').dataset.colormap === 'inferno'",
                           timeout=FRAME_WAIT_MS)
    assert close_colours(scale_bar_ends(page), ([0, 0, 4], [252, 255, 164]), tolerance=0)
    for name in ("gray", "magma_r", "ironbow", "white-hot", "black-hot", "cividis"):
        assert page.evaluate("(name) => viewer.drawScaleBar(name)", name) is True
        assert close_colours(scale_bar_ends(page), server_lut_ends(daemon, name), tolerance=0), name
    assert page.evaluate("viewer.drawScaleBar('no-such-map')") is False
    assert close_colours(scale_bar_ends(page), server_lut_ends(daemon, "cividis"), tolerance=0)


def test_commands_and_state_reach_the_page(new_page, start_daemon):
    """viewer.send() commands change the state: colormap name shown, "Paused" overlay on stop."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon)
    assert page.evaluate("viewer.send({cmd: 'set', colormap: 'viridis'})") is True
    page.wait_for_function(
        "document.getElementById('colormap').textContent === 'viridis'"
        " && document.getElementById('scale-bar').dataset.colormap === 'viridis'",
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
    page.add_init_script(COUNT_LIVE_BLOB_URLS)
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


# ---- the thermal viewer's features ---------------------------------------------------------------

HOT = (100, 30)  # [x, y] of the known frame's hot pixel: 37315 cK = 100.00 °C = 212.0 °F
COOL = (40, 80)  # a gradient pixel: 29315 + 40*10 + 80*5 = 30115 cK = 28.00 °C = 82.4 °F


def write_known_frame(tmp_path) -> str:
    """A (120, 160) uint16 centikelvin frame: a 20 °C + gradient with one 100 °C pixel."""
    rows, cols = np.mgrid[0:120, 0:160]
    frame = (29315 + cols * 10 + rows * 5).astype(np.uint16)
    frame[HOT[1], HOT[0]] = 37315
    path = tmp_path / "known.npy"
    np.save(path, frame)
    return str(path)


def pixel_centre(page, x: int, y: int, cols: int = 160, rows: int = 120) -> tuple[float, float]:
    """Page coordinates of raw pixel (x, y)'s centre on the displayed (scaled) image."""
    box = page.locator("#frame").bounding_box()
    return (box["x"] + (x + 0.5) * box["width"] / cols, box["y"] + (y + 0.5) * box["height"] / rows)


def wait_for_text(page, selector: str, text: str, timeout: int = FRAME_WAIT_MS) -> None:
    page.wait_for_function("([sel, text]) => document.querySelector(sel).textContent === text",
                           arg=[selector, text], timeout=timeout)


def test_pointer_reads_the_replayed_pixel_in_celsius_and_fahrenheit(new_page, start_daemon,
                                                                     tmp_path):
    """Hovering a known replayed pixel reads 100.0°C (212.0°F after switching); min/max markers."""
    daemon = start_daemon("--source", "replay", "--replay", write_known_frame(tmp_path))
    page = open_viewer(new_page, daemon)
    page.wait_for_function("viewerStats.rawFrames >= 1", timeout=FRAME_WAIT_MS)
    page.mouse.move(*pixel_centre(page, *HOT))
    wait_for_text(page, "#cursor-value", "100.0°C")
    assert page.text_content("#cursor-pos") == "(100, 30)"
    page.mouse.move(*pixel_centre(page, *COOL))
    wait_for_text(page, "#cursor-value", "28.0°C")

    page.click("label[for=units-f]")  # the mouse leaves the image for the switch
    page.mouse.move(*pixel_centre(page, *COOL))
    wait_for_text(page, "#cursor-value", "82.4°F")
    page.mouse.move(*pixel_centre(page, *HOT))
    wait_for_text(page, "#cursor-value", "212.0°F")
    assert page.text_content("#t-max") == "212.0°F" and page.text_content("#t-min") == "68.0°F"
    assert page.text_content("#scale-max") == "212.0°F"  # linear AGC: 20..100 °C
    assert page.text_content("#scale-min") == "68.0°F"

    for marker, (x, y) in (("#marker-max", HOT), ("#marker-min", (0, 0))):
        box = page.locator(marker).bounding_box()
        want_x, want_y = pixel_centre(page, x, y)
        assert abs(box["x"] + box["width"] / 2 - want_x) <= 1, marker
        assert abs(box["y"] + box["height"] / 2 - want_y) <= 1, marker
    page.uncheck("#show-markers")
    assert page.is_hidden("#marker-max") and page.is_hidden("#marker-center")
    page.mouse.move(0, 0)  # off the image: a mouse's readout goes away
    page.wait_for_function("document.getElementById('cursor').hidden", timeout=1_000)


def test_touch_reads_the_temperature_under_the_finger(new_page, start_daemon, tmp_path):
    """On a phone a tap on the hot pixel shows 100.0°C, and it stays after the finger lifts."""
    daemon = start_daemon("--source", "replay", "--replay", write_known_frame(tmp_path))
    page = open_viewer(new_page, daemon, width=390, height=844, is_mobile=True, has_touch=True,
                       device_scale_factor=2)
    page.wait_for_function("viewerStats.rawFrames >= 1", timeout=FRAME_WAIT_MS)
    page.touchscreen.tap(*pixel_centre(page, *HOT))
    wait_for_text(page, "#cursor-value", "100.0°C")
    assert page.is_visible("#cursor")


IMAGE_SATURATION = """() => {
    const image = document.getElementById('frame');
    const canvas = document.createElement('canvas');
    canvas.width = image.naturalWidth; canvas.height = image.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(image, 0, 0);
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let total = 0;
    for (let i = 0; i < data.length; i += 4) {
        const high = Math.max(data[i], data[i + 1], data[i + 2]);
        const low = Math.min(data[i], data[i + 1], data[i + 2]);
        total += high ? (high - low) / high : 0;
    }
    return total / (data.length / 4);
}"""


def test_palette_change_in_one_tab_shows_in_another(new_page, start_daemon):
    """White-hot chosen in one tab moves the other tab's selector and bar; its frames turn grey."""
    daemon = start_daemon("--source", "simulated")
    chooser, watcher = open_viewer(new_page, daemon), open_viewer(new_page, daemon)
    chooser.wait_for_function("document.querySelectorAll('#palette option').length > 20",
                              timeout=FRAME_WAIT_MS)
    assert watcher.input_value("#palette") == "inferno"
    wait_for_text(watcher, "#clients", "2")  # the state's client count reaches both tabs
    assert watcher.evaluate(IMAGE_SATURATION) > 0.5  # inferno: strongly coloured
    thermal = chooser.evaluate(
        "[...document.querySelector('#palette optgroup').children].map(o => o.value)")
    assert thermal[:4] == ["ironbow", "rainbow", "white-hot", "black-hot"]

    chooser.select_option("#palette", "white-hot")
    watcher.wait_for_function(
        "document.getElementById('palette').value === 'white-hot'"
        " && document.getElementById('scale-bar').dataset.colormap === 'white-hot'",
        timeout=FRAME_WAIT_MS)
    assert close_colours(scale_bar_ends(watcher), ([0, 0, 0], [255, 255, 255]), tolerance=0)
    start = shown(watcher)
    watcher.wait_for_function(f"viewerStats.framesShown >= {start + 3}", timeout=FRAME_WAIT_MS)
    assert watcher.evaluate(IMAGE_SATURATION) < 0.05  # grey frames
    assert watcher.text_content("#colormap") == "white-hot"


PLOT_PIXELS = """(colour) => {
    const canvas = document.getElementById('plot');
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const want = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
        if (want.every((v, c) => Math.abs(data[i + c] - v) <= 12)) count += 1;
    }
    return count;
}"""


def test_plot_draws_each_series_and_a_chosen_meta_field(new_page, start_daemon):
    """After a few seconds the plot shows max, mean, centre, min; ticking fpa_temp_c adds a line."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon)
    page.wait_for_function("viewerStats.plotPoints >= 15 && viewerStats.plotDraws >= 3",
                           timeout=FRAME_WAIT_MS)
    colours = page.evaluate("viewer.plotColours()")
    assert set(colours) == {"max", "mean", "center", "min", "meta:fpa_temp_c"}
    for key in ("max", "mean", "center", "min"):
        page.wait_for_function(f"({PLOT_PIXELS})('{colours[key]}') >= 20", timeout=FRAME_WAIT_MS)
    assert page.evaluate(f"({PLOT_PIXELS})('{colours['meta:fpa_temp_c']}')") == 0  # not chosen yet
    assert page.text_content("#plot-series").replace(" ", "") == "maxmeancentreminfpatemp"

    page.check("#plot-series input[value='meta:fpa_temp_c']")
    page.wait_for_function(f"({PLOT_PIXELS})('{colours['meta:fpa_temp_c']}') >= 20",
                           timeout=FRAME_WAIT_MS)
    for key in ("max", "mean", "center", "min"):
        page.uncheck(f"#plot-series input[value='{key}']")
    draws = page.evaluate("viewerStats.plotDraws")
    page.wait_for_function(f"viewerStats.plotDraws > {draws}", timeout=FRAME_WAIT_MS)
    assert page.evaluate(f"({PLOT_PIXELS})('{colours['max']}')") == 0  # fpa temp in place of stats
    assert page.evaluate(f"({PLOT_PIXELS})('{colours['meta:fpa_temp_c']}')") >= 20


MEMORY_FRAMES = (500, 3000)
MEMORY_GROWTH_LIMIT = 3 * 1024 * 1024


def js_heap_after_gc(cdp) -> int:
    """JSHeapUsedSize in bytes after a full garbage collection (Chrome DevTools Protocol)."""
    cdp.send("HeapProfiler.collectGarbage")
    cdp.send("HeapProfiler.collectGarbage")
    metrics = cdp.send("Performance.getMetrics")["metrics"]
    return int(next(m["value"] for m in metrics if m["name"] == "JSHeapUsedSize"))


FAST_SOURCE_SECONDS = 150  # every sender run is bounded; the test stops it sooner


def start_fast_source(start_daemon, tmp_path, kind: str):
    """(daemon, sender) fed at 40..60 fps: tcp (JPEGs, no raw) or zmq (raw counts, meta)."""
    if kind == "tcp":
        tcp_port, = free_ports(1)
        daemon = start_daemon("--source", "tcp", "--tcp-port", str(tcp_port))
        sender = subprocess.Popen(
            [sys.executable, str(ROOT / "tools" / "send_frames.py"), "--pattern",
             "--size", "320x240", "--rate", "60", "--port", str(tcp_port),
             "--seconds", str(FAST_SOURCE_SECONDS)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return daemon, sender
    sender = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "bsread_generator.py"), "--address", "tcp://127.0.0.1:*",
         "--rate", "50", "--seconds", str(FAST_SOURCE_SECONDS)],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = sender.stdout.readline()  # "bound tcp://127.0.0.1:PORT"
    assert line.startswith("bound tcp://"), line
    conf = tmp_path / "zmq.conf"
    conf.write_text(f"[Source]\nSource = zmq\nZMQ_Address = {line.split()[1]}\n")
    return start_daemon("-c", str(conf)), sender


@pytest.mark.timeout(200)
@pytest.mark.parametrize("kind", ["tcp", "zmq"])
def test_memory_stays_flat_over_thousands_of_frames(new_page, start_daemon, tmp_path, kind):
    """Frames 500 to 3000 of a fast source grow the JS heap (after GC) < 3 MB; ≤ 2 blob URLs."""
    daemon, sender = start_fast_source(start_daemon, tmp_path, kind)
    try:
        page = new_page()
        page.add_init_script(COUNT_LIVE_BLOB_URLS)
        page.goto(daemon.http_url + "/")
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")
        heap = {}
        for frames in MEMORY_FRAMES:
            page.wait_for_function(f"window.viewerStats && viewerStats.framesReceived >= {frames}",
                                   timeout=80_000, polling=500)
            heap[frames] = js_heap_after_gc(cdp)
            assert page.evaluate("window.liveUrls") <= 2
        stats = page.evaluate("viewerStats")
        assert stats["decodeErrors"] == 0 and stats["parseErrors"] == 0
        assert stats["rawFrames"] == (0 if kind == "tcp" else stats["framesReceived"])
        assert stats["plotPoints"] <= 601  # 60 s at most 10 points a second
        growth = heap[MEMORY_FRAMES[1]] - heap[MEMORY_FRAMES[0]]
        assert growth < MEMORY_GROWTH_LIMIT, heap
    finally:
        sender.kill()
        sender.wait()
        if sender.stdout:
            sender.stdout.close()


def test_stop_and_start_buttons_pause_and_resume_frames(new_page, start_daemon):
    """The Stop button pauses the stream (no new frames, "Paused"); Start resumes it."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon)
    assert page.text_content("#run-toggle") == "Stop"
    page.click("#run-toggle")
    wait_for_text(page, "#overlay", "Paused")
    assert page.text_content("#run-toggle") == "Start"
    paused_at = page.evaluate("viewerStats.framesReceived")
    page.wait_for_timeout(1_000)  # an observation window: nothing may arrive in it
    # one frame may have been in flight
    assert page.evaluate("viewerStats.framesReceived") <= paused_at + 1
    page.click("#run-toggle")
    page.wait_for_function(f"viewerStats.framesReceived >= {paused_at + 5}", timeout=FRAME_WAIT_MS)
    assert page.text_content("#run-toggle") == "Stop"
    assert page.is_hidden("#overlay")


def test_control_token_is_asked_once_and_sent_with_commands(new_page, start_daemon, tmp_path):
    """With Control_Token set, the first command prompts for it once; later commands carry it."""
    conf = tmp_path / "token.conf"
    token = "letmein-16-characters"  # Control_Token needs 16 characters
    conf.write_text(f"[Security]\nControl_Token = {token}\n")
    daemon = start_daemon("-c", str(conf), "--source", "simulated")
    page = open_viewer(new_page, daemon)
    prompts = []

    def answer(dialog, text=token):
        prompts.append((dialog.type, dialog.message))
        dialog.accept(text)

    page.on("dialog", answer)
    page.click("#run-toggle")
    wait_for_text(page, "#overlay", "Paused")
    assert len(prompts) == 1 and prompts[0][0] == "prompt" and "control token" in prompts[0][1]
    assert page.evaluate("sessionStorage.getItem('thermal-viewer.control-token')") == token
    page.select_option("#palette", "ironbow")
    page.wait_for_function("viewer.state.colormap === 'ironbow'", timeout=FRAME_WAIT_MS)
    page.click("#run-toggle")
    wait_for_text(page, "#run-toggle", "Stop")
    assert len(prompts) == 1

    wrong = open_viewer(new_page, daemon)
    wrong_prompts = []
    wrong.on("dialog", lambda dialog: (wrong_prompts.append(dialog.message), dialog.accept("nope")))
    wrong.click("#run-toggle")
    wrong.wait_for_function("viewerStats.serverErrors >= 2", timeout=FRAME_WAIT_MS)  # refused twice
    assert len(wrong_prompts) == 1  # asked once, not in a loop
    assert wrong.text_content("#status").startswith("server: this command needs the control token")
    assert wrong.text_content("#run-toggle") == "Stop" and wrong.evaluate("viewer.state.running")


def test_fixed_range_typed_in_fahrenheit_is_sent_in_celsius(new_page, start_daemon):
    """AGC fixed shows the range inputs; 68..104 °F becomes [20, 40] °C; percentile takes clip %."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon)
    assert page.is_hidden("#range-field") and page.is_hidden("#clip-field")
    page.click("label[for=units-f]")
    page.select_option("#agc", "fixed")
    page.wait_for_function("viewer.state.agc === 'fixed'", timeout=FRAME_WAIT_MS)
    assert page.is_visible("#range-field") and page.text_content("#range-unit") == "°F"
    page.fill("#range-low", "68")
    page.fill("#range-high", "104")
    page.press("#range-high", "Enter")
    page.wait_for_function("JSON.stringify(viewer.state.range) === '[20,40]'",
                           timeout=FRAME_WAIT_MS)
    page.wait_for_function(
        "viewerStats.lastHeader.agc.low === 20 && viewerStats.lastHeader.agc.high === 40",
        timeout=FRAME_WAIT_MS)
    wait_for_text(page, "#scale-max", "104.0°F")
    page.click("label[for=units-c]")
    assert page.input_value("#range-low") == "20" and page.input_value("#range-high") == "40"

    page.select_option("#agc", "percentile")
    assert page.is_visible("#clip-field") and page.is_hidden("#range-field")
    page.fill("#clip", "5")
    page.press("#clip", "Enter")
    page.wait_for_function("viewer.state.agc === 'percentile' && viewer.state.clip_percent === 5",
                           timeout=FRAME_WAIT_MS)


def test_agc_and_clip_controls_are_built_from_config_json(new_page, start_daemon):
    """The AGC options (order, default, tooltips) and the clip % limits are /config.json's
    render_settings; so is the isotherm colour the page starts from."""
    daemon = start_daemon("--source", "simulated")
    with urllib.request.urlopen(daemon.http_url + "/config.json", timeout=5) as answer:
        fields = {field["name"]: field for field in json.load(answer)["render_settings"]}
    page = open_viewer(new_page, daemon)
    options = page.evaluate("[...document.querySelectorAll('#agc option')]"
                            ".map((o) => [o.value, o.textContent, o.title])")
    assert options == [["linear", "linear", "the frame's min to max"],
                       ["percentile", "percentile", "clip a share of the pixels at each end"],
                       ["histogram", "histogram", "histogram equalisation, like the Lepton's HEQ"],
                       ["fixed", "fixed", "a range you choose"]]
    assert [value for value, _, _ in options] == fields["agc"]["choices"]
    assert page.input_value("#agc") == fields["agc"]["default"] == "linear"
    limits = page.evaluate("[document.getElementById('clip').min, "
                           "document.getElementById('clip').max]")
    assert limits == ["0", "49.99"]
    assert [float(limit) for limit in limits] == [fields["clip_percent"]["min"],
                                                  fields["clip_percent"]["max"]]
    assert page.input_value("#isotherm-color") == fields["isotherm_color"]["default"]


def green_pixels(daemon) -> int:
    """How many pixels of /snapshot.jpg are the isotherm's pure green (within JPEG noise)."""
    with urllib.request.urlopen(daemon.http_url + "/snapshot.jpg", timeout=5) as answer:
        rgb = np.asarray(Image.open(io.BytesIO(answer.read())).convert("RGB")).astype(int)
    return int(((rgb[..., 1] > 200) & (rgb[..., 0] < 60) & (rgb[..., 2] < 60)).sum())


def test_isotherm_typed_in_fahrenheit_is_drawn_and_cleared(new_page, start_daemon):
    """The isotherm boxes beside the palette: 86..104 °F is sent as [30, 40] °C, every viewer's
    boxes follow, the picture gets green where faces are; Clear sends null and removes it."""
    daemon = start_daemon("--source", "simulated")
    page, other = open_viewer(new_page, daemon), open_viewer(new_page, daemon)
    assert green_pixels(daemon) == 0 and page.is_disabled("#isotherm-clear")
    page.click("label[for=units-f]")
    assert page.text_content("#isotherm-unit") == "°F"
    page.fill("#isotherm-low", "86")
    page.fill("#isotherm-high", "104")
    page.press("#isotherm-high", "Enter")
    page.wait_for_function("JSON.stringify(viewer.state.isotherm) === '[30,40]'",
                           timeout=FRAME_WAIT_MS)
    other.wait_for_function("document.getElementById('isotherm-low').value === '30'",
                            timeout=FRAME_WAIT_MS)
    assert other.input_value("#isotherm-high") == "40"
    assert other.text_content("#isotherm-unit") == "°C"
    assert green_pixels(daemon) > 20  # skin is 33..34 C in the simulated room
    page.click("#isotherm-clear")
    other.wait_for_function("viewer.state.isotherm === null", timeout=FRAME_WAIT_MS)
    assert other.input_value("#isotherm-low") == "" and other.is_disabled("#isotherm-clear")
    assert green_pixels(daemon) == 0


def test_file_source_hides_what_it_does_not_have(new_page, start_daemon, tmp_path):
    """An image source shows size, fps, age; no temperature, palette, AGC, units, raw saves, FFC."""
    image = tmp_path / "thermal.jpg"
    image.write_bytes((ROOT / "thermal2.jpg").read_bytes())
    daemon = start_daemon("--source", "file", "--image", str(image))
    page = new_page()
    page.goto(daemon.http_url + "/")
    page.wait_for_function("window.viewerStats && viewerStats.framesShown >= 1",
                           timeout=FRAME_WAIT_MS)
    for selector in ("#t-max", "#scale-bar", "#palette", "#agc", "#units-f", "#show-markers",
                     "#save-png", "#save-npy", "#ffc", "#plot-box", "#marker-max"):
        assert page.is_hidden(selector), selector
    for selector in ("#size", "#fps", "#age", "#run-toggle", "#save-jpeg"):
        assert page.is_visible(selector), selector
    assert re.fullmatch(r"\d+ × \d+", page.text_content("#size"))
    ws_urls = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert not any("raw=1" in url for url in ws_urls)


def test_ffc_button_only_for_lepton_sources(new_page, start_daemon, tmp_path):
    """FFC shows for the simulated Lepton (and the command is accepted), not for a replay."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon)
    assert page.is_visible("#ffc")
    page.click("#ffc")
    page.wait_for_timeout(500)  # an observation window: no error may come back
    assert page.evaluate("viewerStats.serverErrors") == 0
    replay = start_daemon("--source", "replay", "--replay", write_known_frame(tmp_path))
    assert open_viewer(new_page, replay).is_hidden("#ffc")


def test_save_buttons_download_jpeg_png16_and_npy(new_page, start_daemon, tmp_path):
    """Save picture gives the JPEG on screen, Raw PNG a 16-bit 160x120 PNG, Raw .npy the uint16s."""
    daemon = start_daemon("--source", "replay", "--replay", write_known_frame(tmp_path))
    page = open_viewer(new_page, daemon, accept_downloads=True)
    with page.expect_download() as info:
        page.click("#save-jpeg")
    jpeg = info.value
    assert re.fullmatch(r"thermal-\d{8}-\d{6}\.jpg", jpeg.suggested_filename)
    with Image.open(jpeg.path()) as picture:
        assert picture.format == "JPEG" and picture.size == (160, 120)
    with page.expect_download() as info:
        page.click("#save-png")
    assert info.value.suggested_filename.endswith(".png")
    with Image.open(info.value.path()) as png:
        assert png.mode.startswith("I;16") or png.mode == "I"
        assert png.size == (160, 120) and png.getpixel(HOT) == 37315
    with page.expect_download() as info:
        page.click("#save-npy")
    array = np.load(info.value.path())
    assert array.dtype == np.uint16 and array.shape == (120, 160) and array[HOT[1], HOT[0]] == 37315


def test_full_screen_button_enlarges_the_image_area(new_page, start_daemon):
    """Full screen puts the image area (image and scale bar) in full screen; the button leaves."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon)
    page.click("#fullscreen")
    page.wait_for_function("document.fullscreenElement && document.fullscreenElement.id === 'view'",
                           timeout=FRAME_WAIT_MS)
    # the label follows the fullscreenchange event, which comes after fullscreenElement is set
    page.wait_for_function("document.querySelector('#fullscreen').textContent"
                           " === 'Exit full screen'", timeout=FRAME_WAIT_MS)
    page.evaluate("document.exitFullscreen()")
    page.wait_for_function("document.fullscreenElement === null", timeout=FRAME_WAIT_MS)


def test_phone_controls_fold_into_a_panel(new_page, start_daemon):
    """At 390x844 the controls start folded; opened, all controls fit, nothing scrolls sideways."""
    daemon = start_daemon("--source", "simulated")
    page = open_viewer(new_page, daemon, width=390, height=844, is_mobile=True, has_touch=True,
                       device_scale_factor=2)
    assert page.is_hidden("#palette")
    page.click("#controls summary")
    assert page.is_visible("#palette")
    page.select_option("#agc", "fixed")
    page.wait_for_function("viewer.state.agc === 'fixed'", timeout=FRAME_WAIT_MS)
    for selector in ("#run-toggle", "#palette", "#agc", "#range-high", "#units-f + label",
                     "#save-npy", "#plot"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, (selector, box)
    scroll_width, client_width = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert scroll_width <= client_width == 390
