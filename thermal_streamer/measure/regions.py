"""Measurement regions: named spots and boxes on the raw frame, and their statistics. Pure.

A region is a **spot** (one pixel, or a small square of SIZE x SIZE pixels centred on
it, averaged) or a **box**, in raw frame pixels (x = column, y = row, 0-based, corners
inclusive). Regions are defined in server.conf (``[ROI <name>]``), changed live by the
``roi`` command and kept in the state file; their JSON form (the ``rois`` state part,
the state file, the command) is::

    {"name": "breaker", "spot": [x, y], "size": 1}
    {"name": "panel", "box": [x0, y0, x1, y1]}

Every statistic is computed by :class:`RegionPlan`, built once per set of regions and
frame size: one gather of every region's pixels and a handful of numpy reductions
over all of them, so the cost grows with the pixels measured, hardly with the number
of regions (16 regions on a 160x120 frame: 0.045 ms for spots and small boxes, 0.08 ms
for 16 boxes of 41x31 pixels here; ``bench/render.py`` times them within the frame's one
measurement, ``meter.py``).

Error tree::

    RegionError (ValueError)
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from lepton.radiometry import PixelUnit, to_celsius

MAX_REGIONS = 16  # the measured budget: 16 regions add well under 0.1 ms per 160x120 frame
MAX_COORD = 4095  # the largest pixel coordinate accepted (a frame of 4096x4096)
SPOT_SIZES = (1, 3, 5, 7, 9)  # a spot averages SIZE x SIZE pixels centred on it
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,32}")
NAME_RULE = "1 to 32 letters A-Z a-z, digits, _ . or -, not 'frame'"
FRAME = "frame"  # the whole frame, for alarms: no region may be called this
STATS = ("min", "max", "mean")


class RegionError(ValueError):
    """A region definition or a change to the set of regions is not allowed.

    The message says what is wrong and what is allowed; the command channel sends it
    back to the client as is.
    """


def check_name(name: Any) -> str:
    """The name, if it is allowed (NAME_RULE).

    Raises:
        RegionError: not a string, or not matching NAME_RULE.
    """
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or name.lower() == FRAME:
        raise RegionError(f"name must be {NAME_RULE}: got {name!r}")
    return name


def _coordinates(values: Any, count: int, what: str) -> tuple[int, ...]:
    """``count`` integers 0..MAX_COORD (booleans refused).

    Raises:
        RegionError: wrong count, not integers, or out of range.
    """
    if (not isinstance(values, (list, tuple)) or len(values) != count
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= MAX_COORD
                       for v in values)):
        raise RegionError(f"{what} must be {count} integers from 0 to {MAX_COORD}: got "
                          f"{values!r}")
    return tuple(values)


@dataclasses.dataclass(frozen=True)
class Region:
    """One named spot or box, in raw frame pixels.

    Attributes:
        name: see NAME_RULE.
        x0, y0, x1, y1: the pixels measured, corners inclusive (x0 <= x1, y0 <= y1); for
            a spot, the SIZE x SIZE square around its centre (which may reach past the
            frame's edge at the border: only pixels inside the frame count).
        spot: True for a spot (its centre is ``center``, its side ``size``).
    """

    name: str
    x0: int
    y0: int
    x1: int
    y1: int
    spot: bool = False

    @classmethod
    def make_spot(cls, name: str, x: int, y: int, size: int = 1) -> Region:
        """A spot centred on pixel (x, y), averaging ``size`` x ``size`` pixels.

        Raises:
            RegionError: a bad name, coordinate or size (SPOT_SIZES).
        """
        x, y = _coordinates((x, y), 2, "spot")
        if not isinstance(size, int) or isinstance(size, bool) or size not in SPOT_SIZES:
            raise RegionError(f"size must be one of {', '.join(map(str, SPOT_SIZES))}: "
                              f"got {size!r}")
        half = size // 2
        return cls(check_name(name), x - half, y - half, x + half, y + half, spot=True)

    @classmethod
    def make_box(cls, name: str, x0: int, y0: int, x1: int, y1: int) -> Region:
        """A box with corners (x0, y0) and (x1, y1), inclusive.

        Raises:
            RegionError: a bad name or coordinate, or x1 < x0 or y1 < y0.
        """
        x0, y0, x1, y1 = _coordinates((x0, y0, x1, y1), 4, "box")
        if x1 < x0 or y1 < y0:
            raise RegionError(f"box must be [x0, y0, x1, y1] with x0 <= x1 and y0 <= y1: got "
                              f"{[x0, y0, x1, y1]}")
        return cls(check_name(name), x0, y0, x1, y1)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], name: str | None = None) -> Region:
        """A region from its JSON form (``spot`` with an optional ``size``, or ``box``).

        Args:
            data: {"name", "spot": [x, y], "size"} or {"name", "box": [x0, y0, x1, y1]}.
            name: use this name instead of ``data["name"]``.

        Raises:
            RegionError: neither or both of spot and box, or a bad value.
        """
        name = check_name(data.get("name") if name is None else name)
        if ("spot" in data) == ("box" in data):
            raise RegionError("a region needs either spot [x, y] or box [x0, y0, x1, y1]")
        if "spot" in data:
            x, y = _coordinates(data["spot"], 2, "spot")
            return cls.make_spot(name, x, y, data.get("size", 1))
        return cls.make_box(name, *_coordinates(data["box"], 4, "box"))

    @property
    def size(self) -> int:
        """A spot's side in pixels (for a box: its width)."""
        return self.x1 - self.x0 + 1

    @property
    def center(self) -> tuple[int, int]:
        """(x, y) of a spot's centre pixel (for a box: its middle, rounded down)."""
        return (self.x0 + self.x1) // 2, (self.y0 + self.y1) // 2

    def renamed(self, name: str) -> Region:
        """The same region with another name. Raises RegionError for a bad name."""
        return dataclasses.replace(self, name=check_name(name))

    def as_json(self) -> dict[str, Any]:
        """The JSON form (see the module docstring)."""
        if self.spot:
            return {"name": self.name, "spot": list(self.center), "size": self.size}
        return {"name": self.name, "box": [self.x0, self.y0, self.x1, self.y1]}


def parse_spot(name: str, text: str) -> Region:
    """A spot from server.conf's ``Spot = X Y [SIZE]``.

    Raises:
        RegionError: not two or three integers, or a bad value.
    """
    words = text.split()
    if len(words) not in (2, 3) or not all(re.fullmatch(r"\d+", w) for w in words):
        raise RegionError(f"must be X Y or X Y SIZE: pixel column and row from 0 to "
                          f"{MAX_COORD}, SIZE one of {', '.join(map(str, SPOT_SIZES))}, "
                          f"e.g. 80 60 or 80 60 3")
    x, y, *size = (int(w) for w in words)
    return Region.make_spot(name, x, y, *size)


def parse_box(name: str, text: str) -> Region:
    """A box from server.conf's ``Box = X0 Y0 X1 Y1``.

    Raises:
        RegionError: not four integers, or a bad value.
    """
    words = text.split()
    if len(words) != 4 or not all(re.fullmatch(r"\d+", w) for w in words):
        raise RegionError(f"must be X0 Y0 X1 Y1: corners in pixels from 0 to {MAX_COORD}, "
                          f"inclusive, X0 <= X1 and Y0 <= Y1, e.g. 10 20 40 50")
    return Region.make_box(name, *(int(w) for w in words))


# -- changes to the set of regions: pure functions of a tuple, in its order


def find(regions: Sequence[Region], name: str) -> int:
    """The index of the region called ``name``.

    Raises:
        RegionError: there is none.
    """
    for i, region in enumerate(regions):
        if region.name == name:
            return i
    names = ", ".join(r.name for r in regions) or "none"
    raise RegionError(f"no region {name!r}; regions: {names}")


def _check_free(regions: Sequence[Region], name: str) -> None:
    if any(r.name.lower() == name.lower() for r in regions):
        raise RegionError(f"a region called {name!r} exists already (names ignore case)")


def added(regions: Sequence[Region], region: Region) -> tuple[Region, ...]:
    """``regions`` with ``region`` appended.

    Raises:
        RegionError: its name is taken (ignoring case), or MAX_REGIONS exist already.
    """
    _check_free(regions, region.name)
    if len(regions) >= MAX_REGIONS:
        raise RegionError(f"at most {MAX_REGIONS} regions: delete one first")
    return (*regions, region)


def moved(regions: Sequence[Region], region: Region) -> tuple[Region, ...]:
    """``regions`` with the one of the same name replaced by ``region`` (moved, resized,
    or turned from a spot into a box). Raises RegionError: no region of that name."""
    i = find(regions, region.name)
    return (*regions[:i], region, *regions[i + 1:])


def renamed(regions: Sequence[Region], name: str, to: str) -> tuple[Region, ...]:
    """``regions`` with ``name`` renamed ``to``, in place.

    Raises:
        RegionError: no region ``name``, a bad new name, or another region has it.
    """
    i = find(regions, name)
    if to.lower() != name.lower():
        _check_free(regions, to)
    return (*regions[:i], regions[i].renamed(to), *regions[i + 1:])


def deleted(regions: Sequence[Region], name: str) -> tuple[Region, ...]:
    """``regions`` without ``name``. Raises RegionError: no region of that name."""
    i = find(regions, name)
    return (*regions[:i], *regions[i + 1:])


def checked(regions: Iterable[Region]) -> tuple[Region, ...]:
    """The regions as a tuple, if they could have been added one by one.

    Raises:
        RegionError: a name twice (ignoring case) or more than MAX_REGIONS.
    """
    result: tuple[Region, ...] = ()
    for region in regions:
        result = added(result, region)
    return result


# -- statistics


@dataclasses.dataclass(frozen=True)
class RegionStats:
    """One region's statistics in one frame, in display units (degrees C, or counts).

    Attributes:
        min, max, mean: rounded to 0.01.
        min_pos, max_pos: (x, y) of the first minimum / maximum in row order, raw frame
            pixels.
    """

    min: float
    max: float
    mean: float
    min_pos: tuple[int, int]
    max_pos: tuple[int, int]

    def as_header(self) -> dict[str, Any]:
        """One entry of the header's ``rois``: min, max, mean, min_pos, max_pos."""
        return {"min": self.min, "max": self.max, "mean": self.mean,
                "min_pos": list(self.min_pos), "max_pos": list(self.max_pos)}


RegionValues = Mapping[str, RegionStats | None]  # name -> stats (None: outside the frame)


class RegionPlan:
    """Measures a fixed set of regions on frames of one size.

    Precomputes the flat index of every region's pixels (clipped to the frame), so that
    :meth:`measure` is one gather and a few reductions over all regions together.
    Immutable after construction; safe to share between threads.

    Args:
        regions: the regions, in order.
        shape: the frames' (rows, cols).

    Attributes:
        regions, shape: as given.
    """

    def __init__(self, regions: Sequence[Region], shape: tuple[int, int]):
        self.regions, self.shape = tuple(regions), shape
        rows, cols = shape
        parts, self._inside = [], []
        for region in self.regions:
            x0, x1 = max(region.x0, 0), min(region.x1, cols - 1)
            y0, y1 = max(region.y0, 0), min(region.y1, rows - 1)
            if x0 > x1 or y0 > y1:
                continue  # wholly outside this frame
            ys, xs = np.mgrid[y0:y1 + 1, x0:x1 + 1]
            parts.append((ys * cols + xs).ravel())
            self._inside.append(region.name)
        lengths = np.array([len(p) for p in parts], np.intp)
        self._index = np.concatenate(parts).astype(np.intp) if parts else np.zeros(0, np.intp)
        self._lengths = lengths
        self._starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.intp)
        self._position = np.arange(self._index.size, dtype=np.int64)
        self._countdown = self._index.size - self._position  # larger for earlier pixels

    def measure(self, pixels: np.ndarray, unit: PixelUnit) -> dict[str, RegionStats | None]:
        """Every region's statistics in one frame.

        Args:
            pixels: ndarray uint16 of ``self.shape`` (rows, cols).
            unit: the pixels' unit; temperatures are given in degrees C, counts as they
                are (all rounded to 0.01).

        Returns:
            {name: RegionStats, or None for a region wholly outside the frame}, in the
            regions' order.

        Raises:
            ValueError: ``pixels`` is not of ``self.shape``.
        """
        if pixels.shape != self.shape:
            raise ValueError(f"frame of shape {pixels.shape}, plan for {self.shape}")
        result: dict[str, RegionStats | None] = {r.name: None for r in self.regions}
        if not self._inside:
            return result
        values = pixels.ravel().take(self._index)
        starts, lengths = self._starts, self._lengths
        # value and position in one int64 key: the smallest key is the minimum at its first
        # position; with the position counted down, the largest is the first maximum
        keys = values.astype(np.int64)
        keys <<= 32
        low_keys = np.minimum.reduceat(keys | self._position, starts)
        high_keys = np.maximum.reduceat(keys | self._countdown, starts)
        means = np.add.reduceat(values, starts, dtype=np.uint64) / lengths
        lows, highs = low_keys >> 32, high_keys >> 32
        first_low = low_keys & 0xFFFFFFFF
        first_high = self._index.size - (high_keys & 0xFFFFFFFF)
        shown = np.stack((lows, highs, means)).astype(np.float64)
        if unit.is_temperature:
            shown = np.asarray(to_celsius(shown, unit))
        low_list, high_list, mean_list = np.round(shown, 2).tolist()
        cols = self.shape[1]
        low_at = self._index[first_low].tolist()
        high_at = self._index[first_high].tolist()
        for i, name in enumerate(self._inside):
            result[name] = RegionStats(low_list[i], high_list[i], mean_list[i],
                                       (low_at[i] % cols, low_at[i] // cols),
                                       (high_at[i] % cols, high_at[i] // cols))
        return result
