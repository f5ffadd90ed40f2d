"""thermal_streamer.recording.formats: bit-exact round trips read back by the independent readers
(cptv's CPTVReader, h5py), files readable after every flush, and the sidecar's last flush."""

import datetime

import h5py
import numpy as np
import pytest
from cptv import CPTVReader

from lepton.radiometry import PixelUnit
from lepton.replay import ReplayError, load_recording
from tests.conftest import TEST_DATA
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.recording import formats
from thermal_streamer.recording.formats import (
    WRITERS,
    FormatError,
    SegmentHeader,
    read_recording,
    read_sidecar_tail,
    sidecar_path,
)
from thermal_streamer.recording.policy import SegmentName, Trigger

REAL_CPTV = TEST_DATA / "TheCacophonyProject_python-cptv__v2-latlon.cptv"
START_S = 1714564800.0371


def frames_of(pixels: np.ndarray) -> list[RawFrame]:
    """RawFrames of a stack, 8.7 Hz apart, with FPA temperatures and another meta value."""
    return [RawFrame(p, PixelUnit.CENTIKELVIN, START_S + i / 8.7,
                     {"fpa_temp_c": round(30.5 + i / 100, 2), "replay_position_s": i / 8.7})
            for i, p in enumerate(pixels)]


def write(tmp_path, fmt: str, frames: list[RawFrame], flush_every: int = 4):
    name = SegmentName.at(frames[0].timestamp, Trigger.ALWAYS, fmt)
    rows, cols = frames[0].pixels.shape
    writer = WRITERS[fmt](tmp_path / name.name, SegmentHeader(
        name, frames[0].unit, rows, cols, "replay", "LEPTON3"))
    for i, frame in enumerate(frames):
        writer.add(100 + 2 * i, frame)
        if i % flush_every == flush_every - 1:
            writer.flush(dropped=0)
    writer.close(dropped=3, reason="stopped")
    return writer.path


def stacks():
    real = load_recording(REAL_CPTV)[:40]  # a real Lepton 3 recording (counts)
    rng = np.random.default_rng(7)
    extremes = rng.integers(0, 65536, (6, 120, 160), dtype=np.uint16)  # every bit pattern
    extremes[0], extremes[1] = 0, 65535
    return {"real": real, "extremes": extremes}


@pytest.mark.parametrize("which", ["real", "extremes"])
def test_cptv_round_trip_with_cptvs_reader(tmp_path, which):
    """Pixels bit-exact, times to the millisecond and FPA as float32 through CPTVReader;
    exact times, seq, FPA and meta from the sidecar."""
    pixels = stacks()[which]
    frames = frames_of(pixels)
    path = write(tmp_path, "cptv", frames)
    with open(path, "rb") as f:
        reader = CPTVReader(f)
        read = list(reader)
        start = reader.timestamp
    assert reader.model == b"LEPTON3" and reader.brand == b"FLIR"
    assert len(read) == len(frames)
    for frame, back in zip(frames, read, strict=True):
        assert np.array_equal(back.pix, frame.pixels)
        t = (start + back.time_on).timestamp()
        assert abs(t - frame.timestamp) <= 0.0005 + 1e-6
        assert back.temp_c == np.float32(frame.meta["fpa_temp_c"])
    recording = read_recording(path)
    assert np.array_equal(recording.pixels, pixels)
    assert recording.timestamps_s.tolist() == [f.timestamp for f in frames]
    assert recording.fpa_temp_c.tolist() == [f.meta["fpa_temp_c"] for f in frames]
    assert recording.seq.tolist() == list(range(100, 100 + 2 * len(frames), 2))
    assert recording.meta == [dict(f.meta) for f in frames]
    assert recording.unit is PixelUnit.CENTIKELVIN


@pytest.mark.parametrize("which", ["real", "extremes"])
def test_hdf5_round_trip_with_h5py(tmp_path, which):
    """Everything exact through h5py: frames, timestamps, seq, FPA, meta, attributes."""
    pixels = stacks()[which]
    frames = frames_of(pixels)
    path = write(tmp_path, "hdf5", frames)
    with h5py.File(path, "r") as f:
        assert f["frames"].dtype == np.uint16 and f["frames"].chunks == (1, 120, 160)
        assert np.array_equal(f["frames"][()], pixels)
        assert f["timestamp"][()].tolist() == [fr.timestamp for fr in frames]
        assert f["seq"][()].tolist() == list(range(100, 100 + 2 * len(frames), 2))
        assert f["fpa_temp_c"][()].tolist() == [fr.meta["fpa_temp_c"] for fr in frames]
        assert [eval_json(m) for m in f["meta"].asstr()[()]] == [dict(fr.meta) for fr in frames]
        assert (f.attrs["unit"], f.attrs["model"], f.attrs["source"], f.attrs["serial"],
                f.attrs["dropped"]) == ("centikelvin", "LEPTON3", "replay", 0, 3)


def eval_json(text: str) -> dict:
    import json

    return json.loads(text)


@pytest.mark.parametrize("fmt", ["cptv", "hdf5"])
def test_readable_after_every_flush(tmp_path, fmt):
    """Between flushes the file on disk holds exactly the flushed frames (a kill loses no more)."""
    frames = frames_of(stacks()["real"][:9])
    name = SegmentName.at(START_S, Trigger.EVENT, fmt)
    writer = WRITERS[fmt](tmp_path / name.name, SegmentHeader(name, PixelUnit.COUNTS, 120, 160,
                                                             "lepton"))
    for count in (3, 7, 9):
        for i in range(writer.frames + len(writer.pending), count):
            writer.add(i, frames[i])
        writer.flush(dropped=1)
        recording = read_recording(writer.path)
        assert len(recording.pixels) == count
        assert np.array_equal(recording.pixels, np.stack([f.pixels for f in frames[:count]]))
        tail = read_sidecar_tail(writer.path)
        assert (tail["type"], tail["frames"], tail["dropped"]) == ("flush", count, 1)
    writer.abandon()


def test_cptv_header_written_first(tmp_path):
    """A CPTV segment with no frame flushed yet already opens (header first), with 0 frames."""
    name = SegmentName.at(START_S, Trigger.MANUAL, "cptv")
    writer = WRITERS["cptv"](tmp_path / name.name, SegmentHeader(name, PixelUnit.COUNTS, 120, 160,
                                                                "lepton"))
    with open(writer.path, "rb") as f:
        reader = CPTVReader(f)
        assert list(reader) == []
        assert reader.timestamp == datetime.datetime.fromtimestamp(name.start_s, datetime.UTC)
    writer.abandon()
    assert sorted(tmp_path.iterdir()) == [writer.path, sidecar_path(writer.path)]


def test_cptv_refuses_other_sizes(tmp_path):
    """cptv's writer holds 160x120 only: a Lepton 2 recording must use HDF5."""
    name = SegmentName.at(START_S, Trigger.ALWAYS, "cptv")
    with pytest.raises(FormatError) as info:
        WRITERS["cptv"](tmp_path / name.name, SegmentHeader(name, PixelUnit.COUNTS, 60, 80, "x"))
    assert str(info.value) == ("cptv: cptv's writer holds 160x120 frames only, not 80x60: "
                               "set [Recording] Format = hdf5")
    assert list(tmp_path.iterdir()) == []


def test_hdf5_holds_other_sizes(tmp_path):
    """HDF5 records a Lepton 2's 80x60 frames as they are."""
    stack = "brandoncurtis_LeptonModule__trace_raw00000001-06.stack.npy"
    pixels = load_recording(TEST_DATA / stack)
    frames = [RawFrame(p, PixelUnit.COUNTS, START_S + i, {}) for i, p in enumerate(pixels)]
    recording = read_recording(write(tmp_path, "hdf5", frames))
    assert np.array_equal(recording.pixels, pixels) and np.isnan(recording.fpa_temp_c).all()


@pytest.mark.parametrize("source", ["real", "ours-cptv", "ours-hdf5", "v1"])
def test_open_recording_reads_each_frame_on_demand_as_read_recording(tmp_path, monkeypatch,
                                                                     source):
    """open_recording gives the frames, times, FPA, seq, meta and unit read_recording
    gives, one frame at a time in any order (backwards, across checkpoints), keeping at
    most CACHED_FRAMES decoded and never the whole stack."""
    monkeypatch.setattr(formats, "CHECKPOINT_FRAMES", 8)
    if source == "real":
        path = REAL_CPTV
    elif source == "v1":
        path = TEST_DATA / "TheCacophonyProject_python-cptv__v1.cptv"
    else:
        path = write(tmp_path, source.split("-")[1], frames_of(load_recording(REAL_CPTV)[:30]))
    whole, lazy = read_recording(path), formats.open_recording(path)
    assert isinstance(lazy.pixels, formats.LazyFrames)
    assert lazy.pixels.shape == whole.pixels.shape and lazy.unit is whole.unit
    for name in ("timestamps_s", "fpa_temp_c", "seq"):
        assert np.array_equal(getattr(lazy, name), getattr(whole, name), equal_nan=True), name
    assert lazy.meta == whole.meta and lazy.header == whole.header
    order = [*range(len(whole.pixels) - 1, -1, -3), 0, 5, 4, 17, 16, 9, *range(len(whole.pixels))]
    for i in order:
        assert np.array_equal(lazy.pixels[i], whole.pixels[i]), i
        assert lazy.pixels.cached <= formats.CACHED_FRAMES
    with pytest.raises(IndexError):
        lazy.pixels[len(whole.pixels)]


def test_a_cptv_cut_after_opening_is_a_replay_error(tmp_path, monkeypatch):
    """A CPTV file cut shorter after it was opened: reading a frame past the cut raises
    ReplayError naming the frame (playback answers 404), earlier frames still read."""
    monkeypatch.setattr(formats, "CHECKPOINT_FRAMES", 4)
    path = write(tmp_path, "cptv", frames_of(load_recording(REAL_CPTV)[:12]))
    lazy = formats.open_recording(path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ReplayError, match="frame 11 unreadable"):
        lazy.pixels[11]
    assert np.array_equal(lazy.pixels[1], load_recording(REAL_CPTV)[1])
