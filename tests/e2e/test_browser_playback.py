"""A recording played back in one Chromium tab (play, pause, seek, speed, hover temperatures)
while another tab keeps watching live at the source rate; and the page's playback clock."""

from __future__ import annotations

import json
import math
import re
import time
import urllib.request

import pytest

from tests.conftest import wait_until
from tests.e2e.test_browser import TEMPERATURE, open_viewer
from thermal_streamer.recording.formats import read_recording

RECORD_WAIT_S = 15.0  # the daemon must have recorded MIN_FRAMES within this
MIN_FRAMES = 30  # about 3.5 s of the simulated camera
PLAY_WAIT_MS = 10_000
CURSOR_POS = re.compile(r"^\((\d+), (\d+)\)$")


def get_json(daemon, path: str):
    with urllib.request.urlopen(daemon.http_url + path, timeout=5) as response:
        return json.load(response)


def recorded(daemon) -> dict | None:
    """The newest recording once it holds MIN_FRAMES and recording has stopped, else None."""
    listing = get_json(daemon, "/recordings.json")
    entries = listing["recordings"]
    if listing["state"]["state"] == "recording" or not entries:
        return None
    return entries[0] if entries[0]["frames"] >= MIN_FRAMES else None


def shown_playback(page) -> dict | None:
    """The playback field of the frame on screen (None for a live frame)."""
    return page.evaluate("viewer.shownHeader && viewer.shownHeader.playback || null")


def live_rate_hz(page, start: tuple[float, int]) -> float:
    """Frames the page received per second since ``start`` = (time.monotonic(), count)."""
    return (page.evaluate("viewerStats.framesReceived") - start[1]) / (time.monotonic() - start[0])


def test_recording_plays_in_one_tab_while_another_watches_live(new_page, start_daemon, tmp_path):
    """One tab opens a recording: it plays (frames advance), pauses (the frame stays while
    live frames flow), seeks (the frame of the seeked time, its recorded pixels under the
    pointer), plays to the end at 4x, and goes back to live; the other tab receives live
    frames at the source rate throughout and never shows a recorded one."""
    conf = tmp_path / "server.conf"
    conf.write_text(f"[Recording]\nRecord = always\nFormat = hdf5\nSegment_Seconds = 10\n"
                    f"Recordings_Dir = {tmp_path / 'rec'}\n")
    daemon = start_daemon("-c", str(conf), "--source", "simulated")
    live = open_viewer(new_page, daemon)
    assert wait_until(lambda: [e for e in get_json(daemon, "/recordings.json")["recordings"]
                               if e["frames"] >= MIN_FRAMES], RECORD_WAIT_S)
    assert live.evaluate("viewer.send({cmd: 'record', action: 'stop'})") is True
    entry = wait_until(lambda: recorded(daemon), RECORD_WAIT_S)
    assert entry, get_json(daemon, "/recordings.json")
    name = entry["name"]
    recording = read_recording(tmp_path / "rec" / name)
    index = get_json(daemon, f"/playback/{name}")
    assert index["frames"] == len(recording.pixels) == entry["frames"]

    player = open_viewer(new_page, daemon)
    live_start = (time.monotonic(), live.evaluate("viewerStats.framesReceived"))
    player.click("#recordings-panel summary")
    player.click(f"button[data-name='{name}']")
    player.wait_for_function("(viewer.shownHeader.playback || {frame: 0}).frame >= 5",
                             timeout=PLAY_WAIT_MS)  # it plays
    assert player.text_content("#source") == "recording"
    assert player.text_content("#age") == "–"

    player.click("#play-toggle")  # pause
    player.wait_for_function("document.querySelector('#play-toggle').textContent === 'Play'")
    paused = shown_playback(player)["frame"]
    received = player.evaluate("viewerStats.framesReceived")
    player.wait_for_function(f"viewerStats.framesReceived >= {received + 5}",
                             timeout=PLAY_WAIT_MS)  # live frames arrive and are left aside
    assert shown_playback(player)["frame"] == paused

    target = len(index["times"]) // 2 if paused != len(index["times"]) // 2 else 1
    player.evaluate("""(t) => { const el = document.querySelector('#timeline');
        el.value = String(t); el.dispatchEvent(new Event('input')); }""", index["times"][target])
    player.wait_for_function(f"viewer.shownHeader.playback.frame === {target}",
                             timeout=PLAY_WAIT_MS)
    header = player.evaluate("viewer.shownHeader")
    assert header["timestamp"] == recording.timestamps_s[target]
    assert header["seq"] == recording.seq[target]

    box = player.locator("#frame").bounding_box()
    player.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.6)
    player.wait_for_selector("#cursor", state="visible")
    value = TEMPERATURE.match(player.text_content("#cursor-value"))
    x, y = map(int, CURSOR_POS.match(player.text_content("#cursor-pos")).groups())
    assert value, player.text_content("#cursor-value")
    expected = recording.pixels[target][y, x] / 100 - 273.15
    assert float(value[1]) == pytest.approx(expected, abs=0.051)

    player.select_option("#play-speed", "4")
    player.click("#play-toggle")  # plays on at 4x to the last frame, then stops
    last = len(index["times"]) - 1
    left_s = index["times"][last] - index["times"][target]
    player.wait_for_function(
        f"viewer.shownHeader.playback.frame === {last} && "
        "document.querySelector('#play-toggle').textContent === 'Play'",
        timeout=int(left_s / 4 * 1000 * 1.5) + 2000)

    assert live.evaluate("viewer.shownHeader.source") == "simulated"
    assert live.evaluate("viewerStats.playbackFrames") == 0
    fps = live.evaluate("viewerStats.lastHeader.fps")
    assert live_rate_hz(live, live_start) == pytest.approx(fps, rel=0.2)
    assert player.evaluate("viewerStats.playbackErrors") == 0

    player.click("#play-live")  # back to live
    player.wait_for_function("viewer.shownHeader.source === 'simulated'", timeout=PLAY_WAIT_MS)
    assert player.is_hidden("#player")


CLOCK_CHECKS = """async () => {
    const { PlaybackClock } = await import('/static/playback-clock.js');
    const clock = new PlaybackClock([0, 0.1, 0.2, 0.35, 1.0]);
    const out = {};
    out.before = [clock.position(0), clock.frame(0), clock.msToNextFrame(0)];
    clock.play(1000);
    out.playing = [clock.position(1150), clock.frame(1150), clock.msToNextFrame(1150)];
    clock.setSpeed(2, 1150);
    out.double = [clock.position(1250), clock.frame(1250), clock.msToNextFrame(1250)];
    clock.pause(1250);
    out.paused = [clock.position(5000), clock.frame(5000), clock.msToNextFrame(5000)];
    clock.seek(0.3, 5000);
    out.seeked = [clock.position(6000), clock.frame(6000)];
    clock.seek(7, 6000);
    out.clamped = [clock.position(6000), clock.ended(6000), clock.frame(6000)];
    clock.play(7000);
    out.restarted = [clock.position(7000), clock.frame(7000)];
    out.frameAt = [-1, 0, 0.05, 0.1, 0.34, 0.35, 0.99, 1, 2].map((s) => clock.frameAt(s));
    return out;
}"""


def test_playback_clock_value_by_value(new_page, start_daemon):
    """The page's PlaybackClock: position, frame due and wait under play, speed, pause, seek
    (clamped), restart after the end, and frameAt's last-not-after rule."""
    daemon = start_daemon("--source", "simulated")
    page = new_page()
    page.goto(daemon.http_url + "/")
    out = page.evaluate(CLOCK_CHECKS)
    assert out["before"] == [0, 0, math.inf]  # paused: no next frame
    assert out["playing"] == pytest.approx([0.15, 1, 50])
    assert out["double"] == pytest.approx([0.35, 3, 325])
    assert out["paused"] == pytest.approx([0.35, 3, math.inf])
    assert out["seeked"] == pytest.approx([0.3, 2])
    assert out["clamped"] == [1.0, True, 4]
    assert out["restarted"] == [0, 0]
    assert out["frameAt"] == [0, 0, 0, 1, 2, 3, 3, 4, 4]
