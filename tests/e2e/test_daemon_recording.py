"""The daemon records: what viewers saw is what the independent readers read back, a kill -9
loses at most the last 2 s, and recordings come back over HTTP (listing, Range downloads)."""

import json
import signal
import time
import urllib.error
import urllib.request

import h5py
import numpy as np
import pytest
from cptv import CPTVReader
from websockets.sync.client import ClientConnection, connect

from lepton.replay import load_recording
from tests.conftest import TEST_DATA, wait_until
from thermal_streamer.protocols.wire import parse_frame_message
from thermal_streamer.recording.formats import read_recording

REAL_CPTV = TEST_DATA / "TheCacophonyProject_python-cptv__v2-latlon.cptv"
SUFFIX = {"cptv": ".cptv", "hdf5": ".h5"}


def config(tmp_path, fmt: str, extra: str = "") -> str:
    path = tmp_path / "server.conf"
    path.write_text(f"[Recording]\nRecord = always\nFormat = {fmt}\n"
                    f"Recordings_Dir = {tmp_path / 'rec'}\n{extra}")
    return str(path)


def watch(daemon, count: int) -> list[tuple[dict, np.ndarray]]:
    """``count`` frames as a /stream?raw=1 viewer gets them (header, pixels)."""
    frames = []
    with connect(daemon.ws_url + "/stream?raw=1", open_timeout=5) as ws:
        while len(frames) < count:
            message = ws.recv(timeout=5)
            if isinstance(message, bytes):
                header, _, raw = parse_frame_message(message)
                shape = header["raw"]["rows"], header["raw"]["cols"]
                frames.append((header, np.frombuffer(raw, "<u2").reshape(shape)))
    return frames


def segments(tmp_path, fmt: str) -> list:
    return sorted((tmp_path / "rec").glob("*" + SUFFIX[fmt]))


@pytest.mark.parametrize("fmt", ["cptv", "hdf5"])
def test_what_viewers_saw_is_what_the_readers_read(start_daemon, tmp_path, fmt):
    """The simulated camera, recorded: every frame a viewer got is in the recording, read by
    cptv or h5py, with the same pixels, time and FPA temperature (bit for bit)."""
    daemon = start_daemon("-c", config(tmp_path, fmt), "--source", "simulated")
    seen = watch(daemon, 12)
    assert daemon.stop() == 0
    (path,) = segments(tmp_path, fmt)
    recording = read_recording(path)
    if fmt == "cptv":
        with open(path, "rb") as f:
            independent = [frame.pix for frame in CPTVReader(f)]
    else:
        with h5py.File(path, "r") as f:
            independent = list(f["frames"][()])
            assert f["timestamp"][()].tolist() == recording.timestamps_s.tolist()
    index = {int(s): i for i, s in enumerate(recording.seq)}
    for header, pixels in seen:
        i = index[header["seq"]]
        assert np.array_equal(independent[i], pixels)
        assert recording.timestamps_s[i] == header["timestamp"]
        assert recording.fpa_temp_c[i] == header["meta"]["fpa_temp_c"]
    assert np.all(np.diff(recording.seq) == 1)  # nothing dropped


def test_a_real_recording_replayed_and_recorded_is_unchanged(start_daemon, tmp_path):
    """A real Lepton 3 CPTV replayed once (at its recorded pace) and recorded as HDF5 holds
    the same frames in the same order."""
    original = load_recording(REAL_CPTV)
    daemon = start_daemon("-c", config(tmp_path, "hdf5", "[Source]\nReplay_Loop = no\n"),
                          "--source", "replay", "--replay", str(REAL_CPTV))
    assert wait_until(lambda: daemon.health()["source_status"].get("state") == "ended", 30)
    status = daemon.health()["source_status"]
    assert status["replay_frames"] == len(original) and status["replay_loop"] is False
    assert status["replay_length_s"] == pytest.approx(102 * 0.114, abs=0.05)
    assert daemon.stop() == 0
    (path,) = segments(tmp_path, "hdf5")
    with h5py.File(path, "r") as f:
        recorded = f["frames"][()]
        times = f["timestamp"][()]
        dropped = int(f.attrs["dropped"])
    first = next(i for i, frame in enumerate(original) if np.array_equal(frame, recorded[0]))
    # in order, each recorded frame one of the original's; any frame skipped is counted
    k = first
    for frame in recorded:
        while not np.array_equal(frame, original[k]):
            k += 1
        k += 1
    assert k - first - len(recorded) == dropped
    assert len(recorded) >= len(original) - 3 - dropped
    intervals = np.diff(times)  # the recorded pace: python-cptv's sample is 8.7 Hz
    assert np.median(intervals) == pytest.approx(0.114, abs=0.01)


@pytest.mark.parametrize("fmt", ["cptv", "hdf5"])
def test_kill_9_loses_at_most_two_seconds(start_daemon, tmp_path, fmt):
    """kill -9 while recording: every segment opens with the independent reader and holds
    the frames up to at most 2 s before the kill."""
    daemon = start_daemon("-c", config(tmp_path, fmt, "Segment_Seconds = 10\n"),
                          "--source", "simulated")
    daemon.wait_for_frames(30, timeout_s=15)
    assert wait_until(lambda: segments(tmp_path, fmt), 5)
    killed_at = time.time()
    daemon.process.send_signal(signal.SIGKILL)
    daemon.stop()
    paths = segments(tmp_path, fmt)
    for path in paths:
        if fmt == "cptv":
            with open(path, "rb") as f:
                assert len(list(CPTVReader(f))) > 0
        else:
            with h5py.File(path, "r") as f:
                assert f["frames"].shape[0] == f["timestamp"].shape[0] > 0
    last = read_recording(paths[-1]).timestamps_s[-1]
    assert killed_at - 2.0 <= last <= killed_at


def next_error(ws: ClientConnection) -> str:
    """The next error message on /stream, skipping frames (binary) and state messages."""
    for _ in range(500):
        message = ws.recv(timeout=5)
        if isinstance(message, str) and '"error"' in message:
            return message
    raise AssertionError("no error message among 500")


def test_listing_and_downloads(start_daemon, tmp_path):
    """/recordings.json lists each recording; /recordings/<name> downloads it (Range too);
    other names are 404; delete_recording needs the control token."""
    token = "token-of-16-chars"  # Control_Token needs 16 characters
    daemon = start_daemon("-c", config(tmp_path, "cptv", f"[Security]\nControl_Token = {token}\n"),
                          "--source", "simulated")
    url = daemon.http_url
    assert wait_until(lambda: json.load(urllib.request.urlopen(url + "/recordings.json",
                                                               timeout=5))["recordings"], 10)
    listing = json.load(urllib.request.urlopen(url + "/recordings.json", timeout=5))
    (entry,) = listing["recordings"]
    assert set(entry) == {"name", "start", "duration", "frames", "bytes", "format", "trigger",
                          "dropped"}
    assert listing["state"]["state"] == "recording" and entry["trigger"] == "always"
    request = urllib.request.Request(f"{url}/recordings/{entry['name']}",
                                     headers={"Range": "bytes=0-3"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 206 and response.read()[:3] == b"\x1f\x8b\x08"  # gzip
    for bad in ("../server.conf", entry["name"] + ".jsonl", "x.cptv"):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{url}/recordings/{bad}", timeout=5)
        assert info.value.code == 404
    with connect(daemon.ws_url + "/stream", open_timeout=5) as ws:
        ws.send(json.dumps({"cmd": "delete_recording", "name": entry["name"]}))
        message = next_error(ws)
        assert json.loads(message)["error"] == ("this command needs the control token "
                                                "(Control_Token)")
        ws.send(json.dumps({"cmd": "delete_recording", "name": entry["name"], "token": token}))
        message = next_error(ws)
        assert json.loads(message)["error"] == (f"{entry['name']} is being written: send "
                                                "record stop first")
    health = daemon.health()["components"]["recorder"]
    assert health["ok"] and health["counters"]["frames_dropped"] == 0
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        metrics = response.read().decode()
    assert 'thermal_component_events_total{component="recorder",event="frames_dropped"} 0' in (
        metrics)


def test_foreign_files_in_recordings_dir_are_skipped_never_served(start_daemon, tmp_path):
    """A file with a date that does not exist and links (to a file outside, and to a
    folder) in Recordings_Dir: recording goes on, /recordings.json lists only recordings,
    the links are 404 for downloads and playback, /healthz counts the skipped files."""
    rec = tmp_path / "rec"
    rec.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("private\n")
    (rec / "20241399-120000.000-always.cptv").write_bytes(b"not a recording")
    (rec / "20240101-000000.000-always.cptv").symlink_to(secret)
    (rec / "20240101-000001.000-always.h5").symlink_to(tmp_path)
    daemon = start_daemon("-c", config(tmp_path, "cptv"), "--source", "simulated")
    url = daemon.http_url
    assert wait_until(lambda: json.load(urllib.request.urlopen(url + "/recordings.json",
                                                               timeout=5))["recordings"], 10)
    (entry,) = json.load(urllib.request.urlopen(url + "/recordings.json",
                                                timeout=5))["recordings"]
    assert entry["name"].endswith("-always.cptv") and not entry["name"].startswith("2024")
    for path in ("/recordings/20240101-000000.000-always.cptv",
                 "/recordings/20241399-120000.000-always.cptv",
                 "/playback/20240101-000000.000-always.cptv",
                 "/playback/20240101-000001.000-always.h5"):
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url + path, timeout=5)
        assert info.value.code == 404, path
    daemon.wait_for_frames(20, timeout_s=15)
    health = daemon.health()["components"]["recorder"]
    assert health["ok"] and health["state"] == "recording"
    assert health["gauges"]["skipped_files"] == 3 and health["counters"]["frames_written"] > 0
    assert daemon.stop() == 0
    assert sum("skipping 3 file(s)" in line for line in daemon.lines) == 1
