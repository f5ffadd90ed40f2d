"""The camera: :class:`Lepton`, a drop-in for ``pylepton.Lepton`` with a richer API.

It reads whole packets from a :class:`~lepton.transport.Transport`, feeds
the pure :class:`~lepton.vospi.VospiParser`, resynchronises the bus when the
parser reports lost sync, and hands out unique frames. pylepton's API is
kept (docs/vospi.md §11)::

    with Lepton("/dev/spidev0.0") as camera:
        frame, frame_id = camera.capture()     # (rows, cols, 1) uint16, pixel sum

Not thread-safe: one thread (e.g. ``vospi-reader``) owns a Lepton.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .cci import Cci
from .errors import RangeError, ShapeError, StreamEnded
from .models import Model, TelemetryLocation
from .spidev import DEFAULT_SPI_SPEED_HZ, SpidevTransport
from .telemetry import Telemetry
from .transport import DEFAULT_MAX_READ_BYTES, Transport
from .vospi import (
    PACKET_BYTES,
    RESYNC_PAUSE_S,
    FrameParsed,
    NoSignal,
    SyncLost,
    VospiCounters,
    VospiParser,
)

__all__ = ["CaptureCounters", "CapturedFrame", "Lepton", "LinkStatus"]

DEFAULT_SPI_DEVICE = "/dev/spidev0.0"


class LinkStatus(enum.Enum):
    """What the camera link is doing."""

    SYNCING = "syncing"  # no frame yet, or lost sync and resynchronising
    STREAMING = "streaming"  # the last event was a frame
    NO_SIGNAL = "no_signal"  # all-zero packets: camera unpowered or unplugged (docs/vospi.md §5)


@dataclass
class CaptureCounters(VospiCounters):
    """The parser's :class:`~lepton.vospi.VospiCounters` plus the camera's own.

    Attributes:
        resyncs: times the bus was resynchronised after lost sync.
    """

    resyncs: int = 0


@dataclass(frozen=True, eq=False)
class CapturedFrame:
    """A unique frame as :class:`Lepton` delivers it.

    Attributes:
        pixels: ndarray uint16 (rows, cols), centikelvin with TLinear on, else
            counts (see :mod:`lepton.radiometry`). Owned by the receiver.
        timestamp: ``time.time()`` when the read that completed it returned, s.
        frame_number: 1 for the first unique frame since the Lepton was opened.
        telemetry: decoded telemetry, or None when telemetry is off.
    """

    pixels: np.ndarray
    timestamp: float
    frame_number: int
    telemetry: Telemetry | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CapturedFrame):
            return NotImplemented
        return np.array_equal(self.pixels, other.pixels) and (
            self.timestamp,
            self.frame_number,
            self.telemetry,
        ) == (other.timestamp, other.frame_number, other.telemetry)

    __hash__ = None  # type: ignore[assignment]


class Lepton:
    """A FLIR Lepton 2.x or 3.x on a VoSPI transport.

    Args:
        spi_device: spidev node, used when ``transport`` is None.
        model: the camera's :class:`~lepton.vospi.Model`, or None to detect it
            from the stream (docs/vospi.md §6.2).
        telemetry: where the camera sends telemetry; must match its setting
            (SYS Telemetry Enable/Location over CCI, docs/vospi.md §7.1).
        spi_speed_hz: SCK frequency when opening ``spi_device``.
        transport: a ready :class:`~lepton.transport.Transport` (simulated,
            replay, ...); None opens ``lepton.spidev.SpidevTransport(spi_device,
            spi_speed_hz)``. The Lepton owns it and closes it.
        cci: the camera's CCI (I2C control) object, kept for the caller.
        resync_pause_s: the bus stays idle at least this long per resync
            (>= 0; 185 ms per DS §4.2.2.3.1): after ``transport.resync()``
            the Lepton sleeps whatever part of it the transport did not.
        clock, wall_clock, sleep: ``time.monotonic``, ``time.time`` and
            ``time.sleep`` or a test's fakes (seconds).

    Raises:
        RangeError: ``resync_pause_s`` < 0.
        SpiDeviceError: (from lepton.spidev) the device cannot be opened.
    """

    def __init__(
        self,
        spi_device: str = DEFAULT_SPI_DEVICE,
        *,
        model: Model | None = None,
        telemetry: TelemetryLocation = TelemetryLocation.OFF,
        spi_speed_hz: int = DEFAULT_SPI_SPEED_HZ,
        transport: Transport | None = None,
        cci: Cci | None = None,
        resync_pause_s: float = RESYNC_PAUSE_S,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] = time.sleep,
    ):
        if resync_pause_s < 0:
            raise RangeError("resync_pause_s", resync_pause_s, ">= 0")
        self._parser = VospiParser(model, telemetry)
        if transport is None:
            transport = SpidevTransport(spi_device, spi_speed_hz)
        self._transport = transport
        self._cci = cci
        self._resync_pause_s = resync_pause_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        max_read = getattr(transport, "max_read_bytes", DEFAULT_MAX_READ_BYTES)
        self._read_bytes = max(1, max_read // PACKET_BYTES) * PACKET_BYTES
        self._ready: collections.deque[CapturedFrame] = collections.deque()
        self._status = LinkStatus.SYNCING
        self._frame_number = 0
        self._resyncs = 0
        self._ended = False
        self._closed = False

    # --- context manager ------------------------------------------------------------

    def __enter__(self) -> Lepton:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the transport. Idempotent."""
        if not self._closed:
            self._closed = True
            self._transport.close()

    # --- state ------------------------------------------------------------------------

    @property
    def model(self) -> Model | None:
        """The model given or detected so far; None until detected."""
        return self._parser.model

    @property
    def status(self) -> LinkStatus:
        """The link's :class:`LinkStatus`, from the latest parser event."""
        return self._status

    @property
    def counters(self) -> CaptureCounters:
        """A snapshot of the capture statistics (CRC errors, discards, resyncs, ...)."""
        return CaptureCounters(**dataclasses.asdict(self._parser.counters), resyncs=self._resyncs)

    @property
    def cci(self) -> Cci | None:
        """The CCI object passed in, or None."""
        return self._cci

    # --- frames -----------------------------------------------------------------------

    def next_frame(self, timeout_s: float) -> CapturedFrame | None:
        """The next unique frame.

        Reads at least once (unless a frame is already waiting), then until a
        frame is complete or ``timeout_s`` has passed on the monotonic clock.
        A read blocks for about one segment at most, so the call may overrun
        ``timeout_s`` by that, plus a resync pause.

        Args:
            timeout_s: seconds, >= 0; ``math.inf`` waits for ever.

        Returns:
            The frame, or None on timeout or when a finite stream has ended.
        """
        deadline = self._clock() + timeout_s
        while not self._ready:
            if self._ended or self._closed:
                return None
            self._read_once()
            if not self._ready and self._clock() >= deadline:
                return None
        return self._ready.popleft()

    def frames(self) -> Iterator[CapturedFrame]:
        """Unique frames for ever (until a finite stream ends or the Lepton is closed)."""
        while (frame := self.next_frame(math.inf)) is not None:
            yield frame

    def capture(
        self,
        data_buffer: np.ndarray | None = None,
        log_time: bool = False,
        debug_print: bool = False,
        retry_reset: bool = True,
    ) -> tuple[np.ndarray, int]:
        """pylepton's capture: block until the next unique frame.

        Args:
            data_buffer: optional ndarray uint16 (rows, cols, 1) to fill.
            log_time, debug_print, retry_reset: accepted for pylepton
                compatibility, ignored (resync is always on).

        Returns:
            (ndarray uint16 (rows, cols, 1), frame id = sum of the pixels, as
            pylepton computes it).

        Raises:
            ShapeError: ``data_buffer`` has the wrong shape or dtype.
            StreamEnded: a finite transport has no more frames.
        """
        frame = self.next_frame(math.inf)
        if frame is None:
            raise StreamEnded(self._frame_number)
        image = frame.pixels[:, :, np.newaxis]
        if data_buffer is not None:
            if data_buffer.shape != image.shape or data_buffer.dtype != np.uint16:
                raise ShapeError(
                    "data_buffer",
                    f"{image.shape} uint16",
                    f"{data_buffer.shape} {data_buffer.dtype}",
                )
            data_buffer[...] = image
            image = data_buffer
        return image, int(frame.pixels.sum(dtype=np.uint64))

    # --- the read loop ------------------------------------------------------------------

    def _read_once(self) -> None:
        data = self._transport.read(self._read_bytes)
        if not data:
            self._ended = True
            return
        timestamp = self._wall_clock()
        lost = False
        for event in self._parser.feed(data):
            if isinstance(event, FrameParsed):
                self._frame_number += 1
                self._ready.append(
                    CapturedFrame(event.pixels, timestamp, self._frame_number, event.telemetry)
                )
                self._status = LinkStatus.STREAMING
            elif isinstance(event, SyncLost):
                lost = True
                self._status = LinkStatus.SYNCING
            elif isinstance(event, NoSignal):
                self._status = LinkStatus.NO_SIGNAL
        if lost:
            self._resync()

    def _resync(self) -> None:
        started = self._clock()
        self._transport.resync()
        remaining = self._resync_pause_s - (self._clock() - started)
        if remaining > 0:
            self._sleep(remaining)
        self._parser.reset()
        self._resyncs += 1
