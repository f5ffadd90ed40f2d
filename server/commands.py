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
from .pipeline import AGC_MODES

COMMANDS = ("start", "stop", "set", "ffc")


class CommandError(Exception):
    """A client command is malformed, unknown or has a bad value; the text says which."""


def parse_command(message: str | bytes) -> dict[str, Any]:
    """Validate one client message.

    Args:
        message: the text of a WebSocket message (bytes are decoded as UTF-8).

    Returns:
        The command as a dict with ``cmd`` and, for ``set``, only the validated
        fields among ``colormap``, ``agc`` and ``range`` (a ``[low, high]`` pair of floats).

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
    if name != "set":
        return {"cmd": name}
    command: dict[str, Any] = {"cmd": "set"}
    if "colormap" in data:
        if not isinstance(data["colormap"], str) or not colormaps.is_known(data["colormap"]):
            raise CommandError(f"unknown colormap {data['colormap']!r}")
        command["colormap"] = data["colormap"]
    if "agc" in data:
        if data["agc"] not in AGC_MODES:
            raise CommandError(f"agc must be one of: {', '.join(AGC_MODES)}")
        command["agc"] = data["agc"]
    if "range" in data:
        value = data["range"]
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
                or not value[0] < value[1]):
            raise CommandError("range must be [low, high] with low < high")
        command["range"] = [float(value[0]), float(value[1])]
    if len(command) == 1:
        raise CommandError("set needs at least one of: colormap, agc, range")
    return command


class AcquisitionState:
    """What every client shares: running or paused, colormap, AGC, range, client count.

    Thread-safe. Listeners are called (outside the lock) with the new state after
    every change, from the thread that made it.
    """

    def __init__(self, colormap: str, agc: str, running: bool = True):
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {"running": running, "colormap": colormap, "agc": agc,
                                       "range": None, "clients": 0}
        self._listeners: list[Callable[[dict], None]] = []

    def snapshot(self) -> dict[str, Any]:
        """A copy of the current state (the ``state`` object of INTERFACE.md)."""
        with self._lock:
            return dict(self._state)

    def add_listener(self, listener: Callable[[dict], None]) -> None:
        self._listeners.append(listener)

    def update(self, **changes: Any) -> dict[str, Any]:
        """Apply changes; notify listeners if anything changed. Returns the new state."""
        with self._lock:
            changed = any(self._state[k] != v for k, v in changes.items())
            self._state.update(changes)
            state = dict(self._state)
        if changed:
            for listener in self._listeners:
                listener(state)
        return state

    def apply(self, command: dict[str, Any]) -> dict[str, Any]:
        """Apply a validated ``start``, ``stop`` or ``set`` command."""
        if command["cmd"] in ("start", "stop"):
            return self.update(running=command["cmd"] == "start")
        return self.update(**{k: v for k, v in command.items() if k != "cmd"})
