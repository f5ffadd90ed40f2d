"""Client commands (``/stream`` text messages) and the shared acquisition state.

A command is validated completely before anything changes; a bad one raises
:class:`CommandError`, whose message is sent back to that client only.

Error tree::

    CommandError
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from . import colormaps
from .pipeline import AGC_MODES, INTERPOLATIONS, MAX_SCALE, RenderSettings

COMMANDS = ("start", "stop", "set", "ffc")


class CommandError(Exception):
    """A client command is malformed, unknown or has a bad value; the text says which."""


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _range(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 2 and all(map(_number, value))
            and value[0] < value[1])


# field: (is the value allowed?, how to store it, the error when it is not)
SET_FIELDS: dict[str, tuple[Callable[[Any], bool], Callable[[Any], Any], str]] = {
    "colormap": (lambda v: isinstance(v, str) and colormaps.is_known(v), str,
                 "unknown colormap {value!r}"),
    "agc": (lambda v: v in AGC_MODES, str, "agc must be one of: " + ", ".join(AGC_MODES)),
    "range": (_range, lambda v: [float(v[0]), float(v[1])],
              "range must be [low, high] with low < high"),
    "clip_percent": (lambda v: _number(v) and 0 <= v < 50, float,
                     "clip_percent must be a number from 0 to 49.99"),
    "scale": (lambda v: _integer(v) and 1 <= v <= MAX_SCALE, int,
              f"scale must be an integer from 1 to {MAX_SCALE}"),
    "interpolation": (lambda v: v in INTERPOLATIONS, str,
                      "interpolation must be one of: " + ", ".join(INTERPOLATIONS)),
    "jpeg_quality": (lambda v: _integer(v) and 1 <= v <= 95, int,
                     "jpeg_quality must be an integer from 1 to 95"),
}
SETTABLE = tuple(SET_FIELDS)


def _validate_set(data: dict[str, Any]) -> dict[str, Any]:
    """The validated fields of a ``set`` command (see parse_command)."""
    fields: dict[str, Any] = {}
    for name, (allowed, convert, error) in SET_FIELDS.items():
        if name in data:
            value = data[name]
            if not allowed(value):
                raise CommandError(error.format(value=value))
            fields[name] = convert(value)
    if not fields:
        raise CommandError("set needs at least one of: " + ", ".join(SETTABLE))
    return fields


def parse_command(message: str | bytes) -> dict[str, Any]:
    """Validate one client message.

    Args:
        message: the text of a WebSocket message (bytes are decoded as UTF-8).

    Returns:
        The command as a dict with ``cmd``, ``token`` if given, and for ``set`` only
        the validated fields among SETTABLE (``range`` as a ``[low, high]`` list of floats).

    Raises:
        CommandError: not JSON, not an object, unknown ``cmd``, or a bad value.
    """
    try:
        data = json.loads(message)
    except (ValueError, UnicodeDecodeError):
        raise CommandError("malformed command: not valid JSON") from None
    if not isinstance(data, dict):
        raise CommandError("malformed command: expected a JSON object")
    name = data.get("cmd")
    if name not in COMMANDS:
        raise CommandError(f"unknown command {name!r}; commands: {', '.join(COMMANDS)}")
    command: dict[str, Any] = {"cmd": name}
    if name == "set":
        command.update(_validate_set(data))
    if isinstance(data.get("token"), str):
        command["token"] = data["token"]
    return command


class AcquisitionState:
    """What every client shares: running or paused, render settings, client count.

    Thread-safe. Listeners are called (outside the lock) with the new state after
    every change, from the thread that made it.

    Args:
        settings: the initial render settings (from the config).
        running: whether frames are published.
    """

    def __init__(self, settings: RenderSettings, running: bool = True):
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {
            "running": running, "colormap": settings.colormap, "agc": settings.agc,
            "range": list(settings.range) if settings.range else None,
            "clip_percent": settings.clip_percent, "scale": settings.scale,
            "interpolation": settings.interpolation, "jpeg_quality": settings.jpeg_quality,
            "clients": 0}
        self._listeners: list[Callable[[dict], None]] = []

    def snapshot(self) -> dict[str, Any]:
        """A copy of the current state (the ``state`` object of INTERFACE.md)."""
        with self._lock:
            return dict(self._state)

    def render_settings(self) -> RenderSettings:
        """The current render settings."""
        with self._lock:
            state = self._state
            return RenderSettings(state["colormap"], state["agc"],
                                  tuple(state["range"]) if state["range"] else None,
                                  state["clip_percent"], state["scale"],
                                  state["interpolation"], state["jpeg_quality"])

    def add_listener(self, listener: Callable[[dict], None]) -> None:
        self._listeners.append(listener)

    def update(self, **changes: Any) -> dict[str, Any]:
        """Apply changes; notify listeners if anything changed. Returns the new state.

        Raises:
            CommandError: the result would be ``fixed`` AGC without a range.
        """
        with self._lock:
            merged = {**self._state, **changes}
            if merged["agc"] == "fixed" and merged["range"] is None:
                raise CommandError("agc fixed needs a range: send range [low, high] with it")
            changed = merged != self._state
            self._state = merged
            state = dict(merged)
        if changed:
            for listener in self._listeners:
                listener(state)
        return state

    def apply(self, command: dict[str, Any]) -> dict[str, Any]:
        """Apply a validated ``start``, ``stop`` or ``set`` command.

        Raises:
            CommandError: as :meth:`update`.
        """
        if command["cmd"] in ("start", "stop"):
            return self.update(running=command["cmd"] == "start")
        return self.update(**{k: v for k, v in command.items() if k in SETTABLE})
