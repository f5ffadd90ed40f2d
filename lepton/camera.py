"""The camera: :class:`Lepton`, a drop-in for ``pylepton.Lepton`` with a richer API.

It reads whole packets from a :class:`~lepton.transport.Transport`, feeds
the pure :class:`~lepton.vospi.VospiParser`, resynchronises the bus when the
parser reports lost sync, and hands out unique frames. pylepton's API is
kept (docs/vospi.md §11)::

    with Lepton("/dev/spidev0.0") as camera:   # or Lepton(spi_dev="/dev/spidev0.0")
        frame, frame_id = camera.capture()     # (rows, cols, 1) uint16, pixel sum

A model detected from the stream is remembered per device for the process
(:data:`DETECTED_MODELS`), so opening a new Lepton for every capture, as
pylepton scripts often do, does not wait for detection again.

Not thread-safe: one thread (e.g. ``vospi-reader``) owns a Lepton.
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import math
import time
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .cci import Cci
from .cci_protocol import CciError
from .errors import RangeError, ShapeError, StreamEnded
from .models import Model, TelemetryLocation
from .spidev import BITS_PER_WORD, DEFAULT_SPI_SPEED_HZ, SPI_MODE_3, SpidevTransport
from .telemetry import Telemetry
from .transport import DEFAULT_MAX_READ_BYTES, Transport
from .vospi import (
    PACKET_BYTES,
    RESYNC_PAUSE_S,
    FrameParsed,
    ModelDetected,
    NoSignal,
    SyncLost,
    VospiCounters,
    VospiParser,
)

__all__ = ["DETECTED_MODELS", "CaptureCounters", "CapturedFrame", "Lepton", "LinkStatus"]

DEFAULT_SPI_DEVICE = "/dev/spidev0.0"
# Models detected from the stream, by device name, for the life of the process: a
# Lepton re-opened on the same device starts with the model (docs/vospi.md §6.2, §11).
DETECTED_MODELS: dict[str, Model] = {}


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

    The class constants are pylepton's, with pylepton's values (groupgets/pylepton
    ``Lepton.py``; docs/vospi.md §11): they describe a Lepton 2 frame and one
    VoSPI packet; :attr:`model` gives the real camera's size.

    Args:
        spi_device: spidev node, used when ``transport`` is None.
        spi_dev: pylepton's name for ``spi_device``; give one or the other.
        model: the camera's :class:`~lepton.vospi.Model`, or None to find it:
            from the CCI part number when ``cci`` answers (docs/cci.md §5), else
            from ``model_cache`` (a model detected earlier on the same device),
            else from the stream (docs/vospi.md §6.2; about 0.45 s on a Lepton 2).
        telemetry: where the camera sends telemetry; must match its setting
            (SYS Telemetry Enable/Location over CCI, docs/vospi.md §7.1).
        spi_speed_hz: SCK frequency when opening ``spi_device``.
        transport: a ready :class:`~lepton.transport.Transport` (simulated,
            replay, ...); None opens ``lepton.spidev.SpidevTransport(spi_device,
            spi_speed_hz)``. The Lepton owns it and closes it.
        cci: the camera's CCI (I2C control) object, kept for the caller and
            asked for the model when ``model`` is None.
        resync_pause_s: the bus stays idle at least this long per resync
            (>= 0; 185 ms per DS §4.2.2.3.1): after ``transport.resync()``
            the Lepton sleeps whatever part of it the transport did not.
        clock, wall_clock, sleep: ``time.monotonic``, ``time.time`` and
            ``time.sleep`` or a test's fakes (seconds).
        model_cache: where detected models are remembered, keyed by the
            transport's ``device`` name (a transport without one is not
            remembered); None: the process-wide :data:`DETECTED_MODELS`.

    Raises:
        TypeError: both ``spi_device`` and ``spi_dev`` given, and different.
        RangeError: ``resync_pause_s`` < 0.
        SpiDeviceError: (from lepton.spidev) the device cannot be opened; an
            ``OSError`` too (``SpiDeviceNotFoundError`` a ``FileNotFoundError``).
    """

    ROWS = Model.LEPTON2.rows  # 60
    COLS = Model.LEPTON2.cols  # 80
    VOSPI_FRAME_SIZE = PACKET_BYTES // 2  # 82 words: ID, CRC, 80 pixels (docs/vospi.md §3)
    VOSPI_FRAME_SIZE_BYTES = PACKET_BYTES  # 164
    MODE = SPI_MODE_3  # docs/vospi.md §2
    BITS = BITS_PER_WORD  # 8
    SPEED = DEFAULT_SPI_SPEED_HZ  # 18 MHz
    SPIDEV_MESSAGE_LIMIT = DEFAULT_MAX_READ_BYTES // PACKET_BYTES  # 24 packets in 4096 bytes

    def __init__(
        self,
        spi_device: str = DEFAULT_SPI_DEVICE,
        *,
        spi_dev: str | None = None,
        model: Model | None = None,
        telemetry: TelemetryLocation = TelemetryLocation.OFF,
        spi_speed_hz: int = DEFAULT_SPI_SPEED_HZ,
        transport: Transport | None = None,
        cci: Cci | None = None,
        resync_pause_s: float = RESYNC_PAUSE_S,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] = time.sleep,
        model_cache: MutableMapping[str, Model] | None = None,
    ):
        if spi_dev is not None:
            if spi_device not in (DEFAULT_SPI_DEVICE, spi_dev):
                raise TypeError(
                    f"give spi_device or spi_dev, not both ({spi_device!r} and {spi_dev!r})"
                )
            spi_device = spi_dev
        if resync_pause_s < 0:
            raise RangeError("resync_pause_s", resync_pause_s, ">= 0")
        if transport is None:
            transport = SpidevTransport(spi_device, spi_speed_hz)
        self._model_cache = DETECTED_MODELS if model_cache is None else model_cache
        self._device: str | None = getattr(transport, "device", None)
        if model is None:
            model = self._known_model(cci)
        self._parser = VospiParser(model, telemetry)
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

    def _known_model(self, cci: Cci | None) -> Model | None:
        """The model from the CCI part number, else from the cache, else None."""
        if cci is not None:
            try:
                part = cci.model()
            except CciError:
                part = None
            if part is not None:
                return part.model
        return self._model_cache.get(self._device) if self._device is not None else None

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
            data_buffer: optional ndarray to fill, shape (rows, cols, 1) or
                (rows, cols), of any dtype that holds every uint16 value
                (uint16, int32, int64, uint32, float32, float64), as pylepton
                fills any such buffer (docs/vospi.md §11).
            log_time, debug_print, retry_reset: accepted for pylepton
                compatibility, ignored (resync is always on).

        Returns:
            (ndarray uint16 (rows, cols, 1), or ``data_buffer`` filled; frame id =
            sum of the pixels, an int, as pylepton computes it). Pixels are
            centikelvin with TLinear on, else counts.

        Raises:
            ShapeError: ``data_buffer`` has the wrong shape, or a dtype that
                cannot hold uint16 (int16, float16, bool).
            StreamEnded: a finite transport has no more frames.
        """
        frame = self.next_frame(math.inf)
        if frame is None:
            raise StreamEnded(self._frame_number)
        image = frame.pixels[:, :, np.newaxis]
        if data_buffer is not None:
            shapes = (image.shape, frame.pixels.shape)
            if data_buffer.shape not in shapes or not np.can_cast(np.uint16, data_buffer.dtype):
                raise ShapeError(
                    "data_buffer",
                    f"{shapes[0]} or {shapes[1]} of a dtype that holds uint16 "
                    "(uint16, int32, float32, ...)",
                    f"{data_buffer.shape} {data_buffer.dtype}",
                )
            data_buffer[...] = image.reshape(data_buffer.shape)
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
            elif isinstance(event, ModelDetected) and self._device is not None:
                self._model_cache[self._device] = event.model
        if lost:
            self.resync()

    def resync(self) -> None:
        """Resynchronise VoSPI now: idle the bus ``resync_pause_s`` and restart the parser.

        The read loop does this by itself after lost sync; call it when the
        stream carries nothing usable (endless discard packets) or after the
        camera was reconfigured, rebooted or powered on (DS §4.2.2.3.1, §3.7;
        docs/vospi.md §8). Blocks for ``resync_pause_s`` (185 ms). Frames
        already complete stay queued. Counted in ``counters.resyncs``.
        """
        started = self._clock()
        self._transport.resync()
        remaining = self._resync_pause_s - (self._clock() - started)
        if remaining > 0:
            self._sleep(remaining)
        self._parser.reset()
        self._resyncs += 1
