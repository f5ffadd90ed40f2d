"""VoSPI parser throughput: unique Lepton 3 frames per second, and CPU time per unique frame.

The stream is what a Lepton 3.5 sends with telemetry in the footer: per unique
frame 4 valid segments and 8 invalid ones (61 packets each), discard packets
after every segment, real Cacophony frames (tests/data). It is encoded once by
the simulator, then fed to a fresh parser in chunks of several sizes:
3936 bytes (24 packets, what fits in spidev's default 4096-byte buffer),
one segment's worth, 64 KiB, and the whole stream at once.

    python bench/vospi_parser.py [--frames N] [--discards N]

The last line is ``speedup_vs_camera=<unique frames per second / 8.7>`` for the
3936-byte chunks (the Raspberry Pi default), the slowest realistic case.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lepton.models import Model, TelemetryLocation  # noqa: E402
from lepton.simulator import VospiSimulator  # noqa: E402
from lepton.vospi import (  # noqa: E402
    PACKET_BYTES,
    UNIQUE_FRAME_RATE_HZ,
    VospiParser,
)

STACK = ROOT / "tests" / "data" / "TheCacophonyProject_python-cptv__v1.frames000-008.stack.npy"


def measure(data: bytes, chunk: int, frames: int, repeats: int) -> tuple[float, float]:
    """Best-of-``repeats`` (wall seconds, CPU seconds) to parse ``data`` in ``chunk``-byte feeds."""
    chunks = [data[k : k + chunk] for k in range(0, len(data), chunk)]
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        parser = VospiParser(Model.LEPTON3, TelemetryLocation.FOOTER)
        wall, cpu = time.perf_counter(), time.process_time()
        for piece in chunks:
            parser.feed(piece)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        assert parser.counters.frames == frames, parser.counters
        assert parser.counters.crc_errors == parser.counters.sync_losses == 0
        best_wall, best_cpu = min(best_wall, wall), min(best_cpu, cpu)
    return best_wall, best_cpu


def main() -> None:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--frames", type=int, default=300, help="unique frames in the stream")
    options.add_argument(
        "--discards", type=int, default=20, help="discard packets after each segment"
    )
    options.add_argument(
        "--repeats", type=int, default=3, help="runs per chunk size (best is kept)"
    )
    args = options.parse_args()

    stack = np.load(STACK)
    simulator = VospiSimulator(
        Model.LEPTON3, TelemetryLocation.FOOTER, discard_packets=args.discards
    )
    data = b"".join(simulator.encode_frame(stack[k % len(stack)]) for k in range(args.frames))
    packets = len(data) // PACKET_BYTES
    print(
        f"Lepton 3, telemetry footer, {args.frames} unique frames, "
        f"{packets / args.frames:.0f} packets "
        f"({len(data) / args.frames / 1024:.0f} KiB) per unique frame incl. 8 invalid segments "
        f"and {args.discards} discards per segment"
    )
    print(
        f"{'chunk bytes':>12} {'unique fps':>11} {'ms/frame':>9} "
        f"{'CPU ms/frame':>13} {'x camera':>9}"
    )
    sizes = [24 * PACKET_BYTES, 61 * PACKET_BYTES, 65536 // PACKET_BYTES * PACKET_BYTES, len(data)]
    speedup = {}
    for chunk in sizes:
        wall, cpu = measure(data, chunk, args.frames, args.repeats)
        fps = args.frames / wall
        speedup[chunk] = fps / UNIQUE_FRAME_RATE_HZ
        label = "whole" if chunk == len(data) else str(chunk)
        print(
            f"{label:>12} {fps:11.0f} {wall / args.frames * 1e3:9.3f} "
            f"{cpu / args.frames * 1e3:13.3f} {speedup[chunk]:9.0f}"
        )
    print(f"speedup_vs_camera={speedup[sizes[0]]:.0f}")


if __name__ == "__main__":
    main()
