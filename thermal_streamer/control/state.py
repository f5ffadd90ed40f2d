"""The shared acquisition state: what every viewer sees and any viewer may change.

Running or paused, the render settings, the number of viewers, and the parts other
components own (``recording``, measurement regions, alarms: each sets its own part with
:meth:`AcquisitionState.set_part`). Every change calls
the listeners; the WebSocket server turns changes into ``state`` messages for the
``/stream`` clients (newest only, the viewer count at most once a second;
docs/protocol.md).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import Any

from thermal_streamer.control.render_settings import RenderSettings

StateListener = Callable[[dict[str, Any]], None]


class AcquisitionState:
    """Running or paused, the render settings and the viewer count, shared by every client.

    Thread-safe. Listeners are called (outside the lock) with the new snapshot after
    every change, from the thread that made it; they must not block.

    Args:
        settings: the initial render settings (from the config).
        running: whether frames are published.
    """

    def __init__(self, settings: RenderSettings, running: bool = True):
        self._lock = threading.Lock()
        self._running = running
        self._settings = settings
        self._clients = 0
        self._parts: dict[str, Any] = {}
        self._listeners: list[StateListener] = []

    def snapshot(self) -> dict[str, Any]:
        """The state as sent to clients: ``running``, every render setting, ``clients``."""
        with self._lock:
            return self._snapshot()

    @property
    def running(self) -> bool:
        """True while frames are published."""
        return self._running

    def render_settings(self) -> RenderSettings:
        """The current render settings."""
        return self._settings

    def add_listener(self, listener: StateListener) -> None:
        """Call ``listener(snapshot)`` after every change."""
        with self._lock:
            self._listeners.append(listener)

    def set_running(self, running: bool) -> None:
        """Pause (False) or resume (True) publishing for everyone."""
        self._update(running=running)

    def set_clients(self, count: int) -> None:
        """The number of connected viewers (from the hub)."""
        self._update(clients=count)

    def set_part(self, name: str, value: Any) -> None:
        """Set a component's part of the state (a JSON value; key ``name`` of the snapshot).

        Args:
            name: the key, not one of the core keys (running, the render settings,
                clients).
            value: JSON-serialisable; listeners are called only when it changed.

        Raises:
            ValueError: ``name`` is a core key.
        """
        if name in self._core_keys():
            raise ValueError(f"{name!r} is a core state key, not a part")
        self._update(part=(name, value))

    def part(self, name: str) -> Any:
        """A component's part of the state, or None when it was never set."""
        with self._lock:
            return self._parts.get(name)

    def change_settings(self, **changes: Any) -> RenderSettings:
        """Replace some render settings; nothing changes unless the result is valid.

        Args:
            changes: field name to value in Python form (see render_settings.FIELDS).

        Returns:
            The new settings.

        Raises:
            SettingError: the combination is not allowed (``fixed`` AGC without a range).
        """
        return self._update(changes=changes)

    def _update(self, running: bool | None = None, clients: int | None = None,
                changes: dict[str, Any] | None = None,
                part: tuple[str, Any] | None = None) -> RenderSettings:
        with self._lock:
            before = self._snapshot()
            if changes:
                self._settings = dataclasses.replace(self._settings, **changes)  # validates
            if part is not None:
                self._parts[part[0]] = part[1]
            if running is not None:
                self._running = running
            if clients is not None:
                self._clients = clients
            after = self._snapshot()
            settings = self._settings
            listeners = list(self._listeners) if after != before else []
        for listener in listeners:
            listener(after)
        return settings

    def _snapshot(self) -> dict[str, Any]:
        return {"running": self._running, **self._settings.as_dict(), "clients": self._clients,
                **self._parts}

    @staticmethod
    def _core_keys() -> set[str]:
        return {"running", "clients", *RenderSettings().as_dict()}
