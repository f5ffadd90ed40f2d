"""Tests for ``python -m lepton``, run as a subprocess like a user wiring a Pi would."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent.parent
DATA = ROOT / "tests" / "data"
RUN_TIMEOUT_S = 60

ENABLE_SPI = (
    "Enable SPI with `sudo raspi-config` (Interface Options > SPI) or add "
    "`dtparam=spi=on` to /boot/firmware/config.txt, then reboot; check the name "
    "with `ls /dev/spidev*`"
)


def run(*args):
    """Run ``python -m lepton ARGS`` from the repository root; return the CompletedProcess."""
    return subprocess.run(
        [sys.executable, "-m", "lepton", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        stdin=subprocess.DEVNULL,
    )


def fields(stdout):
    """The report as {label: value}."""
    pairs = (line.split(":", 1) for line in stdout.splitlines())
    return {label.strip(): value.strip() for label, value in pairs}


def test_simulated_lepton3_report_and_saved_frame(tmp_path):
    """--simulate prints the model from CCI, the counters and temperatures, and saves the frame."""
    result = run("--simulate", "--frames", 3, "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    report = fields(result.stdout)
    assert report["device"] == "simulated camera"
    assert report["model"] == "Lepton 3.5 (part 500-0771-01, from CCI)"
    assert report["resolution"] == "160x120"
    assert re.fullmatch(r"\d+\.\d unique frames/s \(3 frames\)", report["frame rate"])
    assert report["CRC errors"] == "0"
    assert int(report["discard packets"]) > 0
    assert report["resyncs"] == "0"
    assert report["pixels"] == "centikelvin (CCI)"
    assert (report["min"], report["max"], report["centre"]) == ("22.01 C", "34.00 C", "22.75 C")
    assert report["FPA temperature"] == "32.98 C (CCI)"
    png, npy = tmp_path / "lepton-frame.png", tmp_path / "lepton-frame.npy"
    assert report["saved"] == f"{png} (16-bit PNG), {npy}"
    saved = np.load(npy)
    assert saved.shape == (120, 160) and saved.dtype == np.uint16
    with Image.open(png) as image:
        assert image.mode == "I;16"
        np.testing.assert_array_equal(np.array(image), saved)


def test_simulated_lepton2_with_header_telemetry(tmp_path):
    """--model 2 --telemetry header: 80x60 frames, unit and FPA temperature from telemetry."""
    result = run(
        "--simulate", "--model", 2, "--telemetry", "header", "--frames", 2, "--out", tmp_path
    )
    assert result.returncode == 0, result.stderr
    report = fields(result.stdout)
    assert report["model"] == "Lepton 2.5 (part 500-0763-01, from CCI)"
    assert report["resolution"] == "80x60"
    assert report["pixels"] == "centikelvin (telemetry)"
    assert report["FPA temperature"].endswith(" C (telemetry)")
    assert np.load(tmp_path / "lepton-frame.npy").shape == (60, 80)


def test_simulated_replay_of_raw_counts(tmp_path):
    """--replay of a real Cacophony .cptv: a non-radiometric Lepton 3.0, values in counts."""
    cptv = DATA / "TheCacophonyProject_python-cptv__v1.cptv"
    result = run("--simulate", "--replay", cptv, "--frames", 2, "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    report = fields(result.stdout)
    assert report["model"] == "Lepton 3.0 (part 500-0726-01, from CCI)"
    assert report["pixels"] == "counts (CCI)"
    assert re.fullmatch(r"\d+ counts", report["min"])
    np.testing.assert_array_equal(
        np.load(tmp_path / "lepton-frame.npy"),
        np.load(DATA / "TheCacophonyProject_python-cptv__v1.frames000-008.stack.npy")[1],
    )


def test_replay_with_the_wrong_model_is_refused(tmp_path):
    """A Lepton 2 recording with --model 3 exits 1 saying which model fits."""
    stack = DATA / "brandoncurtis_LeptonModule__trace_raw00000001-06.stack.npy"
    result = run("--simulate", "--replay", stack, "--model", 3, "--out", tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        "error: --model must be 2 to match the recording (80x60, Lepton 2.x), got '3'\n"
    )


def test_missing_device_exits_1_and_says_how_to_enable_spi(tmp_path):
    """A nonexistent --device: a note that CCI is unavailable, then the SPI fix, exit 1."""
    device = tmp_path / "spidev9.9"
    result = run("--device", device, "--i2c-bus", 99, "--out", tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "note: CCI (I2C) not available, using VoSPI only: /dev/i2c-99: no such I2C bus. "
        "Enable I2C with `sudo raspi-config` (Interface Options > I2C) or add "
        "`dtparam=i2c_arm=on` to /boot/firmware/config.txt, then reboot",
        f"error: {device}: no such device. {ENABLE_SPI}",
    ]
    assert list(tmp_path.iterdir()) == []


def test_directory_as_device_is_not_a_spi_device(tmp_path):
    """--device pointing at a directory says it is not a SPI device."""
    result = run("--device", tmp_path, "--no-cci", "--out", tmp_path / "out")
    assert result.returncode == 1
    assert result.stderr == (
        f"error: {tmp_path}: not a SPI device (it is a directory). "
        "Give a spidev node such as /dev/spidev0.0 (see `ls /dev/spidev*`)\n"
    )


def test_no_power_is_reported_as_no_signal(tmp_path):
    """All-zero bytes (MISO stuck low, camera unpowered): 'no signal', exit 1, nothing saved."""
    result = run(
        "--simulate", "--simulate-fault", "no-power", "--timeout-s", 0.5, "--out", tmp_path
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: simulated camera: no signal: the camera sent only zeros for 0.5 s. "
        "Check the camera's power (VIN and GND) and the MISO wiring\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_miso_stuck_high_never_synchronises(tmp_path):
    """All-ones bytes look like endless discard packets: 'never synchronised', exit 1."""
    result = run(
        "--simulate", "--simulate-fault", "miso-high", "--timeout-s", 0.5, "--out", tmp_path
    )
    assert result.returncode == 1
    assert re.fullmatch(
        r"error: simulated camera: never synchronised within 0\.5 s: all \d+ packets were "
        r"discard packets \(a MISO line stuck high looks the same\)\. Check that /CS "
        r"\(CE0 for spidev0\.0\) and SCK reach the camera and that it is powered\n",
        result.stderr,
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--speed-hz", "30000000"],
            "--speed-hz must be 1..20000000 (the Lepton's maximum SCK is 20 MHz), got 30000000",
        ),
        (["--frames", "0"], "--frames must be >= 1, got 0"),
        (["--timeout-s", "0"], "--timeout-s must be > 0, got 0.0"),
        (["--replay", "x.npy"], "--replay and --simulate-fault need --simulate"),
    ],
)
def test_bad_arguments_exit_2(args, message):
    """Bad command-line values exit 2 with argparse's usage and the reason."""
    result = run(*args)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == f"python -m lepton: error: {message}"
