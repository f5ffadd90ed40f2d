"""thermal_streamer.recording.recorder in-process: real hub, state, threads and files (no mocks).

Frames are published into the hub's raw slot one at a time; the test waits (bounded)
until the recorder thread has taken each (its ``frames_seen`` counter) before publishing
the next, so nothing is skipped unless a test wants it.
"""

import contextlib
import json
import logging
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from cptv import CPTVReader

from lepton.radiometry import PixelUnit
from tests.conftest import wait_until
from tests.thermal_streamer.parts import no_ffc
from thermal_streamer.control.commands import CommandError, CommandRunner
from thermal_streamer.control.render_settings import RenderSettings
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.core.hub import Hub
from thermal_streamer.recording.formats import read_recording
from thermal_streamer.recording.policy import RecordMode
from thermal_streamer.recording.recorder import Recorder, RecordingSettings

JOIN_S = 5.0
RATE_HZ = 8.7
T0 = 1714564800.0
ROOM_CK = 29515  # 22 C


class Rig:
    """A hub, a state and a running Recorder (both threads); ``feed`` publishes frames."""

    def __init__(self, settings: RecordingSettings, has_raw: bool = True,
                 camera=lambda: {"model": "LEPTON3"}):
        self.state = AcquisitionState(RenderSettings())
        self.hub = Hub()
        self.recorder = Recorder(self.hub, self.state, settings, "simulated", has_raw, camera)
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=target, args=(self.stop,), name=name)
                        for name, target in (("recorder", self.recorder.run),
                                             ("recorder-writer", self.recorder.writer.run))]
        if self.recorder.active:
            for thread in self.threads:
                thread.start()

    def feed(self, frame: RawFrame) -> None:
        """Publish one frame; returns once the recorder thread has taken it."""
        seen = self.recorder.counters["frames_seen"]
        self.hub.publish_source_frame(frame)
        assert wait_until(lambda: self.recorder.counters["frames_seen"] > seen, JOIN_S)

    def close(self) -> None:
        self.stop.set()
        self.hub.close()
        for thread in self.threads:
            if thread.is_alive():
                thread.join(JOIN_S)
                assert not thread.is_alive()


@contextlib.contextmanager
def rig(tmp_path: Path, camera=lambda: {"model": "LEPTON3"}, **settings):
    r = Rig(RecordingSettings(directory=tmp_path, **settings), camera=camera)
    try:
        yield r
    finally:
        r.close()


def scene(i: int, hot_from: int | None = None, seed: int = 0) -> RawFrame:
    """A still room with sensor noise; from frame ``hot_from`` on a 30x20 object 15 K warmer."""
    rng = np.random.default_rng(seed * 100000 + i)
    pixels = (ROOM_CK + rng.integers(-3, 4, (120, 160))).astype(np.uint16)
    if hot_from is not None and i >= hot_from:
        pixels[40:70, 60:80] += 1500
    return RawFrame(pixels, PixelUnit.CENTIKELVIN, T0 + i / RATE_HZ, {"fpa_temp_c": 31.25})


def files(folder: Path, suffix: str) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.endswith(suffix))


def test_event_clip_holds_the_preroll_before_the_hot_object(tmp_path):
    """A hot object appearing makes one clip: Pre_Seconds of the still room, the object,
    then Post_Seconds after the motion ends; nothing is recorded before or after."""
    hot_at = 40
    with rig(tmp_path, mode=RecordMode.EVENT, pre_s=2.0, post_s=1.0) as r:
        for i in range(hot_at + 30):
            r.feed(scene(i, hot_from=hot_at))
        assert wait_until(lambda: r.state.part("recording")["state"] == "idle", JOIN_S)
    (clip,) = files(tmp_path, ".cptv")
    # the pre-roll: the frames of the 2.0 s up to the last one before the event, 22..39
    first = hot_at - 1 - int(2.0 * RATE_HZ)
    assert clip.name == "20240501-120002.528-event.cptv"  # frame 22's time, T0 + 22 / 8.7
    with open(clip, "rb") as f:
        pixels = [frame.pix for frame in CPTVReader(f)]
    last = hot_at + int(1.0 * RATE_HZ)  # the motion was one frame; 1.0 s after it
    assert len(pixels) == last - first + 1
    expected = [scene(i, hot_from=hot_at).pixels for i in range(first, last + 1)]
    assert all(np.array_equal(a, b) for a, b in zip(pixels, expected, strict=True))
    assert pixels[hot_at - first - 1].max() < ROOM_CK + 10  # the room just before
    assert pixels[hot_at - first].max() > ROOM_CK + 1400  # the object
    recording = read_recording(clip)
    assert recording.seq.tolist() == list(range(first + 1, last + 2))  # hub seq is 1-based


def test_hook_events_start_and_end_a_clip(tmp_path):
    """Another component's event (an alarm) records like motion, Post_Seconds after it ends."""
    with rig(tmp_path, mode=RecordMode.EVENT, pre_s=0.0, post_s=0.5) as r:
        for i in range(5):
            r.feed(scene(i))
        r.recorder.set_event("alarm:door", True)
        for i in range(5, 10):
            r.feed(scene(i))
        assert r.state.part("recording")["state"] == "recording"
        r.recorder.set_event("alarm:door", False)
        for i in range(10, 20):
            r.feed(scene(i))
    (clip,) = files(tmp_path, ".cptv")
    assert len(read_recording(clip).pixels) == 5 + 4  # 5..9, then 0.5 s after 9: 10..13


def test_manual_commands_through_the_command_runner(tmp_path, caplog):
    """record start/stop make one clip; bad commands are refused with their reasons; a
    deletion logs who asked for it."""
    caplog.set_level("INFO", "thermal_streamer.recording.recorder")
    with rig(tmp_path, mode=RecordMode.MANUAL, format="hdf5") as r:
        runner = CommandRunner(r.state, no_ffc, "secret", r.recorder.command_handlers())
        with pytest.raises(CommandError) as info:
            runner.execute('{"cmd": "record", "action": "go", "token": "secret"}')
        assert str(info.value) == 'record needs "action": "start" or "stop"'
        with pytest.raises(CommandError) as info:
            runner.execute('{"cmd": "record", "action": "start"}')
        assert str(info.value) == "this command needs the control token (Control_Token)"
        r.feed(scene(0))
        runner.execute('{"cmd": "record", "action": "start", "token": "secret"}').result(JOIN_S)
        for i in range(1, 6):
            r.feed(scene(i))
        part = r.state.part("recording")
        assert (part["mode"], part["state"], part["trigger"]) == ("manual", "recording", "manual")
        runner.execute('{"cmd": "record", "action": "stop", "token": "secret"}').result(JOIN_S)
        r.feed(scene(6))
        assert wait_until(lambda: r.recorder.listing()["recordings"][0]["frames"] == 5, JOIN_S)
        entry = r.recorder.listing()["recordings"][0]
        assert (entry["format"], entry["trigger"], entry["dropped"]) == ("hdf5", "manual", 0)
        assert entry["duration"] == pytest.approx(4 / RATE_HZ, abs=0.002)
        with pytest.raises(CommandError) as info:
            runner.execute('{"cmd": "delete_recording", "name": "../x.h5", "token": "secret"}')
        assert str(info.value) == "no recording named '../x.h5'"
        runner.execute(json.dumps({"cmd": "delete_recording", "name": entry["name"],
                                   "token": "secret"}), sender="192.0.2.7").result(JOIN_S)
        assert r.recorder.listing()["recordings"] == []
        assert f"recording {entry['name']}: deletion asked by 192.0.2.7" in caplog.messages
        assert list(tmp_path.iterdir()) == []


def test_recording_off_and_image_sources_refuse_the_command(tmp_path):
    """Record = off, or a source without raw frames: the command says why, no thread runs."""
    off = Rig(RecordingSettings(directory=tmp_path / "a"))
    with pytest.raises(CommandError) as info:
        off.recorder.command(True)
    assert str(info.value) == ("recording is off: set [Recording] Record to always, manual "
                               "or event")
    assert off.state.part("recording")["state"] == "off"
    images = Rig(RecordingSettings(RecordMode.ALWAYS, directory=tmp_path / "b"), has_raw=False)
    with pytest.raises(CommandError) as info:
        images.recorder.command(True)
    assert str(info.value) == "the simulated source has no raw frames to record"
    assert images.state.part("recording")["state"] == "unavailable"
    assert not any(t.is_alive() for t in off.threads + images.threads)


def test_full_queue_drops_and_counts(tmp_path):
    """A pre-roll larger than the queue: what does not fit is dropped, counted in health and
    in the recording's sidecar; the frame path never waited."""
    with rig(tmp_path, mode=RecordMode.EVENT, pre_s=2.0, post_s=0.0, queue_frames=4) as r:
        for i in range(30):
            r.feed(scene(i, hot_from=25))
        assert wait_until(lambda: r.recorder.listing()["recordings"], JOIN_S)
        dropped = r.recorder.health().counters["frames_dropped"]
    assert dropped > 0
    (entry,) = r.recorder.listing()["recordings"]
    assert entry["dropped"] == dropped
    assert entry["frames"] + dropped == 1 + int(2.0 * RATE_HZ) + 1  # pre-roll + the event frame


def test_segments_and_max_disk_delete_the_oldest_first(tmp_path, caplog):
    """Segments of Segment_Seconds; past Max_Disk_MB the oldest recordings go first and the
    newest stay; recording carries on."""
    caplog.set_level(logging.INFO, "thermal_streamer.recording.writer")
    with rig(tmp_path, mode=RecordMode.ALWAYS, segment_s=1.0, max_disk_mb=1) as r:
        for i in range(int(12 * RATE_HZ)):
            r.feed(scene(i, seed=1))
            if i % 9 == 8:  # a flush between segments, at the writer's pace
                assert wait_until(lambda: not r.recorder.health().gauges["queue_frames"], JOIN_S)
        assert r.recorder.health().ok
    names = [p.name for p in files(tmp_path, ".cptv")]
    deleted = [rec.getMessage().split()[4] for rec in caplog.records
               if rec.getMessage().startswith("deleted the oldest")]
    assert deleted and deleted == sorted(deleted)
    assert max(deleted) < min(names)  # every deleted one is older than every kept one
    assert sum(p.stat().st_size for p in tmp_path.iterdir()) <= 1024 * 1024 + 300_000


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs (needs root: mount), unmounted afterwards."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_full_disk_stops_recording_cleanly(tiny_disk, caplog):
    """A full disk: the oldest recordings go, then recording stops with one log line and a
    state change; the files stay readable; frames keep flowing; record start tries again."""
    old = tiny_disk / "20200101-000000.000-always.cptv"
    old.write_bytes(bytes(200_000))  # an older recording, taking a fifth of the disk
    with rig(tiny_disk, mode=RecordMode.ALWAYS, segment_s=60.0, max_disk_mb=0,
             min_free_mb=0) as r:
        i = 0
        while r.recorder.health().ok and i < 300:
            r.feed(scene(i, seed=2))
            i += 1
        assert not r.recorder.health().ok and not old.exists()
        part = r.state.part("recording")
        assert part["state"] == "stopped" and "Min_Free_MB = 0" in part["reason"]
        for j in range(i, i + 20):  # streaming unaffected: the source publishes as before
            r.feed(scene(j, seed=2))
        assert r.hub.raw.latest()[0] == i + 20
        r.recorder.command(True)
        assert r.state.part("recording")["state"] != "stopped"
    errors = [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("recording stopped: ")
    assert errors[0].endswith("streaming carries on (free space, then send record start)")
    (segment,) = files(tiny_disk, ".cptv")
    recording = read_recording(segment)  # readable, up to its last flush
    assert 0 < len(recording.pixels) < i
    assert np.array_equal(recording.pixels[-1], scene(len(recording.pixels) - 1, seed=2).pixels)


def test_a_writer_that_fails_starts_again_and_says_so(tmp_path, caplog):
    """An unforeseen error in the writer thread (here the source's status raising as the
    first segment opens) does not end it: state error and ok false in its health, one
    ERROR with the traceback, a restart counted; after the back-off it records again."""
    calls = []

    def camera() -> dict:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("status read failed")
        return {"model": "LEPTON3"}

    with rig(tmp_path, camera=camera, mode=RecordMode.ALWAYS) as r:
        r.feed(scene(0))
        assert wait_until(lambda: r.recorder.health().state == "error", JOIN_S)
        health = r.recorder.health()
        assert not health.ok and health.counters["writer_restarts"] == 1
        assert health.last_error == ("the recorder-writer thread failed: "
                                     "RuntimeError('status read failed')")
        assert r.threads[1].is_alive()
        i = 1
        while r.recorder.health().state != "recording" and i < 100:  # back-off: 1 s
            r.feed(scene(i))
            i += 1
            threading.Event().wait(0.05)
        health = r.recorder.health()
        assert health.ok and health.state == "recording", health
    assert len(files(tmp_path, ".cptv")) == 1
    errors = [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith("recorder-writer failed (RuntimeError)")
    assert "Traceback" in errors[0]


def test_files_that_are_not_recordings_are_counted_in_its_health(tmp_path):
    """A link and a name with a date that does not exist are skipped: skipped_files 2."""
    (tmp_path / "20241399-000000.000-always.cptv").write_bytes(b"x")
    (tmp_path / "20240101-000000.000-always.cptv").symlink_to("/etc/passwd")
    with rig(tmp_path, mode=RecordMode.ALWAYS) as r:
        assert r.recorder.listing()["recordings"] == []
        assert r.recorder.health().gauges["skipped_files"] == 2
