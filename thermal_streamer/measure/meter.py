"""One measurement per raw frame, shared by every reader; the live regions; the ``roi`` command.

A :class:`FrameMeasurement` is everything measured on one raw frame: the whole frame's
statistics (``frame``: min, max, mean, centre, positions) and each region's, with the
whole frame addressable as the pseudo-region ``frame`` beside the user's regions
(:meth:`FrameMeasurement.region`). :func:`measure_frame` computes one, purely.

:class:`Meter` holds the current regions (the ``rois`` state part) and measures each
frame once: whichever thread asks first for a seq (the renderer for the ``stats`` and
``rois`` header fields, the alarm evaluator, the stats log, the MQTT publisher's
``stats`` and ``roi/<name>`` messages) computes it, the others get the same object.
:meth:`Meter.latest` gives the newest measurement to whoever publishes it
(``/healthz`` ``rois``, and through it ``/metrics``). :class:`RoiCommand` is the ``roi``
command.

Cost (``bench/render.py``, 160x120): the whole frame's statistics 0.024 ms; with 16
regions the measurement takes 0.076 ms (spots and small boxes) to 0.11 ms (16 boxes of
41x31), once per frame for all readers together (the readers after the first find it:
well under 0.01 ms); docs/performance.md has the figures before and after.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from thermal_streamer.control.commands import SENDER, CommandError
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.measure import regions as regions_module
from thermal_streamer.measure.frame_stats import FrameStats, compute_stats
from thermal_streamer.measure.regions import (
    FRAME,
    Region,
    RegionError,
    RegionPlan,
    RegionStats,
    RegionValues,
)

Change = Callable[[tuple[Region, ...]], tuple[Region, ...]]
CACHED_FRAMES = 4  # measurements kept by seq: a reader one or two frames behind the
# others (its thread woke late) still gets the shared one

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class FrameMeasurement:
    """Everything measured on one raw frame, in display units (degrees C, or counts).

    Immutable; safe to share between threads.

    Attributes:
        seq: the source frame's number (the hub's).
        timestamp: its capture time, Unix seconds.
        frame: the whole frame's statistics.
        regions: {region name: RegionStats, or None when outside the frame}, in the
            regions' order (empty without regions).
    """

    seq: int
    timestamp: float
    frame: FrameStats
    regions: RegionValues

    @property
    def unit(self) -> str:
        """``"C"`` or ``"counts"``."""
        return self.frame.unit

    def region(self, name: str) -> FrameStats | RegionStats | None:
        """The statistics of region ``name``, or of the whole frame for ``"frame"``; None
        for a region outside the frame or not measured. Both have ``min``, ``max`` and
        ``mean``."""
        return self.frame if name == FRAME else self.regions.get(name)

    def rois_header(self) -> dict[str, Any]:
        """The frame header's ``rois`` field: {name: {"min", "max", "mean", "min_pos",
        "max_pos"} or None}."""
        return _rois_header(self.regions)

    def rois_json(self) -> dict[str, Any]:
        """/healthz ``rois``: seq, timestamp, unit and each region's header entry."""
        return {"seq": self.seq, "timestamp": self.timestamp, "unit": self.unit,
                "values": self.rois_header()}


def _rois_header(values: RegionValues) -> dict[str, Any]:
    return {name: None if s is None else s.as_header() for name, s in values.items()}


Measure = Callable[[int, RawFrame], FrameMeasurement]  # (seq, frame) -> its measurement


def measure_frame(seq: int, frame: RawFrame, plan: RegionPlan | None = None) -> FrameMeasurement:
    """Measure one raw frame: the whole frame and each region of ``plan``. Pure; safe from
    any thread. With ``plan`` None it is a :data:`Measure` of the whole frame alone (for a
    part built without a :class:`Meter`).

    Args:
        seq: the frame's number.
        frame: the raw frame; pixels ndarray uint16 (rows, cols).
        plan: the regions, planned for frames of this shape; None: no regions.

    Raises:
        ValueError: ``plan`` is for frames of another shape.
    """
    regions = {} if plan is None else plan.measure(frame.pixels, frame.unit)
    return FrameMeasurement(seq, frame.timestamp, compute_stats(frame.pixels, frame.unit),
                            regions)


class Meter:
    """The current regions, and each raw frame measured once for every reader. Thread-safe.

    Args:
        regions: the initial regions (already :func:`regions.checked`).
        publish: called with the ``rois`` state part (a list of Region.as_json) after
            every change and once now (e.g. ``state.set_part``).
        on_change: called (no arguments) after every change by command (the app saves
            the state file).

    Attributes:
        measured: how many measurements were computed (each seq once per set of regions,
            however many readers ask); read it to see that readers share them.
    """

    def __init__(self, regions: Sequence[Region], publish: Callable[[list[dict[str, Any]]], None],
                 on_change: Callable[[], None] = lambda: None):
        self._publish, self._on_change = publish, on_change
        self._lock = threading.Lock()
        self._regions = tuple(regions)
        self._plan: RegionPlan | None = None
        # seq -> (the regions it was measured with, the measurement), oldest first
        self._cached: collections.OrderedDict[int, tuple[tuple[Region, ...], FrameMeasurement]] \
            = collections.OrderedDict()
        self._latest: FrameMeasurement | None = None
        self.measured = 0
        publish([r.as_json() for r in self._regions])

    def regions(self) -> tuple[Region, ...]:
        """The regions now, in order."""
        with self._lock:
            return self._regions

    def names(self) -> list[str]:
        """The regions' names, in order."""
        return [r.name for r in self.regions()]

    def change(self, change: Change) -> None:
        """Replace the regions by ``change(regions)`` (a pure function of regions.py).

        Raises:
            RegionError: from ``change``; nothing changed.
        """
        with self._lock:
            self._regions = change(self._regions)
            part = [r.as_json() for r in self._regions]
        self._publish(part)
        self._on_change()

    def measure(self, seq: int, frame: RawFrame) -> FrameMeasurement:
        """Frame ``seq`` measured with the regions now (a :data:`Measure`): computed once per
        frame and set of regions, by whoever asks first, under the meter's lock (a second
        reader waits for the first one's result); the newest CACHED_FRAMES are kept. The
        region plan follows the frame's shape, so frames of any size may come.
        """
        with self._lock:
            regions = self._regions  # replaced, never changed: identity says "same set"
            cached = self._cached.get(seq)
            if cached is not None and cached[0] is regions:
                return cached[1]
            if self._plan is None or self._plan.regions is not regions or \
                    self._plan.shape != frame.pixels.shape:
                self._plan = RegionPlan(regions, frame.pixels.shape)
            measurement = measure_frame(seq, frame, self._plan)
            self.measured += 1
            self._cached[seq] = (regions, measurement)
            self._cached.move_to_end(seq)
            while len(self._cached) > CACHED_FRAMES:
                self._cached.popitem(last=False)
            if self._latest is None or seq >= self._latest.seq:
                self._latest = measurement
            return measurement

    def header_part(self, seq: int, frame: RawFrame) -> dict[str, Any]:
        """The frame header's ``rois`` field (a Renderer HeaderPart), from :meth:`measure`:
        {"rois": {name: {"min", "max", "mean", "min_pos", "max_pos"} or null}}."""
        return {"rois": self.measure(seq, frame).rois_header()}

    def detached_header_part(self, seq: int, frame: RawFrame) -> dict[str, Any]:
        """:meth:`header_part` for a frame that is not the live one (a recording played
        back): measured with the regions now, neither cached nor kept as :meth:`latest`,
        so the live frames' values, /healthz and the alarms never see it."""
        plan = RegionPlan(self.regions(), frame.pixels.shape)
        return {"rois": _rois_header(plan.measure(frame.pixels, frame.unit))}

    def latest(self) -> FrameMeasurement | None:
        """The newest frame's measurement (None before the first measured frame). Frames
        are measured while someone watches, alarms are set, the stats log runs or the
        MQTT publisher sends statistics."""
        with self._lock:
            return self._latest

    def latest_json(self) -> dict[str, Any] | None:
        """:meth:`latest` in its /healthz ``rois`` form (FrameMeasurement.rois_json)."""
        latest = self.latest()
        return None if latest is None else latest.rois_json()


class RoiCommand:
    """The ``roi`` command (a CommandHandler): ``op`` ``add``, ``move``, ``rename``, ``delete``.

    ``{"cmd": "roi", "op": "add", "name": "breaker", "spot": [80, 60], "size": 3}``,
    ``{"cmd": "roi", "op": "add", "name": "panel", "box": [10, 20, 40, 50]}``;
    ``move`` takes the same fields for an existing region (a new place or size, or a
    spot turned into a box); ``{"op": "rename", "name": "panel", "to": "panel-2"}``;
    ``{"op": "delete", "name": "panel"}``.

    Args:
        meter: the meter whose regions change.
        alarm_users: region name -> the names of the alarms that watch it (a region
            some alarm watches cannot be deleted).
        on_rename: (old, new) -> None, called after a rename (the alarms follow it).
    """

    def __init__(self, meter: Meter, alarm_users: Callable[[str], list[str]],
                 on_rename: Callable[[str, str], None]):
        self._meter, self._alarm_users, self._on_rename = meter, alarm_users, on_rename

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        """{"op", "name", and "region" (add, move) or "to" (rename)}.

        Raises:
            CommandError: a bad op, name or geometry.
        """
        op = data.get("op")
        try:
            if op in ("add", "move"):
                return {"op": op, "name": data.get("name"), "region": Region.from_json(data)}
            if op == "rename":
                regions_module.check_name(data.get("to"))
                if not isinstance(data.get("name"), str):
                    raise RegionError("rename needs the region's name and the new name, to")
                return {"op": op, "name": data["name"], "to": data["to"]}
            if op == "delete":
                if not isinstance(data.get("name"), str):
                    raise RegionError("delete needs the region's name")
                return {"op": op, "name": data["name"]}
        except RegionError as exc:
            raise CommandError(str(exc)) from None
        raise CommandError(f"op must be one of: add, move, rename, delete: got {op!r}")

    def run(self, command: dict[str, Any]) -> None:
        """Change the regions for everyone.

        Raises:
            CommandError: no such region, a name taken, too many regions, or a region
                that alarms watch being deleted.
        """
        op, name = command["op"], command["name"]
        try:
            if op == "add":
                self._meter.change(lambda rs: regions_module.added(rs, command["region"]))
            elif op == "move":
                self._meter.change(lambda rs: regions_module.moved(rs, command["region"]))
            elif op == "rename":
                self._meter.change(lambda rs: regions_module.renamed(rs, name, command["to"]))
                self._on_rename(name, command["to"])
            else:
                users = self._alarm_users(name)
                if users:
                    raise RegionError(f"region {name!r} is watched by alarm(s) "
                                      f"{', '.join(users)}: delete or change them first")
                self._meter.change(lambda rs: regions_module.deleted(rs, name))
        except RegionError as exc:
            raise CommandError(str(exc)) from None
        what = {"add": "added", "move": "moved", "rename": "renamed", "delete": "deleted"}[op]
        detail = (f" to {command['to']}" if op == "rename" else
                  f": {json.dumps(command['region'].as_json(), separators=(',', ':'))}"
                  if op in ("add", "move") else "")
        log.info("region %s %s by %s%s", command["region"].name if op in ("add", "move")
                 else name, what, command.get(SENDER, "unknown"), detail)
