"""thermal_streamer.recording.playback: a recording's index and frames as /stream messages, pure
parts value by value, the shell against real CPTV and HDF5 files."""

import json
import math

import numpy as np
import pytest

from lepton.radiometry import PixelUnit
from tests.thermal_streamer.recording.test_formats import START_S, frames_of, write
from thermal_streamer.control.render_settings import RenderSettings
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.measure.meter import Meter
from thermal_streamer.measure.regions import Region
from thermal_streamer.protocols import wire
from thermal_streamer.recording.formats import CACHED_FRAMES, LazyFrames, Recording, open_recording
from thermal_streamer.recording.playback import (
    Playback,
    PlaybackClip,
    frame_offsets,
    parse_request,
    playback_rate_hz,
)


def pixels(count: int) -> np.ndarray:
    """A stack of 160x120 centikelvin frames, frame i at 20 + i degrees C, a hot pixel."""
    stack = np.empty((count, 120, 160), np.uint16)
    for i in range(count):
        stack[i] = round((20 + i + 273.15) * 100)
        stack[i, 30, 40] += 1000
    return stack


def test_frame_offsets_from_the_first_never_decreasing():
    """Offsets start at 0; a clock step back counts as no time; NaN anywhere means
    frames 1/8.7 s apart; no frames, no offsets."""
    assert frame_offsets(np.array([10.0, 10.5, 10.25, 11.0])).tolist() == [0.0, 0.5, 0.5, 1.0]
    assert frame_offsets(np.array([10.0, math.nan, 11.0])).tolist() == [0.0, 1 / 8.7, 2 / 8.7]
    assert frame_offsets(np.array([])).tolist() == []


def test_playback_rate_from_the_offsets():
    """(n - 1) frames over the span, 2 decimals; 8.7 Hz for one frame or no span."""
    assert playback_rate_hz(np.array([0.0, 0.5, 1.0])) == 2.0
    assert playback_rate_hz(np.array([0.0, 0.1, 0.2, 0.3])) == 10.0
    assert playback_rate_hz(np.array([0.0])) == 8.7
    assert playback_rate_hz(np.array([0.0, 0.0])) == 8.7


@pytest.mark.parametrize(("rest", "parsed"), [
    ("a.cptv", ("a.cptv", None)),
    ("a.cptv/0", ("a.cptv", 0)),
    ("a.cptv/123", ("a.cptv", 123)),
    ("a.cptv/999999999", ("a.cptv", 999_999_999)),
    ("", None), ("/3", None), ("a.cptv/", None), ("a.cptv/-1", None), ("a.cptv/x", None),
    ("a.cptv/1/2", None), ("a.cptv/\u0663", None), ("a.cptv/1000000000", None),
    ("a.cptv/+1", None),
])
def test_parse_request(rest, parsed):
    """NAME is the index, NAME/I a frame (ASCII digits, at most 9); nothing else."""
    assert parse_request(rest) == parsed


def test_clip_without_times_takes_the_names_start_and_the_lepton_rate():
    """A file without times: the start from its name, offsets 1/8.7 s apart, each frame's
    time start + offset, seq the index where unknown."""
    stack = pixels(3)
    clip = PlaybackClip.of("20240501-120000.123-always.cptv", Recording(
        stack, np.full(3, math.nan), np.full(3, math.nan), np.full(3, -1, np.int64),
        [{}, {}, {}], PixelUnit.CENTIKELVIN, {}))
    assert clip.start_s == 1714564800.123
    seq, frame = clip.frame(2)
    assert seq == 2 and frame.timestamp == 1714564800.123 + 2 / 8.7
    assert clip.index()["fps"] == 8.7 and clip.index()["times"] == [0.0, 0.115, 0.23]


@pytest.mark.parametrize("fmt", ["cptv", "hdf5"])
def test_index_and_frames_of_a_recording(tmp_path, fmt):
    """The index lists every frame's offset; frame I is a /stream?raw=1 message of the
    recorded pixels, seq and time, rendered with the settings now, with the regions
    measured apart and the playback field; past the end, or another name, is 404."""
    path = write(tmp_path, fmt, frames_of(pixels(6)))
    meter = Meter([Region.make_spot("hot", 40, 30)], lambda part: None)
    settings = RenderSettings(colormap="inferno")
    playback = Playback(lambda name: path if name == path.name else None, lambda: settings,
                        [meter.detached_header_part])
    content_type, body = playback.answer(path.name)
    index = json.loads(body)
    assert content_type == "application/json"
    assert {k: index[k] for k in ("name", "frames", "fps", "unit", "rows", "cols", "duration")} \
        == {"name": path.name, "frames": 6, "fps": 8.7, "unit": "centikelvin", "rows": 120,
            "cols": 160, "duration": 0.575}
    assert index["start"] == pytest.approx(START_S, abs=1e-3)
    assert index["times"] == [round(i / 8.7, 3) for i in range(6)]

    content_type, message = playback.answer(f"{path.name}/2")
    header, jpeg, raw = wire.parse_frame_message(message)
    assert content_type == "application/octet-stream"
    assert (header["type"], header["seq"], header["source"]) == ("frame", 104, "recording")
    assert header["timestamp"] == pytest.approx(START_S + 2 / 8.7, abs=1e-3)
    assert header["stats"]["min"] == 22.0 and header["stats"]["max_pos"] == [40, 30]
    assert header["rois"] == {"hot": {"min": 32.0, "max": 32.0, "mean": 32.0,
                                      "min_pos": [40, 30], "max_pos": [40, 30]}}
    assert header["playback"] == {"name": path.name, "frame": 2, "frames": 6,
                                  "offset_s": 0.23}
    assert header["raw"] == {"rows": 120, "cols": 160, "dtype": "<u2", "unit": "centikelvin"}
    assert np.array_equal(np.frombuffer(raw, "<u2").reshape(120, 160), pixels(6)[2])
    assert header["jpeg_size"] == len(jpeg) and jpeg[:2] == b"\xff\xd8"
    assert meter.latest() is None  # the live regions never saw it

    settings = RenderSettings(colormap="gray")
    assert wire.parse_frame_message(playback.answer(f"{path.name}/2")[1])[1] != jpeg
    for rest in (f"{path.name}/6", "other.cptv", "other.cptv/0", f"{path.name}/x"):
        assert playback.answer(rest) is None, rest


def test_recording_read_once_until_its_file_changes(tmp_path, monkeypatch):
    """The clip is cached while the file's size and time stay; a changed file is read
    again; an unreadable one is 404 and logged."""
    path = write(tmp_path, "hdf5", frames_of(pixels(4)))
    reads = []
    real_read = open_recording

    def counting_read(p):
        reads.append(p)
        return real_read(p)

    monkeypatch.setattr("thermal_streamer.recording.playback.open_recording", counting_read)
    playback = Playback(lambda name: path, RenderSettings)
    first = playback.clip(path.name)
    assert playback.clip(path.name) is first and len(reads) == 1
    (tmp_path / "longer").mkdir()
    write(tmp_path / "longer", "hdf5", frames_of(pixels(5))).replace(path)  # same name, longer
    assert playback.clip(path.name).frames == 5 and len(reads) == 2
    path.write_bytes(b"not a recording")
    assert playback.clip(path.name) is None


def test_frame_meta_and_timestamp_come_from_the_recording(tmp_path):
    """A played-back frame carries the recorded meta (FPA temperature) and exact time."""
    frames = frames_of(pixels(3))
    path = write(tmp_path, "cptv", frames)
    seq, frame = Playback(lambda name: path, RenderSettings).clip(path.name).frame(1)
    assert isinstance(frame, RawFrame) and seq == 102
    assert frame.timestamp == frames[1].timestamp and frame.meta == frames[1].meta


@pytest.mark.parametrize("fmt", ["cptv", "hdf5"])
def test_playback_decodes_on_demand_and_keeps_few_frames(tmp_path, fmt):
    """Playing a recording start to end and back keeps no pixel stack: each frame is
    decoded when asked for and at most CACHED_FRAMES stay decoded."""
    path = write(tmp_path, fmt, frames_of(pixels(40)))
    playback = Playback(lambda name: path, RenderSettings)
    for i in [*range(40), *range(39, -1, -7)]:
        header, _, raw = wire.parse_frame_message(playback.answer(f"{path.name}/{i}")[1])
        assert header["playback"]["frame"] == i
        assert np.array_equal(np.frombuffer(raw, "<u2").reshape(120, 160), pixels(40)[i])
        stack = playback.clip(path.name).recording.pixels
        assert isinstance(stack, LazyFrames) and stack.cached <= CACHED_FRAMES
