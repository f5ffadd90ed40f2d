"""Tests for lepton.replay.load_recording on real Lepton recordings and bad inputs."""

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lepton.errors import LeptonError
from lepton.replay import ReplayError, load_recording

DATA = Path(__file__).resolve().parent.parent / "data"
L3_NPY = DATA / "Jkillelea_Lepton-3-Module__raw1.npy"  # (120, 160) centikelvin, BSD-2-Clause
L2_STACK = DATA / "brandoncurtis_LeptonModule__trace_raw00000001-06.stack.npy"  # (6, 60, 80)
CPTV_V1 = DATA / "TheCacophonyProject_python-cptv__v1.cptv"  # Apache-2.0
CPTV_V2 = DATA / "TheCacophonyProject_python-cptv__v2-latlon.cptv"

NOT_LEPTON = "the replay needs (60, 80) (Lepton 2.x) or (120, 160) (Lepton 3.x)"


def write_images(folder, frames, names, suffix=".png"):
    """Save each frame as a 16-bit grayscale image under the given names."""
    folder.mkdir(exist_ok=True)
    for frame, name in zip(frames, names, strict=True):
        Image.fromarray(frame).save(folder / f"{name}{suffix}")


# --- real recordings ---------------------------------------------------------------


def test_two_dimensional_npy_becomes_a_stack_of_one():
    """A real Lepton 3 (120, 160) uint16 .npy loads as (1, 120, 160), values unchanged."""
    frames = load_recording(L3_NPY)
    assert frames.shape == (1, 120, 160)
    assert frames.dtype == np.uint16
    assert frames.flags.c_contiguous
    assert (int(frames.min()), int(frames.max())) == (29549, 30687)  # data README §2
    np.testing.assert_array_equal(frames[0], np.load(L3_NPY))


def test_three_dimensional_npy_keeps_its_frames():
    """A real Lepton 2 stack (6, 60, 80) loads unchanged, repeated frames included."""
    frames = load_recording(L2_STACK)
    assert frames.shape == (6, 60, 80)
    np.testing.assert_array_equal(frames, np.load(L2_STACK))
    np.testing.assert_array_equal(
        frames[0], frames[1]
    )  # a Lepton repeats frames (docs/vospi.md §6.1)


def test_cptv_v1_recording():
    """The Cacophony v1 .cptv gives 100 Lepton 3 frames with the documented value range."""
    frames = load_recording(CPTV_V1)
    assert frames.shape == (100, 120, 160)
    assert frames.dtype == np.uint16
    assert (int(frames.min()), int(frames.max())) == (2648, 3184)  # data README §4
    assert (int(frames[0].min()), int(frames[0].max())) == (2654, 2948)
    assert not np.array_equal(frames[0], frames[8])  # the hedgehog moves


def test_cptv_v2_recording():
    """The Cacophony v2 .cptv gives 102 Lepton 3 frames with the documented value range."""
    frames = load_recording(str(CPTV_V2))
    assert frames.shape == (102, 120, 160)
    assert (int(frames.min()), int(frames.max())) == (2971, 3128)
    assert (int(frames[0].min()), int(frames[0].max())) == (2978, 3057)


def test_cptv_frames_match_the_derived_npy():
    """Frames 0..8 of v1 and frame 0 of v2 equal the .npy files derived from them."""
    stack = np.load(DATA / "TheCacophonyProject_python-cptv__v1.frames000-008.stack.npy")
    np.testing.assert_array_equal(load_recording(CPTV_V1)[:9], stack)
    v2 = np.load(DATA / "TheCacophonyProject_python-cptv__v2-latlon.frame000.npy")
    np.testing.assert_array_equal(load_recording(CPTV_V2)[0], v2)


def test_png_folder_is_read_in_name_order(tmp_path):
    """16-bit PNGs of real frames come back in sorted name order, bit for bit."""
    stack = np.load(L2_STACK)
    names = ["frame_03", "frame_00", "frame_05", "frame_01", "frame_04", "frame_02"]
    order = [3, 0, 5, 1, 4, 2]
    write_images(tmp_path / "pngs", stack[order], names)
    (tmp_path / "pngs" / "notes.txt").write_text("ignored")
    frames = load_recording(tmp_path / "pngs")
    np.testing.assert_array_equal(frames, stack)


def test_tiff_folder_of_lepton3_frames(tmp_path):
    """16-bit TIFFs (.tif and .tiff) of a real Lepton 3 frame load as uint16."""
    frame = np.load(L3_NPY)
    write_images(tmp_path / "tifs", [frame], ["a"], ".tif")
    write_images(tmp_path / "tifs", [frame[::-1].copy()], ["b"], ".tiff")
    frames = load_recording(tmp_path / "tifs")
    np.testing.assert_array_equal(frames, np.stack([frame, frame[::-1]]))


def test_other_integer_dtypes_in_range_are_converted(tmp_path):
    """An int32 array with values within 0..65535 converts to uint16 exactly."""
    stack = np.load(L2_STACK).astype(np.int32)
    np.save(tmp_path / "int32.npy", stack)
    frames = load_recording(tmp_path / "int32.npy")
    assert frames.dtype == np.uint16
    np.testing.assert_array_equal(frames, stack)


# --- errors -------------------------------------------------------------------------


def test_missing_path(tmp_path):
    """A path that does not exist raises ReplayError naming it."""
    path = tmp_path / "nothing.npy"
    with pytest.raises(ReplayError) as info:
        load_recording(path)
    assert str(info.value) == f"{path}: no such file or folder"
    assert (info.value.path, info.value.reason) == (str(path), "no such file or folder")
    assert isinstance(info.value, LeptonError)


def test_unsupported_suffix(tmp_path):
    """A file that is not .npy or .cptv is refused with the supported kinds listed."""
    path = tmp_path / "frames.bin"
    path.write_bytes(b"\0" * 9604)
    with pytest.raises(ReplayError) as info:
        load_recording(path)
    assert str(info.value) == (
        f"{path}: unsupported file type '.bin': use a .npy file, a .cptv file, an .h5 file "
        "or a folder of 16-bit .png/.tif files"
    )


def test_float_npy_is_refused(tmp_path):
    """Float arrays are not raw frames (already converted to degrees, say)."""
    path = tmp_path / "celsius.npy"
    np.save(path, np.full((60, 80), 21.5))
    with pytest.raises(ReplayError) as info:
        load_recording(path)
    assert str(info.value) == (
        f"{path}: the array has dtype float64; raw frames are integers 0..65535 (uint16)"
    )


def test_out_of_range_integers_are_refused(tmp_path):
    """Integers outside 0..65535 cannot be uint16 raw values."""
    path = tmp_path / "negative.npy"
    array = np.zeros((2, 60, 80), dtype=np.int32)
    array[1, 5, 5] = -3
    array[0, 0, 0] = 70000
    np.save(path, array)
    with pytest.raises(ReplayError) as info:
        load_recording(path)
    assert str(info.value) == f"{path}: the array has values -3..70000, outside 0..65535 (uint16)"


def test_four_dimensional_npy_is_refused(tmp_path):
    """An array that is neither (rows, cols) nor (n, rows, cols) is refused."""
    path = tmp_path / "rgb.npy"
    np.save(path, np.zeros((2, 60, 80, 3), dtype=np.uint16))
    with pytest.raises(ReplayError) as info:
        load_recording(path)
    assert str(info.value) == (
        f"{path}: array of shape (2, 60, 80, 3); expected (n, rows, cols) or (rows, cols)"
    )


def test_non_lepton_shape_lists_the_allowed_shapes(tmp_path):
    """A 2-D shape other than 60x80 or 120x160 is refused, naming both Lepton shapes."""
    path = tmp_path / "square.npy"
    np.save(path, np.zeros((100, 100), dtype=np.uint16))
    with pytest.raises(ReplayError) as info:
        load_recording(path)
    assert str(info.value) == (
        f"{path}: frames of shape (100, 100) are not Lepton frames; {NOT_LEPTON}"
    )


def test_transposed_frames_are_not_lepton_frames(tmp_path):
    """(80, 60) is a transposed frame, not a Lepton frame."""
    path = tmp_path / "transposed.npy"
    np.save(path, np.load(L2_STACK).transpose(0, 2, 1))
    with pytest.raises(ReplayError) as info:
        load_recording(path)
    assert str(info.value) == (
        f"{path}: frames of shape (80, 60) are not Lepton frames; {NOT_LEPTON}"
    )


def test_empty_stack_is_refused(tmp_path):
    """A stack of zero frames has nothing to replay."""
    path = tmp_path / "empty.npy"
    np.save(path, np.zeros((0, 60, 80), dtype=np.uint16))
    with pytest.raises(ReplayError) as info:
        load_recording(path)
    assert str(info.value) == f"{path}: the recording has no frames"


def test_corrupt_npy_is_refused(tmp_path):
    """Bytes that are not a .npy file raise ReplayError, not a numpy error."""
    path = tmp_path / "junk.npy"
    path.write_bytes(b"not numpy at all")
    with pytest.raises(ReplayError) as info:
        load_recording(path)
    assert str(info.value).startswith(f"{path}: not a readable .npy array (")


def test_eight_bit_png_is_refused_with_the_reason(tmp_path):
    """An 8-bit grayscale PNG (a rendered picture) is refused, naming the file and mode."""
    folder = tmp_path / "pngs"
    write_images(folder, [np.load(L2_STACK)[0]], ["a"])
    Image.fromarray((np.load(L2_STACK)[1] >> 6).astype(np.uint8)).save(folder / "b.png")
    with pytest.raises(ReplayError) as info:
        load_recording(folder)
    assert str(info.value) == (
        f"{folder / 'b.png'}: image mode L is not 16-bit grayscale; a replay needs raw "
        "16-bit frames (an 8-bit or colour picture has lost the raw values)"
    )


def test_rgb_png_is_refused(tmp_path):
    """A colour PNG (RGB) is refused the same way."""
    folder = tmp_path / "rgb"
    folder.mkdir()
    Image.new("RGB", (160, 120)).save(folder / "frame.png")
    with pytest.raises(ReplayError) as info:
        load_recording(folder)
    assert info.value.reason.startswith("image mode RGB is not 16-bit grayscale")


def test_images_of_different_shapes_are_refused(tmp_path):
    """All images in the folder must have one shape."""
    folder = tmp_path / "mixed"
    write_images(folder, [np.load(L2_STACK)[0]], ["a"])
    write_images(folder, [np.load(L3_NPY)], ["b"])
    with pytest.raises(ReplayError) as info:
        load_recording(folder)
    assert str(info.value) == (
        f"{folder / 'b.png'}: shape (120, 160) differs from a.png's (60, 80)"
    )


def test_folder_without_images_is_refused(tmp_path):
    """A folder with no .png/.tif/.tiff file is refused."""
    (tmp_path / "readme.txt").write_text("no frames here")
    with pytest.raises(ReplayError) as info:
        load_recording(tmp_path)
    assert str(info.value) == f"{tmp_path}: no .png, .tif or .tiff files in this folder"


def test_unreadable_image_is_refused(tmp_path):
    """A .png that is not an image raises ReplayError naming the file."""
    (tmp_path / "broken.png").write_bytes(b"\x89PNG nope")
    with pytest.raises(ReplayError) as info:
        load_recording(tmp_path)
    assert str(info.value).startswith(f"{tmp_path / 'broken.png'}: not a readable image (")


def test_corrupt_cptv_is_refused(tmp_path):
    """A .cptv that does not parse raises ReplayError with the parser's complaint."""
    path = tmp_path / "broken.cptv"
    path.write_bytes(b"\x89PNG not a cptv")
    with pytest.raises(ReplayError) as info:
        load_recording(path)
    assert str(info.value) == (
        f"{path}: not a readable CPTV recording (BadGzipFile: Not a gzipped file (b'\\x89P'))"
    )


def test_missing_cptv_package_says_how_to_install_it(monkeypatch):
    """Without the cptv package a .cptv gives ReplayError with the pip command."""
    monkeypatch.setitem(sys.modules, "cptv", None)  # makes `import cptv` raise ImportError
    with pytest.raises(ReplayError) as info:
        load_recording(CPTV_V1)
    assert str(info.value) == (
        f"{CPTV_V1}: reading .cptv needs the cptv package: pip install 'cptv>=1.5,<2'"
    )
