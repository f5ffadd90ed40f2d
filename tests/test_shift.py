"""shift.sh: cycles the sample frames into the watched image atomically."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "shift.sh"
SAMPLES = ("thermal2.jpg", "thermal3.jpg", "thermal4.jpg")
RUN_S = 1.5
INTERVAL_S = "0.2"
STOP_TIMEOUT_S = 5.0


def run_script(*args: str, timeout_s: float = 5.0) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=timeout_s, stdin=subprocess.DEVNULL)


def stop_group(process: subprocess.Popen) -> int:
    """SIGTERM the script's process group (the script and its sleep); kill it if it hangs."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        return process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT_S)
        raise
    except ProcessLookupError:
        return process.wait(STOP_TIMEOUT_S)


def read_target(target: Path) -> bytes | None:
    try:
        return target.read_bytes()
    except FileNotFoundError:
        return None


def test_every_read_is_a_whole_sample_frame_and_no_temp_file_is_left(tmp_path):
    """Readers only ever see complete JPEGs, all three frames appear, and no temp file remains."""
    samples = {(ROOT / name).read_bytes(): name for name in SAMPLES}
    before_in_repo = set(os.listdir(ROOT))
    target = tmp_path / "thermal.jpg"
    process = subprocess.Popen([str(SCRIPT), "-o", str(target), INTERVAL_S],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    seen: dict[str, int] = {}
    reads = 0
    try:
        deadline = time.monotonic() + RUN_S
        while time.monotonic() < deadline:
            data = read_target(target)
            if data is None:
                continue  # not written yet
            reads += 1
            assert data.endswith(b"\xff\xd9"), f"read {reads}: {len(data)} bytes, no JPEG EOI"
            Image.open(io.BytesIO(data)).load()
            assert data in samples, f"read {reads}: {len(data)} bytes match no sample frame"
            seen[samples[data]] = seen.get(samples[data], 0) + 1
            time.sleep(0.002)
    finally:
        status = stop_group(process)
    assert status == 143, process.stderr.read().decode()
    assert reads > 100
    assert set(seen) == set(SAMPLES), seen
    assert os.listdir(tmp_path) == ["thermal.jpg"]
    assert set(os.listdir(ROOT)) - before_in_repo == set()


def test_help_prints_usage():
    """-h prints the usage on stdout and exits 0."""
    result = run_script("-h")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: shift.sh [-o PATH] [SECONDS]")


@pytest.mark.parametrize("interval, message", [
    ("abc", "shift.sh: SECONDS must be a positive number, got 'abc'\n"),
    ("0", "shift.sh: SECONDS must be more than 0, got '0'\n"),
])
def test_bad_interval_is_refused(tmp_path, interval, message):
    """A non-numeric or zero interval exits 1 with a message and writes nothing."""
    result = run_script("-o", str(tmp_path / "thermal.jpg"), interval)
    assert (result.returncode, result.stderr) == (1, message)
    assert os.listdir(tmp_path) == []


def test_missing_target_folder_is_refused(tmp_path):
    """-o into a folder that does not exist exits 1 and names the folder."""
    result = run_script("-o", str(tmp_path / "nowhere" / "thermal.jpg"))
    assert result.returncode == 1
    assert result.stderr == f"shift.sh: folder {tmp_path / 'nowhere'} does not exist\n"
