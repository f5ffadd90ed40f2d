"""The ``zmq`` source: a ZeroMQ stream in PSI's bsread protocol (docs/bsread.md, §N below).

One 2-D channel (``ZMQ_Channel``, default the first 2-D channel of the data header)
becomes a :class:`RawFrame` in counts, rendered like a raw thermal frame; every scalar
channel, and the pulse id, go into the frame's ``meta``.

The socket is a PULL (for bsread's default PUSH sender) or a SUB subscribed to
everything (for a PUB sender), connected (default: the sender binds, §1) or bound. It
is polled with a 0.25 s timeout so stopping is prompt. Every queued message is read
each time; only the newest is decoded and published, and only while ``wanted()`` says
someone is watching. The others are still checked (headers and part count, which is
cheap) so bad messages are counted whenever they arrive. A message that cannot be
parsed is skipped, counted and logged (rate-limited), never raised.

Pixel values: integer channels whose values fit 0..65535 are kept as counts; anything
else (negative or larger integers, fractional or non-finite floats) is rescaled
linearly so the frame's finite minimum is 0 and maximum 65535, and ``meta`` gets
``rescaled_low`` and ``rescaled_high`` (the original values mapped to 0 and 65535).
With ``ZMQ_Unit = centikelvin`` kept values are temperatures, corrected in software for
emissivity, reflected temperature and window (:func:`lepton.radiometry.correct_frame`;
docs/cci.md §7); a rescaled frame is counts.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import zmq

from lepton.radiometry import FluxLinearParams, PixelUnit, correct_frame
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.core.ratelimit import RateLimitedLog
from thermal_streamer.core.source import Publish, Source, SourceError
from thermal_streamer.protocols.bsread import BsreadError, BsreadMessage, BsreadParser, ChannelInfo

log = logging.getLogger(__name__)

POLL_MS = 250  # bounds how long stopping takes
RECEIVE_QUEUE = 16  # RCVHWM: messages ZeroMQ queues for us; older ones make no sense to show
MAX_BATCH = 64  # messages read per poll before looking at the stop flag again
UINT16_MAX = 65535


def to_counts(values: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Convert a 2-D numeric array to uint16 counts.

    Args:
        values: ndarray (rows, cols) of any numeric or bool dtype, any byte order.

    Returns:
        (pixels, meta): pixels an ndarray uint16 (rows, cols), a new array owned by the
        caller; meta is empty when the values were kept as they are, else
        ``{"rescaled_low": low, "rescaled_high": high}``: pixel = (value - low) /
        (high - low) x 65535, rounded; non-finite values become 0; a constant frame
        becomes all 0.
    """
    if values.dtype.kind == "b":
        return values.astype(np.uint16), {}
    if values.size == 0:
        return np.zeros(values.shape, np.uint16), {}
    finite = np.isfinite(values) if values.dtype.kind == "f" else None
    if finite is None or finite.all():
        low, high = values.min(), values.max()
        integral = finite is None or np.array_equal(values, np.round(values))
        if low >= 0 and high <= UINT16_MAX and integral:
            return values.astype(np.uint16), {}
    else:
        if not finite.any():
            return np.zeros(values.shape, np.uint16), {"rescaled_low": 0.0, "rescaled_high": 0.0}
        low, high = values[finite].min(), values[finite].max()
    low, high = float(low), float(high)
    meta = {"rescaled_low": low, "rescaled_high": high}
    if not high > low:
        return np.zeros(values.shape, np.uint16), meta
    scaled = (values.astype(np.float64) - low) * (UINT16_MAX / (high - low))
    scaled = np.nan_to_num(scaled, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(np.rint(scaled), 0, UINT16_MAX).astype(np.uint16), meta


def meta_value(value: Any) -> int | float | str:
    """A scalar channel value as a JSON-safe meta value (number or string)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "nan", "inf": JSON has no such numbers
    return value


class ZmqSource(Source):
    """Receives bsread messages and publishes one 2-D channel as raw frames.

    Args:
        address: ZeroMQ endpoint, e.g. "tcp://127.0.0.1:9999".
        mode: "connect" or "bind".
        socket_type: "pull" or "sub".
        channel: the 2-D channel to show; "" for the first 2-D channel.
        wanted: returns True while someone watches; messages that arrive while it
            returns False are dropped undecoded. Called from the source thread.
        clock: monotonic clock for the rate-limited log (injectable).
        unit: what the channel's values are: COUNTS, or CENTIKELVIN (temperatures).
        flux: the emissivity correction at start (centikelvin frames only).
    """

    kind = "zmq"
    has_raw = True

    def __init__(self, address: str, mode: str = "connect", socket_type: str = "pull",
                 channel: str = "", wanted: Callable[[], bool] = lambda: True,
                 clock: Callable[[], float] = time.monotonic,
                 unit: PixelUnit = PixelUnit.COUNTS, flux: FluxLinearParams | None = None):
        self.address, self.mode, self.socket_type = address, mode, socket_type
        self.unit, self._flux = unit, flux or FluxLinearParams()
        self.channel, self._wanted = channel, wanted
        self._parser = BsreadParser()
        self._warn = RateLimitedLog(log, clock=clock)
        self.messages = 0  # messages parsed (bsread's messages_received, §10.6)
        self.bytes_received = 0  # all parts of all messages (§10.6 total_bytes_received)
        self.frames = 0  # frames published
        self.skipped = 0  # messages that could not be parsed
        self.unwatched = 0  # messages dropped undecoded: nobody was watching
        self.superseded = 0  # messages dropped undecoded: a newer one was queued behind them
        self.no_image = 0  # decoded messages without a usable image value
        self.last_pulse_id: int | None = None
        self.last_error: str | None = None

    def status(self) -> dict[str, Any]:
        return {"address": self.address, "mode": self.mode, "socket": self.socket_type,
                "channel": self.channel or None, "messages": self.messages,
                "bytes_received": self.bytes_received, "frames": self.frames,
                "skipped": self.skipped, "unwatched": self.unwatched,
                "superseded": self.superseded, "no_image": self.no_image,
                "last_pulse_id": self.last_pulse_id, "last_error": self.last_error}

    def set_radiometry(self, params: FluxLinearParams) -> None:
        """Correct the next frames for ``params`` (replaced whole: no lock needed).

        Raises:
            NotImplementedError: the frames are counts (``ZMQ_Unit = counts``).
        """
        if not self.unit.is_temperature:
            raise NotImplementedError("emissivity needs temperatures; these zmq frames are "
                                      "counts (set [Source] ZMQ_Unit = centikelvin)")
        self._flux = params

    def run(self, publish: Publish, stop: threading.Event) -> None:
        """Receive until ``stop`` is set (then return within about 0.25 s).

        Raises:
            SourceError: the address cannot be connected or bound.
        """
        context = zmq.Context()
        sock = context.socket(zmq.SUB if self.socket_type == "sub" else zmq.PULL)
        try:
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVHWM, RECEIVE_QUEUE)
            if self.socket_type == "sub":
                sock.setsockopt(zmq.SUBSCRIBE, b"")  # §1: subscribe to everything
            try:
                (sock.bind if self.mode == "bind" else sock.connect)(self.address)
            except zmq.ZMQError as exc:
                raise SourceError(f"cannot {self.mode} ZMQ_Address {self.address}: {exc}; "
                                  "check [Source] ZMQ_Address and ZMQ_Mode") from None
            log.info("zmq source: %s %s %s", self.socket_type.upper(),
                     "bound to" if self.mode == "bind" else "connected to", self.address)
            while not stop.is_set():
                if sock.poll(POLL_MS, zmq.POLLIN):
                    self._receive_batch(sock, publish)
        finally:
            sock.close(linger=0)
            context.term()

    def _receive_batch(self, sock: zmq.Socket, publish: Publish) -> None:
        """Read every queued message (up to MAX_BATCH); decode and publish the newest."""
        batch: list[list[bytes]] = []
        while len(batch) < MAX_BATCH:
            try:
                batch.append(sock.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                break
        wanted = self._wanted()
        for i, parts in enumerate(batch):
            newest = i == len(batch) - 1
            message = self._parse(parts, decode=wanted and newest)
            if message is None:
                continue
            if not wanted:
                self.unwatched += 1
            elif not newest:
                self.superseded += 1
            else:
                frame = self._frame(message)
                if frame is not None:
                    self.frames += 1
                    publish(frame)

    def _parse(self, parts: list[bytes], decode: bool) -> BsreadMessage | None:
        self.bytes_received += sum(len(p) for p in parts)
        try:
            message = self._parser.parse(parts, decode_values=decode)
        except BsreadError as exc:
            self.skipped += 1
            self.last_error = str(exc)
            self._warn.warning("skipped", "zmq source: skipped a message: %s (%d skipped so far)",
                               exc, self.skipped)
            return None
        self.messages += 1
        self.last_pulse_id = message.pulse_id
        if message.data_header_changed:
            log.info("zmq source: channels %s", ", ".join(
                f"{c.name} {c.type}{list(c.shape)}" for c in message.data_header.channels))
        return message

    def _image_channel(self, message: BsreadMessage) -> ChannelInfo | None:
        channels = message.data_header.channels
        if self.channel:
            found = [c for c in channels if c.name == self.channel]
        else:
            found = [c for c in channels if len(c.shape) == 2 and c.type != "string"]
        if not found:
            wanted = f"ZMQ_Channel {self.channel!r}" if self.channel else "a 2-D channel"
            names = ", ".join(c.name for c in channels) or "none"
            self._warn.warning("no-channel", "zmq source: the stream has no %s; channels: %s",
                               wanted, names)
            return None
        return found[0]

    def _frame(self, message: BsreadMessage) -> RawFrame | None:
        """The message's image and scalars as a RawFrame; None (counted) without an image."""
        channel = self._image_channel(message)
        value = None if channel is None else message.values[channel.name]
        if (channel is None or not isinstance(value, np.ndarray) or value.ndim != 2
                or value.dtype.kind not in "biuf"):
            self.no_image += 1
            if channel is not None and channel.name in message.errors:
                self._warn.warning("image", "zmq source: channel %s: %s", channel.name,
                                   message.errors[channel.name])
            return None
        pixels, rescaled = to_counts(value)
        unit = PixelUnit.COUNTS if rescaled else self.unit
        if unit.is_temperature:
            pixels = correct_frame(pixels, unit, self._flux)
        meta: dict[str, int | float | str] = dict(rescaled)
        for info in message.data_header.channels:
            scalar = message.values[info.name]
            if info.is_scalar and scalar is not None:
                meta[info.name] = meta_value(scalar)
        meta["pulse_id"] = message.pulse_id
        stamp = message.timestamps.get(channel.name)
        timestamp = stamp[0] + stamp[1] / 1e9 if stamp else time.time()
        return RawFrame(pixels, unit, timestamp, meta)
