"""Client commands (``/stream`` text messages): validation, then their effect on the state.

A command is validated completely before anything changes; a bad one raises
:class:`CommandError`, whose message is sent back to that client only. The ``set``
command's fields and what each allows come from the one render-settings schema
(:data:`server.render_settings.FIELDS`). The commands are listed in
docs/protocol.md.

Error tree::

    CommandError
"""

from __future__ import annotations

import json
from typing import Any

from .render_settings import FIELDS, SettingError
from .state import AcquisitionState

COMMANDS = ("start", "stop", "set", "ffc")
SETTABLE = tuple(f.name for f in FIELDS)


class CommandError(Exception):
    """A client command is malformed, unknown or has a bad value; the text says which."""


def _validate_set(data: dict[str, Any]) -> dict[str, Any]:
    """The validated fields of a ``set`` command, in Python form (see parse_command)."""
    try:
        fields = {f.name: f.from_json(data[f.name]) for f in FIELDS if f.name in data}
    except SettingError as exc:
        raise CommandError(str(exc)) from None
    if not fields:
        raise CommandError("set needs at least one of: " + ", ".join(SETTABLE))
    return fields


def parse_command(message: str | bytes) -> dict[str, Any]:
    """Validate one client message.

    Args:
        message: the text of a WebSocket message (bytes are decoded as UTF-8).

    Returns:
        The command as a dict with ``cmd``, ``token`` if given, and for ``set`` only
        the validated fields among SETTABLE in Python form (``range`` as a
        ``(low, high)`` tuple of floats).

    Raises:
        CommandError: not JSON, not an object, unknown ``cmd``, or a bad value.
    """
    try:
        data = json.loads(message)
    except (ValueError, UnicodeDecodeError):
        raise CommandError("malformed command: not valid JSON") from None
    except RecursionError:  # e.g. [[[[...]]]] within the 4 KiB message limit
        raise CommandError("malformed command: nested too deeply") from None
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


def apply_command(command: dict[str, Any], state: AcquisitionState) -> None:
    """Apply a validated ``start``, ``stop`` or ``set`` command to the shared state.

    Raises:
        CommandError: the resulting settings are not allowed (``fixed`` AGC without a
            range); nothing changed.
    """
    if command["cmd"] in ("start", "stop"):
        state.set_running(command["cmd"] == "start")
        return
    try:
        state.change_settings(**{k: v for k, v in command.items() if k in SETTABLE})
    except SettingError as exc:
        raise CommandError(str(exc)) from None
