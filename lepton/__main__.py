"""``python -m lepton``: check a Lepton's wiring and save one frame.

Opens the camera (or a simulated one with ``--simulate``), reads a few unique
frames, and prints what a person wiring a Raspberry Pi needs to know: the
model (from the CCI part number when I2C works, else from the VoSPI stream),
the resolution, unique frames per second, CRC errors, discard packets,
resyncs, min/max/centre pixel (degrees C when radiometric, counts otherwise)
and the FPA temperature. Saves the last frame as a 16-bit PNG and a ``.npy``.

Exit status: 0 when frames arrived; 1 for a fault, with a message on stderr
that says what to check (no device, permission, no signal, no sync); 2 for
bad command-line arguments; 130 on Ctrl-C.

``--simulate`` runs the same VoSPI parsing on a simulated camera
(:class:`lepton.simulator.VospiSimulator` paced at the camera's rate, plus a
:class:`lepton.cci_simulator.SimulatedCciDevice`); ``--simulate-fault`` shows what a
dead bus looks like: ``no-power`` (MISO stuck low: all zeros) or
``miso-high`` (all ones: endless discard packets, docs/vospi.md §4).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from .camera import CaptureCounters, CapturedFrame, Lepton, LinkStatus
from .cci import Cci
from .cci_protocol import CciError
from .cci_simulator import SimulatedCciDevice
from .errors import LeptonError, RangeError
from .i2cdev import I2cBus
from .models import MODEL_NAMES, PART_NUMBERS, LeptonPart, Model, TelemetryLocation, lepton_part
from .radiometry import PixelUnit, guess_unit, to_celsius, unit_for_tlinear_resolution
from .replay import load_recording
from .simulator import FaultConfig, FaultKind, VospiSimulator
from .spidev import DEFAULT_SPI_SPEED_HZ, MAX_SPEED_HZ
from .telemetry import Telemetry
from .transport import SimulatedTransport, Transport
from .vospi import PACKET_BYTES

EXIT_OK = 0
EXIT_FAULT = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

FRAME_NAME = "lepton-frame"
CCI_TIMEOUT_S = 1.0
# The part number a simulated camera reports, by (model, radiometric) (DS §1, docs/vospi.md §1).
SIMULATED_PART = {
    (part.model, part.radiometric): part.part_number for part in PART_NUMBERS.values()
}
MODEL_ARGS = {"2": Model.LEPTON2, "3": Model.LEPTON3}
TELEMETRY_ARGS = {location.value: location for location in TelemetryLocation}
DEAD_BUS_BYTES = {"no-power": 0x00, "miso-high": 0xFF}
SIMULATED_CRC_FAULT_RATE = 0.001  # bit flips per packet for --simulate-fault crc


class NoFrameError(LeptonError):
    """No unique frame arrived in time.

    Attributes:
        device: what was read (device path or "simulated camera").
        timeout_s: how long we waited, seconds.
        no_signal: the camera sent only zeros (unpowered, MISO stuck low).
        counters: the capture counters at the time.
    """

    def __init__(self, device: str, timeout_s: float, no_signal: bool, counters: CaptureCounters):
        self.device = device
        self.timeout_s = timeout_s
        self.no_signal = no_signal
        self.counters = counters
        c = counters
        if no_signal:
            message = (
                f"{device}: no signal: the camera sent only zeros for {timeout_s:g} s. "
                "Check the camera's power (VIN and GND) and the MISO wiring"
            )
        elif c.packets and c.discard_packets == c.packets:
            message = (
                f"{device}: never synchronised within {timeout_s:g} s: all {c.packets} packets "
                "were discard packets (a MISO line stuck high looks the same). Check that /CS "
                "(CE0 for spidev0.0) and SCK reach the camera and that it is powered"
            )
        else:
            message = (
                f"{device}: never synchronised within {timeout_s:g} s ({c.packets} packets: "
                f"{c.discard_packets} discard packets, {c.crc_errors} CRC errors, "
                f"{c.resyncs} resyncs). Check the wiring (CS, SCK, MISO, GND; short leads) "
                "and try a lower speed, e.g. --speed-hz 10000000"
            )
        super().__init__(message)


class DeadBus:
    """A :class:`lepton.transport.Transport` whose MISO line is stuck at one level.

    Returns whole packets of ``fill`` bytes, taking as long as the transfer
    would at ``speed_hz`` (so a wait does not spin the CPU).
    """

    def __init__(self, fill: int, speed_hz: int, max_read_bytes: int = 24 * PACKET_BYTES):
        self.fill = fill
        self.speed_hz = speed_hz
        self.max_read_bytes = max_read_bytes

    def read(self, n_bytes: int) -> bytes:
        """Whole packets of ``fill``, up to ``max_read_bytes``."""
        n = min(n_bytes, self.max_read_bytes) // PACKET_BYTES * PACKET_BYTES
        time.sleep(n * 8 / self.speed_hz)
        return bytes([self.fill]) * n

    def resync(self) -> None:
        """Nothing to realign on a dead line."""

    def close(self) -> None:
        """Nothing to release."""


def test_pattern(model: Model) -> Iterator[np.ndarray]:
    """Endless centikelvin frames: a 22 C room with a 34 C disc circling in it.

    Yields:
        ndarray uint16 (rows, cols), centikelvin; each frame differs from the
        previous one (a Lepton's repeated frames are dropped as repeats).
    """
    rows, cols = model.rows, model.cols
    y, x = np.mgrid[0:rows, 0:cols]
    room = 27315 + 2200 + (rows - y) * 150 // rows  # warmer at the top
    for n in itertools.count():
        angle = n * 2 * math.pi / 40
        cy, cx = rows / 2 + rows / 4 * math.sin(angle), cols / 2 + cols / 4 * math.cos(angle)
        disc = (y - cy) ** 2 + (x - cx) ** 2 <= (rows / 8) ** 2
        yield np.where(disc, 27315 + 3400, room).astype(np.uint16)


@dataclass
class Setup:
    """What the check opened: camera, CCI (or None), and how it found out the model."""

    camera: Lepton
    cci: Cci | None
    part: LeptonPart | None
    part_number: str | None
    device: str


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line (exits 2 on bad arguments)."""
    parser = argparse.ArgumentParser(
        # "python -m lepton", or the console script's own name (lepton-check)
        prog=("python -m lepton" if sys.argv[0].endswith("__main__.py")
              else Path(sys.argv[0]).name),
        description="Check a FLIR Lepton's wiring: read frames, print statistics, save one frame.",
    )
    parser.add_argument(
        "--device", default="/dev/spidev0.0", help="spidev node (default %(default)s)"
    )
    parser.add_argument(
        "--speed-hz",
        type=int,
        default=DEFAULT_SPI_SPEED_HZ,
        help=f"SPI clock, up to {MAX_SPEED_HZ} (default %(default)s)",
    )
    parser.add_argument(
        "--i2c-bus",
        type=int,
        default=1,
        help="I2C bus of the CCI, /dev/i2c-N (default %(default)s)",
    )
    parser.add_argument("--no-cci", action="store_true", help="don't use I2C (VoSPI only)")
    parser.add_argument(
        "--frames", type=int, default=9, help="unique frames to read, >= 1 (default %(default)s)"
    )
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=5.0,
        help="give up when no frame arrives for this long (default %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("."), help="folder for the saved frame (default: here)"
    )
    parser.add_argument("--simulate", action="store_true", help="use a simulated camera")
    parser.add_argument(
        "--model",
        choices=sorted(MODEL_ARGS),
        help="2 = Lepton 2.x (80x60), 3 = Lepton 3.x (160x120); default: from CCI or the stream "
        "(3 with --simulate)",
    )
    parser.add_argument(
        "--telemetry",
        choices=list(TELEMETRY_ARGS),
        help="set telemetry over CCI (default: keep the camera's setting); without CCI, "
        "where the camera sends it (default off)",
    )
    parser.add_argument(
        "--replay", type=Path, help="with --simulate: frames from a .npy, .cptv or PNG folder"
    )
    parser.add_argument(
        "--simulate-fault",
        choices=["none", "crc", *DEAD_BUS_BYTES],
        default="none",
        help="with --simulate: crc = one packet in 1000 with a flipped bit, no-power = all zeros, "
        "miso-high = all ones",
    )
    args = parser.parse_args(argv)
    if args.frames < 1:
        parser.error(f"--frames must be >= 1, got {args.frames}")
    if not 1 <= args.speed_hz <= MAX_SPEED_HZ:
        parser.error(
            f"--speed-hz must be 1..{MAX_SPEED_HZ} (the Lepton's maximum SCK is 20 MHz), "
            f"got {args.speed_hz}"
        )
    if not args.timeout_s > 0:
        parser.error(f"--timeout-s must be > 0, got {args.timeout_s}")
    if not args.simulate and (args.replay or args.simulate_fault != "none"):
        parser.error("--replay and --simulate-fault need --simulate")
    return args


def _open_cci(args: argparse.Namespace, err: TextIO) -> Cci | None:
    """Open the real CCI, or None (with a note on stderr) when I2C does not answer."""
    if args.no_cci:
        return None
    try:
        cci = Cci(I2cBus(args.i2c_bus), timeout_s=CCI_TIMEOUT_S)
        cci.ping()
        return cci
    except CciError as exc:
        print(f"note: CCI (I2C) not available, using VoSPI only: {exc}", file=err)
        return None


def _configure(
    cci: Cci, args: argparse.Namespace
) -> tuple[LeptonPart | None, str, TelemetryLocation]:
    """Read the part number and set/read telemetry over CCI."""
    part_number = cci.part_number()
    if args.telemetry is not None:
        location = TELEMETRY_ARGS[args.telemetry]
        cci.set_telemetry(location is not TelemetryLocation.OFF, location)
    return lepton_part(part_number), part_number, cci.telemetry()


def open_camera(args: argparse.Namespace, err: TextIO) -> Setup:
    """Open the CCI and the camera (real or simulated) as the arguments say."""
    requested_model = MODEL_ARGS[args.model] if args.model else None
    model: Model | None
    cci: Cci | None
    part_number: str | None
    transport: Transport
    if args.simulate:
        frames: Iterator[np.ndarray]
        if args.replay:
            recording = load_recording(args.replay)
            model = Model.LEPTON2 if recording.shape[1] == Model.LEPTON2.rows else Model.LEPTON3
            if requested_model not in (None, model):
                wanted = next(arg for arg, m in MODEL_ARGS.items() if m is model)
                shape = f"{model.cols}x{model.rows}, {MODEL_NAMES[model]}"
                allowed = f"{wanted} to match the recording ({shape})"
                raise RangeError("--model", args.model, allowed)
            frames = itertools.cycle(recording)
            radiometric = guess_unit(recording[0]) is not PixelUnit.COUNTS
        else:
            model = requested_model or Model.LEPTON3
            frames = test_pattern(model)
            radiometric = True
        device = SimulatedCciDevice(part_number=SIMULATED_PART[model, radiometric])
        cci = Cci(device, timeout_s=CCI_TIMEOUT_S)
        part, part_number, telemetry = _configure(cci, args)
        if args.simulate_fault in DEAD_BUS_BYTES:
            transport = DeadBus(DEAD_BUS_BYTES[args.simulate_fault], args.speed_hz)
        else:
            flips = FaultConfig(SIMULATED_CRC_FAULT_RATE, (FaultKind.BIT_FLIP,))
            faults = flips if args.simulate_fault == "crc" else None
            simulator = VospiSimulator(model, telemetry, faults=faults, seed=1)
            transport = SimulatedTransport(simulator, frames, realtime=True)
        camera = Lepton(model=model, telemetry=telemetry, transport=transport, cci=cci)
        return Setup(camera, cci, part, part_number, "simulated camera")
    cci = _open_cci(args, err)
    part, part_number = None, None
    telemetry = TELEMETRY_ARGS[args.telemetry] if args.telemetry else TelemetryLocation.OFF
    if cci is not None:
        part, part_number, telemetry = _configure(cci, args)
    model = part.model if part else requested_model
    camera = Lepton(
        args.device, model=model, telemetry=telemetry, spi_speed_hz=args.speed_hz, cci=cci
    )
    return Setup(camera, cci, part, part_number, args.device)


def capture(setup: Setup, n_frames: int, timeout_s: float) -> tuple[list[CapturedFrame], float]:
    """Read ``n_frames`` unique frames; returns them and the seconds between first and last.

    Raises:
        NoFrameError: no frame within ``timeout_s``, or the frames are all zero.
    """
    camera = setup.camera
    frames: list[CapturedFrame] = []
    first = last = 0.0
    while len(frames) < n_frames:
        frame = camera.next_frame(timeout_s)
        if frame is None:
            break
        last = time.monotonic()
        first = first or last
        frames.append(frame)
    zeros = bool(frames) and not any(f.pixels.any() for f in frames)
    if not frames or zeros:
        counters = camera.counters
        no_signal = zeros or camera.status is LinkStatus.NO_SIGNAL or counters.no_signal > 0
        raise NoFrameError(setup.device, timeout_s, no_signal, counters)
    return frames, last - first


def pixel_unit(setup: Setup, frame: CapturedFrame) -> tuple[PixelUnit, str]:
    """What the pixels mean, and where that came from (telemetry, CCI or a guess)."""
    t: Telemetry | None = frame.telemetry
    if t is not None:
        if t.agc_enabled or not t.tlinear_enabled:
            return PixelUnit.COUNTS, "telemetry"
        return unit_for_tlinear_resolution(t.tlinear_resolution_k), "telemetry"
    if setup.cci is not None:
        return setup.cci.pixel_unit(), "CCI"
    return guess_unit(frame.pixels), "guessed from the values"


def _value(raw: int, unit: PixelUnit) -> str:
    if unit is PixelUnit.COUNTS:
        return f"{raw} counts"
    return f"{to_celsius(raw, unit):.2f} C"


def report(setup: Setup, frames: list[CapturedFrame], seconds: float, out: TextIO) -> list[str]:
    """The report's lines (also printed to ``out``)."""
    camera, last = setup.camera, frames[-1]
    pixels = last.pixels
    rows, cols = pixels.shape
    if setup.part is not None:
        model = f"{setup.part.name} (part {setup.part.part_number}, from CCI)"
    else:
        # Frames were parsed, so the parser knows the model by now.
        name = MODEL_NAMES[camera.model] if camera.model else "unknown model"
        if setup.part_number:
            model = f"{name} (unknown part {setup.part_number!r}; from the VoSPI stream)"
        else:
            model = f"{name} (from the VoSPI stream)"
    if len(frames) > 1 and seconds > 0:
        rate = f"{(len(frames) - 1) / seconds:.1f} unique frames/s ({len(frames)} frames)"
    else:
        rate = f"{len(frames)} frame (read more with --frames to measure the rate)"
    unit, unit_source = pixel_unit(setup, last)
    c = camera.counters
    if last.telemetry is not None:
        fpa = f"{last.telemetry.fpa_temp_c:.2f} C (telemetry)"
    elif setup.cci is not None:
        fpa = f"{to_celsius(setup.cci.fpa_temp_ck(), PixelUnit.CENTIKELVIN):.2f} C (CCI)"
    else:
        fpa = "unknown (no telemetry, no CCI)"
    lines = [
        f"device:          {setup.device}",
        f"model:           {model}",
        f"resolution:      {cols}x{rows}",
        f"frame rate:      {rate}",
        f"CRC errors:      {c.crc_errors}",
        f"discard packets: {c.discard_packets}",
        f"resyncs:         {c.resyncs}",
        f"pixels:          {unit.value} ({unit_source})",
        f"min:             {_value(int(pixels.min()), unit)}",
        f"max:             {_value(int(pixels.max()), unit)}",
        f"centre:          {_value(int(pixels[rows // 2, cols // 2]), unit)}",
        f"FPA temperature: {fpa}",
    ]
    if c.crc_errors or c.resyncs:
        lines.append(
            "warning:         CRC errors or resyncs: use short leads and a common ground, "
            "or try a lower --speed-hz"
        )
    for line in lines:
        print(line, file=out)
    return lines


def save_frame(pixels: np.ndarray, folder: Path) -> tuple[Path, Path]:
    """Save ``pixels`` (ndarray uint16 (rows, cols)) as a 16-bit PNG and a .npy in ``folder``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    png, npy = folder / f"{FRAME_NAME}.png", folder / f"{FRAME_NAME}.npy"
    Image.fromarray(pixels).save(png)  # uint16 -> mode I;16, a 16-bit grayscale PNG
    np.save(npy, pixels)
    return png, npy


def main(argv: list[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Run the check; returns the exit status."""
    args = parse_args(argv)
    try:
        setup = open_camera(args, err)
        with setup.camera:
            frames, seconds = capture(setup, args.frames, args.timeout_s)
            report(setup, frames, seconds, out)
        png, npy = save_frame(frames[-1].pixels, args.out)
        print(f"saved:           {png} (16-bit PNG), {npy}", file=out)
        if len(frames) < args.frames:
            print(
                f"error: {setup.device}: only {len(frames)} of {args.frames} frames arrived, then "
                f"none for {args.timeout_s:g} s: the camera lost sync. Check the wiring and try "
                "a lower --speed-hz",
                file=err,
            )
            return EXIT_FAULT
        return EXIT_OK
    except LeptonError as exc:
        print(f"error: {exc}", file=err)
        return EXIT_FAULT
    except OSError as exc:  # saving the frame
        print(f"error: {exc}", file=err)
        return EXIT_FAULT
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
