"""Where VoSPI bytes come from: the :class:`Transport` protocol and a simulated one.

A transport moves bytes; it does not parse them (:mod:`lepton.vospi` does).
:class:`lepton.camera.Lepton` reads a transport in whole packets, feeds the
parser, and calls :meth:`Transport.resync` when the parser reports lost sync.
Implementations: :class:`SimulatedTransport` here, ``SpidevTransport`` in
:mod:`lepton.spidev` (the only module that opens ``/dev/spidev*``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import RangeError
from .simulated_board import SimulatedBoard
from .simulator import VospiSimulator
from .vospi import FRAMES_PER_UNIQUE_FRAME, PACKET_BYTES, RESYNC_PAUSE_S, UNIQUE_FRAME_RATE_HZ

__all__ = ["DEFAULT_MAX_READ_BYTES", "MAX_SLEEP_PER_READ_S", "SimulatedTransport", "Transport"]

# Linux spidev's default buffer (bufsiz) is 4096 bytes (docs/vospi.md §10): 24 whole packets.
DEFAULT_MAX_READ_BYTES = 4096 // PACKET_BYTES * PACKET_BYTES
# A simulated read in real time never sleeps longer than this, so callers stay responsive.
MAX_SLEEP_PER_READ_S = 0.2


@runtime_checkable
class Transport(Protocol):
    """A source of VoSPI bytes.

    Optional attribute ``max_read_bytes``: the largest read the transport
    does in one transfer (for spidev, its ``bufsiz`` rounded down to whole
    packets); readers use it as their chunk size, default
    :data:`DEFAULT_MAX_READ_BYTES`.

    Not thread-safe: one reader thread owns a transport.
    """

    def read(self, n_bytes: int) -> bytes:
        """Read up to ``n_bytes`` (a multiple of 164) of the stream.

        Returns a whole number of 164-byte packets, at least one, except
        ``b""`` once a finite stream (simulated, replayed) has ended. Blocks
        at most about one segment time (~10 ms) on a camera.
        """
        ...

    def resync(self) -> None:
        """Resynchronise VoSPI: no transfers, /CS de-asserted, for >= 185 ms.

        The camera restarts its stream at a packet boundary (DS §4.2.2.3.1,
        docs/vospi.md §8). The real transport sleeps.
        """
        ...

    def close(self) -> None:
        """Release the transport. Idempotent."""
        ...


class SimulatedTransport:
    """Serve a :class:`VospiSimulator`'s stream of ``frames`` as a transport.

    Non-realtime (default): every read returns at once, so tests and
    benchmarks run as fast as the parser. Realtime: unique frames come out at
    the Lepton's :data:`~lepton.vospi.UNIQUE_FRAME_RATE_HZ` (8.7 Hz); a read
    that is ahead of the camera sleeps (at most :data:`MAX_SLEEP_PER_READ_S`)
    and then, like the real bus, returns discard packets.

    With a :class:`~lepton.simulated_board.SimulatedBoard` the camera can hang
    or lose power: while it hangs every read returns discard packets, while it
    is unpowered all-zero bytes (docs/vospi.md §4, §5); the unit in flight is
    lost, and the stream restarts at a unit boundary when the camera works
    again, paced from then on. In realtime such a read takes one unit time
    (about 9.6 ms on a Lepton 3), like a real transfer.

    :meth:`resync` drops what the transport buffered (so a stream misaligned
    by a truncated-packet fault is aligned again) and has the simulator skip
    the units the camera sent during the pause; in realtime it also sleeps
    ``resync_pause_s``.

    Args:
        simulator: the :class:`VospiSimulator` (model, telemetry, faults).
        frames: the unique frames to send, ndarray uint16 (rows, cols) each;
            may be endless (``itertools.cycle``). The stream ends with them.
        realtime: pace the stream at the camera's rate.
        sleep, clock: ``time.sleep`` and ``time.monotonic`` or a test's fakes
            (seconds); used only when ``realtime``.
        max_read_bytes: the chunk size readers should use, rounded down to
            whole packets (at least one packet).
        resync_pause_s: how long :meth:`resync` holds the bus idle, >= 0.
        board: the simulated camera's power and hang state, or None (it never hangs).
        device: a name for the simulated device, or None. A Lepton remembers
            the model it detects under this name (``lepton.camera.DETECTED_MODELS``).
        schedule_s: in realtime, when the unique frame of a given index (0, 1, ...)
            is due, seconds after the first (non-decreasing); None: the camera's
            pace, ``index / 8.7``. A replay passes
            :meth:`lepton.replay.TimedRecording.schedule_s` to keep the recorded pace.

    Attributes:
        max_read_bytes, board, device: as above. resyncs: number of :meth:`resync` calls.

    Not thread-safe.
    """

    def __init__(
        self,
        simulator: VospiSimulator,
        frames: Iterable[np.ndarray],
        *,
        realtime: bool = False,
        sleep: Callable[[float], Any] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        max_read_bytes: int = DEFAULT_MAX_READ_BYTES,
        resync_pause_s: float = RESYNC_PAUSE_S,
        board: SimulatedBoard | None = None,
        device: str | None = None,
        schedule_s: Callable[[int], float] | None = None,
    ):
        if max_read_bytes < PACKET_BYTES:
            raise RangeError("max_read_bytes", max_read_bytes, f">= {PACKET_BYTES} (one packet)")
        if resync_pause_s < 0:
            raise RangeError("resync_pause_s", resync_pause_s, ">= 0")
        self.simulator = simulator
        self.max_read_bytes = max_read_bytes // PACKET_BYTES * PACKET_BYTES
        self.resync_pause_s = resync_pause_s
        self.realtime = realtime
        self.board = board
        self.device = device
        self.resyncs = 0
        model = simulator.model
        self._unit_s = 1 / (UNIQUE_FRAME_RATE_HZ * FRAMES_PER_UNIQUE_FRAME * model.segments)
        self._units = simulator.units(frames)
        self._sleep = sleep
        self._clock = clock
        self._schedule_s = schedule_s or (lambda index: index / UNIQUE_FRAME_RATE_HZ)
        self._buffer = bytearray()
        self._pending: tuple[int, bytes] | None = None
        self._start: float | None = None
        self._closed = False

    def _not_due(self, frame_index: int) -> bool:
        """In realtime, wait (bounded) for a unique frame's time; True if still early."""
        now = self._clock()
        offset = self._schedule_s(frame_index)
        if self._start is None:
            self._start = now - offset
        due = self._start + offset
        if due <= now:
            return False
        self._sleep(min(due - now, MAX_SLEEP_PER_READ_S))
        return self._clock() < due

    def read(self, n_bytes: int) -> bytes:
        """Up to ``n_bytes`` of the stream, whole packets; ``b""`` at its end or after close.

        Raises:
            RangeError: ``n_bytes`` is less than one packet (164).
        """
        if n_bytes < PACKET_BYTES:
            raise RangeError("n_bytes", n_bytes, f">= {PACKET_BYTES} (one packet)")
        want = n_bytes // PACKET_BYTES * PACKET_BYTES
        if self._closed:
            return b""
        if self.board is not None and not self.board.video_runs:
            return self._dead_bus(want)
        while len(self._buffer) < want:
            if self._pending is None:
                self._pending = next(self._units, None)
                if self._pending is None:
                    break
                if self.board is not None:
                    self.board.reached_frame(self._pending[0])
                    if not self.board.video_runs:
                        return self._dead_bus(want)
            if self.realtime and self._not_due(self._pending[0]):
                if len(self._buffer) >= PACKET_BYTES:
                    break
                return self.simulator.discards(want // PACKET_BYTES)
            self._buffer += self._pending[1]
            self._pending = None
        take = min(len(self._buffer), want) // PACKET_BYTES * PACKET_BYTES
        out = bytes(self._buffer[:take])
        del self._buffer[:take]
        return out

    def _dead_bus(self, n_bytes: int) -> bytes:
        """What a hung (discard packets) or unpowered (zeros) camera sends; loses the unit."""
        assert self.board is not None
        self._buffer.clear()
        self._pending = None
        self._start = None  # pace again from the next unit on
        if self.realtime:
            self._sleep(self._unit_s)
        if not self.board.powered:
            return bytes(n_bytes)
        return self.simulator.discards(n_bytes // PACKET_BYTES)

    def resync(self) -> None:
        """Drop buffered bytes, skip what the camera sends during the pause, realign."""
        self.resyncs += 1
        self._buffer.clear()
        self._pending = None
        self.simulator.resync(self.resync_pause_s)
        if self.realtime and self.resync_pause_s:
            self._sleep(self.resync_pause_s)

    def close(self) -> None:
        """Stop the stream. Idempotent; later reads return ``b""``."""
        self._closed = True
        self._buffer.clear()
        self._units.close()
