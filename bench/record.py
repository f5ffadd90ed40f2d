"""What recording costs: CPU per frame and MB per hour for each format, and the live
viewers' latency with and without recording, measured in the same run.

1. **Writer cost**: frames through the recorder's segment writers (``CptvWriter``,
   ``Hdf5Writer``), flushed every 9 frames (one second at the Lepton's 8.7 Hz) as the
   recorder does; CPU (``time.process_time``) per frame, and the bytes on disk (file and
   sidecar) scaled to an hour at 8.7 Hz. Two inputs: the simulated room
   (``thermal_streamer.sources.scene.ThermalScene``, with its sensor noise) and the real Lepton 3
   capture ``tests/data/TheCacophonyProject_python-cptv__v2-latlon.cptv`` (102 frames, looped).
2. **Disk check**: what the ``recorder-writer`` thread does before each flush (once a
   second), each new segment and each close: the recordings' sizes from one
   ``os.scandir`` and the free space (``RecordingLibrary.plan``), over 100 and 1000
   recordings of 90 frames (copies of one CPTV segment and its sidecar); CPU per check,
   beside the ``/recordings.json`` listing of the same folder, which reads every
   sidecar's tail (as the check itself did before it took sizes from the scan).
3. **Viewers**: the daemon (``--source simulated``) with Record = off, then always/cptv,
   then always/hdf5; ``--viewers`` ``/stream`` clients (threads of this process) record
   each frame's latency (receipt minus capture time) for ``--seconds``; p50/p99 per run,
   and the daemon's CPU (% of a core) from /proc.

Usage::

    python bench/record.py [--frames 900] [--viewers 5] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from websockets.sync.client import connect  # noqa: E402

from lepton.radiometry import guess_unit  # noqa: E402
from lepton.replay import load_recording  # noqa: E402
from thermal_streamer.core.frames import RawFrame  # noqa: E402
from thermal_streamer.protocols.wire import parse_frame_message  # noqa: E402
from thermal_streamer.recording.formats import WRITERS, SegmentHeader, sidecar_path  # noqa: E402
from thermal_streamer.recording.library import RecordingLibrary  # noqa: E402
from thermal_streamer.recording.policy import SegmentName, Trigger  # noqa: E402
from thermal_streamer.sources.scene import ThermalScene  # noqa: E402

RATE_HZ = 8.7
REAL = ROOT / "tests" / "data" / "TheCacophonyProject_python-cptv__v2-latlon.cptv"
SERVING = re.compile(r"serving HTTP on \S+:(\d+) and WebSocket on \S+:(\d+)")


def scene_frames(n: int) -> np.ndarray:
    scene = ThermalScene(120, 160)
    return np.stack([scene.frame(i / RATE_HZ) for i in range(n)])


def writer_cost(fmt: str, pixels: np.ndarray, folder: Path) -> dict[str, float]:
    """CPU ms per frame and MB per hour of one format on one stack of frames."""
    unit = guess_unit(pixels)
    name = SegmentName.at(1.7e9, Trigger.ALWAYS, fmt)
    started = time.process_time()
    writer = WRITERS[fmt](folder / name.name, SegmentHeader(name, unit, 120, 160, "bench"))
    for i, p in enumerate(pixels):
        writer.add(i + 1, RawFrame(p, unit, 1.7e9 + i / RATE_HZ, {"fpa_temp_c": 31.25}))
        if i % 9 == 8:
            writer.flush(dropped=0)
    writer.close(dropped=0, reason="bench")
    cpu = time.process_time() - started
    size = writer.bytes
    for p in folder.iterdir():
        p.unlink()
    hours = len(pixels) / RATE_HZ / 3600
    return {"cpu_ms_per_frame": round(cpu / len(pixels) * 1000, 3),
            "mb_per_hour": round(size / 1e6 / hours, 1),
            "bytes_per_frame": round(size / len(pixels))}


def disk_check_cost(pixels: np.ndarray, count: int, folder: Path) -> dict[str, float]:
    """CPU ms of one disk check and of one listing over ``count`` recordings."""
    unit = guess_unit(pixels)
    name = SegmentName.at(1.7e9, Trigger.EVENT, "cptv")
    writer = WRITERS["cptv"](folder / name.name, SegmentHeader(name, unit, 120, 160, "bench"))
    for i, p in enumerate(pixels[:90]):
        writer.add(i + 1, RawFrame(p, unit, 1.7e9 + i / RATE_HZ, {}))
        if i % 9 == 8:
            writer.flush(dropped=0)
    writer.close(dropped=0, reason="bench")
    for k in range(1, count):
        copy = folder / SegmentName.at(1.7e9 + 60 * k, Trigger.EVENT, "cptv").name
        shutil.copyfile(writer.path, copy)
        shutil.copyfile(sidecar_path(writer.path), sidecar_path(copy))
    library = RecordingLibrary(folder, 0, 0)

    def cpu_ms(work: Callable[[], object]) -> float:
        times = []
        for _ in range(30):
            started = time.process_time()
            work()
            times.append(time.process_time() - started)
        return round(statistics.median(times) * 1000, 2)

    result = {"check_cpu_ms": cpu_ms(lambda: library.plan(0, keep=())),
              "listing_cpu_ms": cpu_ms(library.recordings)}
    for p in folder.iterdir():
        p.unlink()
    return result


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def viewers_run(record: str, fmt: str, viewers: int, seconds: float, tmp: Path) -> dict:
    """Start the daemon, watch with ``viewers`` clients for ``seconds``, stop it."""
    conf = tmp / f"{record}-{fmt}.conf"
    conf.write_text(f"[Recording]\nRecord = {record}\nFormat = {fmt}\n"
                    f"Recordings_Dir = {tmp / 'rec'}\n[Stream]\nSend_Timeout = 60\n")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "websocket_http_server.py"), "-c", str(conf),
         "--source", "simulated", "--http-host", "127.0.0.1", "--http-port", "0",
         "--ws-host", "127.0.0.1", "--ws-port", "0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        ws_port = 0
        deadline = time.monotonic() + 20
        while not ws_port and time.monotonic() < deadline:
            match = SERVING.search(proc.stderr.readline())
            if match:
                ws_port = int(match[2])
        if not ws_port:
            raise RuntimeError("daemon did not start")
        latencies: list[list[float]] = [[] for _ in range(viewers)]
        # the window [t0, t1]: clients read all along and keep what arrives within it
        window = [time.time() + 2.0, time.time() + 2.0 + seconds]

        def watch(k: int) -> None:
            with connect(f"ws://127.0.0.1:{ws_port}/stream", open_timeout=10) as ws:
                while (received := time.time()) < window[1]:
                    message = ws.recv(timeout=5)
                    received = time.time()
                    if isinstance(message, bytes) and received >= window[0]:
                        header, _, _ = parse_frame_message(message)
                        latencies[k].append(received - header["timestamp"])

        threads = [threading.Thread(target=watch, args=(k,), name=f"viewer-{k}")
                   for k in range(viewers)]
        for thread in threads:
            thread.start()
        time.sleep(window[0] - time.time())  # warm up: the first segment opens
        cpu0 = cpu_s(proc.pid)
        for thread in threads:
            thread.join(seconds + 15)
        cpu = cpu_s(proc.pid) - cpu0
    finally:
        proc.terminate()
        proc.wait(10)
    every = sorted(x * 1000 for lat in latencies for x in lat)
    return {"record": record, "format": fmt if record != "off" else "-",
            "frames_per_viewer": min(len(lat) for lat in latencies),
            "latency_p50_ms": round(statistics.median(every), 2),
            "latency_p99_ms": round(every[int(0.99 * (len(every) - 1))], 2),
            "daemon_cpu_percent": round(cpu / seconds * 100, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=900, help="frames per writer run")
    parser.add_argument("--viewers", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    real = load_recording(REAL)
    inputs = {"simulated": scene_frames(args.frames),
              "real": np.resize(real, (args.frames, *real.shape[1:]))}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        results = {"writers": {f"{fmt}/{what}": writer_cost(fmt, pixels, folder)
                               for fmt in ("cptv", "hdf5") for what, pixels in inputs.items()},
                   "disk_check": {f"{count}_recordings": disk_check_cost(
                       inputs["simulated"], count, folder) for count in (100, 1000)}}
        print(json.dumps(results, indent=1), flush=True)
        runs = [viewers_run(record, fmt, args.viewers, args.seconds, folder)
                for record, fmt in (("off", "cptv"), ("always", "cptv"), ("always", "hdf5"))]
    results["viewers"] = runs
    for run in runs:
        print(json.dumps(run), flush=True)
    base = runs[0]["latency_p99_ms"]
    for run in runs[1:]:
        print(f"p99_ratio_recording_{run['format']}_vs_off="
              f"{run['latency_p99_ms'] / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
