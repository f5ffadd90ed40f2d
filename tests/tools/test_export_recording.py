"""tools/export_recording.py on a recording the recorder wrote: TIFF read back by tifffile
(pixels, per-frame times, unit), .npy, CSV, MP4 probed by ffprobe; bad input is exit 1."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tifffile

from lepton.radiometry import PixelUnit
from lepton.replay import load_recording
from tests.conftest import ROOT, TEST_DATA
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.recording.formats import WRITERS, SegmentHeader
from thermal_streamer.recording.policy import SegmentName, Trigger

TOOL = ROOT / "tools" / "export_recording.py"
T0 = 1714564800.25


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    """A CPTV recording of the real Lepton 3 capture in tests/data (30 frames at 8.7 Hz)."""
    folder = tmp_path_factory.mktemp("rec")
    pixels = load_recording(TEST_DATA / "TheCacophonyProject_python-cptv__v2-latlon.cptv")[:30]
    name = SegmentName.at(T0, Trigger.MANUAL, "cptv")
    writer = WRITERS["cptv"](folder / name.name,
                             SegmentHeader(name, PixelUnit.COUNTS, 120, 160, "lepton"))
    for i, p in enumerate(pixels):
        writer.add(i + 1, RawFrame(p, PixelUnit.COUNTS, T0 + i / 8.7, {"fpa_temp_c": 31.5}))
    writer.close(0, "stopped")
    return writer.path, pixels


def export(source, to: str, out, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), str(source), "--to", to, "-o", str(out),
                           *extra], capture_output=True, text=True, timeout=60)


def test_tiff_holds_pixels_times_and_unit(recording, tmp_path):
    """16-bit ImageJ stack: same pixels, each slice labelled with its time, unit in Info."""
    path, pixels = recording
    done = export(path, "tiff", tmp_path / "out.tif")
    assert done.returncode == 0, done.stderr
    assert "tiff out.tif: 100% (30/30 frames)" in done.stderr  # plain lines off a terminal
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert np.array_equal(tif.asarray(), pixels) and tif.series[0].dtype == np.uint16
        metadata = tif.imagej_metadata
    info = json.loads(metadata["Info"])
    assert info["unit"] == "counts" and info["seq"] == list(range(1, 31))
    assert info["timestamps"] == [T0 + i / 8.7 for i in range(30)]
    assert metadata["Labels"] == [f"{T0 + i / 8.7:.6f}" for i in range(30)]


def test_npy_and_csv(recording, tmp_path):
    """The .npy is the stack as recorded; the CSV has the Stats_Log columns, a row a frame."""
    path, pixels = recording
    assert export(path, "npy", tmp_path / "out.npy").returncode == 0
    assert np.array_equal(np.load(tmp_path / "out.npy"), pixels)
    assert export(path, "csv", tmp_path / "out.csv").returncode == 0
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "time,seq,min,max,mean,center,unit,fpa_temp_c" and len(lines) == 31
    row = lines[1].split(",")
    assert (row[1], row[2], row[3], row[6], row[7]) == (
        "1", str(float(pixels[0].min())), str(float(pixels[0].max())), "counts", "31.5")


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")
def test_mp4_of_rendered_frames(recording, tmp_path):
    """An H.264 MP4 of every frame, at the recording's rate, enlarged by --scale."""
    path, _ = recording
    done = export(path, "mp4", tmp_path / "out.mp4", "--palette", "ironbow", "--agc",
                  "histogram", "--scale", "2")
    assert done.returncode == 0, done.stderr
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0",
                            "-show_entries", "stream=codec_name,width,height,nb_frames",
                            "-of", "json", str(tmp_path / "out.mp4")],
                           capture_output=True, text=True, timeout=30)
    stream = json.loads(probe.stdout)["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"], stream["nb_frames"]) == (
        "h264", 320, 240, "30")


def test_bad_input(tmp_path):
    """An unreadable recording is exit 1 with the reason; a bad palette is exit 2."""
    done = export(tmp_path / "missing.cptv", "npy", tmp_path / "x.npy")
    assert done.returncode == 1
    assert done.stderr == f"export_recording: {tmp_path / 'missing.cptv'}: no such file or folder\n"
    done = export(tmp_path / "missing.cptv", "mp4", tmp_path / "x.mp4", "--palette", "nope")
    assert done.returncode == 2 and "colormap" in done.stderr
