"""--source replay on real Lepton captures: frames arrive bit-identical with correct stats."""

import numpy as np
import pytest
from websockets.sync.client import connect

from tests.conftest import TEST_DATA
from thermal_streamer.protocols.wire import parse_frame_message

CAPTURES = [TEST_DATA / f"Jkillelea_Lepton-3-Module__raw{n}.npy" for n in (1, 3, 6)]


def receive_raw_frames(daemon, count: int) -> list[tuple[dict, np.ndarray]]:
    frames = []
    with connect(daemon.ws_url + "/stream?raw=1", open_timeout=5) as ws:
        while len(frames) < count:
            message = ws.recv(timeout=5)
            if isinstance(message, bytes):
                header, _, raw = parse_frame_message(message)
                rows, cols = header["raw"]["rows"], header["raw"]["cols"]
                frames.append((header, np.frombuffer(raw, "<u2").reshape(rows, cols)))
    return frames


def test_replayed_frames_match_numpy_stats(start_daemon, tmp_path):
    """Each replayed frame is one of the recording's frames, and min/max/mean agree in C."""
    recording = np.stack([np.load(p) for p in CAPTURES])
    path = tmp_path / "captures.npy"
    np.save(path, recording)
    daemon = start_daemon("--source", "replay", "--replay", str(path))
    frames = receive_raw_frames(daemon, 6)
    for header, pixels in frames:
        assert any(np.array_equal(pixels, original) for original in recording)
        celsius = pixels / 100 - 273.15
        stats = header["stats"]
        assert header["unit"] == "C" and header["raw"]["unit"] == "centikelvin"
        assert stats["min"] == pytest.approx(celsius.min(), abs=0.006)
        assert stats["max"] == pytest.approx(celsius.max(), abs=0.006)
        assert stats["mean"] == pytest.approx(celsius.mean(), abs=0.006)
    assert len({pixels.tobytes() for _, pixels in frames}) == 3  # it loops over all three


def test_replay_counts_and_rotation(start_daemon, tmp_path):
    """Raw counts (Lepton 2 capture) are labelled counts; Rotate = 90 turns the picture."""
    conf = tmp_path / "replay.conf"
    conf.write_text("[Lepton]\nRotate = 90\n")
    capture = TEST_DATA / "brandoncurtis_LeptonModule__raw1.npy"
    daemon = start_daemon("-c", str(conf), "--source", "replay", "--replay", str(capture))
    [(header, pixels)] = receive_raw_frames(daemon, 1)
    original = np.load(capture)
    assert header["unit"] == "counts" and header["raw"]["unit"] == "counts"
    assert (header["width"], header["height"]) == (60, 80)
    assert np.array_equal(pixels, np.rot90(original, -1))
    assert header["stats"]["max"] == original.max()
