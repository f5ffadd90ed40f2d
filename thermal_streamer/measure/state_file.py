"""The state file (``[Measurement] State_File``): regions and alarm rules kept across a restart.

When the file exists, its regions and alarms replace server.conf's ``[ROI ...]`` and
``[Alarm ...]`` sections (they are what the viewers last made of them); delete it to
start from server.conf again. An alarm's webhook always comes from server.conf
(``[Alarm NAME] Webhook``), never from this file. Format (UTF-8 JSON)::

    {"version": 1,
     "rois": [{"name": "breaker", "spot": [80, 60], "size": 1}, ...],
     "alarms": [{"name": "hot", "roi": "panel", "stat": "max", "above": 60.0,
                 "hysteresis": 2.0, "hold_s": 5.0}, ...]}

:class:`StateFile` writes it from a thread of its own (``state-file``), newest content
only, atomically: a temporary file in the same folder, flushed to disk, renamed over
the old one, so a crash or power cut leaves the old file or the new one, never half of
one. A write that fails is retried every RETRY_S seconds (its health says so).

Error tree::

    StateFileError
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from thermal_streamer.core.health import ComponentHealth
from thermal_streamer.measure.alarms import MAX_ALARMS, AlarmError, AlarmRule
from thermal_streamer.measure.regions import Region, RegionError, checked

log = logging.getLogger(__name__)

VERSION = 1
RETRY_S = 1.0  # a failed write is tried again this often
POLL_S = 0.5  # how often the writer looks at its stop flag


class StateFileError(Exception):
    """The state file exists but cannot be used.

    Attributes:
        path: the file.
        reason: what is wrong, and where.
    """

    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason} (fix it, or delete it to start from server.conf)")


class Definitions(NamedTuple):
    """The regions and alarm rules, as kept in the file."""

    rois: tuple[Region, ...]
    alarms: tuple[AlarmRule, ...]

    def as_json(self) -> dict[str, Any]:
        """The file's JSON object (alarms without their webhook)."""
        alarms = [{k: v for k, v in rule.as_json().items() if k != "webhook"}
                  for rule in self.alarms]
        return {"version": VERSION, "rois": [r.as_json() for r in self.rois], "alarms": alarms}


def load_definitions(path: str, webhooks: Mapping[str, str]) -> Definitions | None:
    """Read the state file.

    Args:
        path: the file.
        webhooks: alarm name -> webhook URL (from server.conf) given to the rules.

    Returns:
        The definitions, or None when the file does not exist.

    Raises:
        StateFileError: unreadable, not JSON, another version, or a bad region or
            rule (the reason names it).
    """
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateFileError(path, f"cannot be read: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateFileError(path, f"not JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise StateFileError(path, f"not a state file of version {VERSION}")
    rois, alarms = data.get("rois", []), data.get("alarms", [])
    if not isinstance(rois, list) or not isinstance(alarms, list):
        raise StateFileError(path, "rois and alarms must be lists")
    try:
        regions = checked(Region.from_json(item) for item in _objects(rois, "rois"))
    except RegionError as exc:
        raise StateFileError(path, f"rois: {exc}") from None
    rules: list[AlarmRule] = []
    try:
        for item in _objects(alarms, "alarms"):
            rule = AlarmRule.from_json(item, webhooks.get(str(item.get("name")), ""))
            if any(r.name == rule.name for r in rules) or len(rules) >= MAX_ALARMS:
                raise AlarmError(f"alarm {rule.name!r} twice, or more than {MAX_ALARMS}")
            rules.append(rule)
    except AlarmError as exc:
        raise StateFileError(path, f"alarms: {exc}") from None
    return Definitions(regions, tuple(rules))


def _objects(items: Sequence[Any], what: str) -> list[dict[str, Any]]:
    if not all(isinstance(item, dict) for item in items):
        raise RegionError(f"every entry of {what} must be a JSON object")
    return list(items)


class StateFile:
    """Writes the newest definitions to the state file, atomically, from :meth:`run`.

    Thread-safe: :meth:`save` may be called from any thread and never blocks on the disk.

    Args:
        path: the file (its folder must exist).

    Attributes:
        writes, errors: successful and failed writes since start.
    """

    def __init__(self, path: str):
        self.path = path
        self._cond = threading.Condition()
        self._pending: Definitions | None = None
        self.writes = self.errors = 0
        self._last_error = ""

    def save(self, definitions: Definitions) -> None:
        """Have ``definitions`` written soon (a newer call replaces a pending one)."""
        with self._cond:
            self._pending = definitions
            self._cond.notify()

    def run(self, stop: threading.Event) -> None:
        """Write each new content until ``stop`` is set (looked at every POLL_S), then
        what is still pending (one try)."""
        while not stop.is_set():
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or stop.is_set(), POLL_S)
            if not self._write_pending():
                stop.wait(RETRY_S)
        self._write_pending()

    def _write_pending(self) -> bool:
        """Write the pending content, if any; False when that failed (it stays pending)."""
        with self._cond:
            pending = self._pending
        if pending is None:
            return True
        if not self._write(pending):
            return False
        with self._cond:
            if self._pending is pending:
                self._pending = None
        return True

    def _write(self, definitions: Definitions) -> bool:
        """Replace the file atomically; False (logged when it starts failing) on error."""
        folder = os.path.dirname(os.path.abspath(self.path))
        text = json.dumps(definitions.as_json(), indent=1) + "\n"
        temporary = None
        try:
            fd, temporary = tempfile.mkstemp(prefix=".state-", dir=folder)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(temporary, self.path)
            temporary = None
            directory = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(directory)  # the rename itself reaches the disk
            finally:
                os.close(directory)
        except OSError as exc:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.remove(temporary)
            if not self._last_error:
                log.error("state file: cannot write %s: %s; retrying every %g s", self.path,
                          exc.strerror or exc, RETRY_S)
            self.errors += 1
            self._last_error = exc.strerror or str(exc)
            return False
        if self._last_error:
            log.warning("state file: writing %s again", self.path)
        self.writes += 1
        self._last_error = ""
        return True

    def health(self) -> ComponentHealth:
        """``ok`` or ``failing`` (the last write failed), with the write and error counts."""
        failing = bool(self._last_error)
        return ComponentHealth("failing" if failing else "ok", not failing,
                               {"writes": self.writes, "errors": self.errors}, self._last_error)
