"""Client commands (``/stream`` text messages): validation, then their effect on the state.

A command is validated completely before anything changes; a bad one raises
:class:`CommandError`, whose message is sent back to that client only. The ``set``
command's fields and what each allows come from the one render-settings schema
(:data:`thermal_streamer.control.render_settings.FIELDS`). The commands are listed in
docs/protocol.md.

Error tree::

    CommandError
    └── TokenError
"""

from __future__ import annotations

import concurrent.futures
import hmac
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from thermal_streamer.control.fields import SettingError
from thermal_streamer.control.render_settings import FIELDS
from thermal_streamer.control.state import AcquisitionState

log = logging.getLogger(__name__)

COMMANDS = ("start", "stop", "set", "ffc")
SETTABLE = tuple(f.name for f in FIELDS)
FFC_MIN_INTERVAL_S = 10.0  # an ffc at most this often: each freezes a Lepton's video ~23 frames
SENDER = "sender"  # the key of the sender's description in a handler's command


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


class CommandHandler(Protocol):
    """A command beyond the core ones (start, stop, set, ffc), plugged in by the app.

    A part that owns some state (recordings, measurement regions) validates and runs
    its own commands; every channel then accepts them with the same token rule.
    """

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        """The command's fields, checked and in Python form (without ``cmd``/``token``).

        Raises:
            CommandError: a field is missing or not allowed (nothing changed).
        """
        ...

    def run(self, command: dict[str, Any]) -> concurrent.futures.Future[None] | None:
        """Carry out a validated command (must not block; return a future for slow work).

        ``command[SENDER]`` describes who sent it (a viewer's address, ``"mqtt"``), for
        the log line of a change.

        Raises:
            CommandError: the command cannot be carried out now (nothing changed).
        """
        ...


def parse_command(message: str | bytes,
                  handlers: Mapping[str, CommandHandler] | None = None) -> dict[str, Any]:
    """Validate one client message.

    Args:
        message: the text of a WebSocket message (bytes are decoded as UTF-8).
        handlers: the commands beyond COMMANDS, by name.

    Returns:
        The command as a dict with ``cmd``, ``token`` if given, and for ``set`` only
        the validated fields among SETTABLE in Python form (``range`` as a
        ``(low, high)`` tuple of floats); a handler's command has the fields its
        ``validate`` returned.

    Raises:
        CommandError: not JSON, not an object, unknown ``cmd``, or a bad value.
    """
    handlers = handlers or {}
    try:
        data = json.loads(message)
    except (ValueError, UnicodeDecodeError):
        raise CommandError("malformed command: not valid JSON") from None
    except RecursionError:  # e.g. [[[[...]]]] within the 4 KiB message limit
        raise CommandError("malformed command: nested too deeply") from None
    if not isinstance(data, dict):
        raise CommandError("malformed command: expected a JSON object")
    name = data.get("cmd")
    if not isinstance(name, str) or (name not in COMMANDS and name not in handlers):
        names = ", ".join((*COMMANDS, *handlers))
        raise CommandError(f"unknown command {name!r}; commands: {names}")
    command: dict[str, Any] = {"cmd": name}
    if name == "set":
        command.update(_validate_set(data))
    elif name in handlers:
        command.update(handlers[name].validate(data))
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


class TokenError(CommandError):
    """The command needs the control token (Control_Token) and did not carry it.

    Attributes:
        wrong: True if a token was given and it was wrong (a guess), False if none was.
    """

    def __init__(self, wrong: bool) -> None:
        self.wrong = wrong
        super().__init__("this command needs the control token (Control_Token)")


def _done() -> concurrent.futures.Future[None]:
    future: concurrent.futures.Future[None] = concurrent.futures.Future()
    future.set_result(None)
    return future


class CommandRunner:
    """Runs client commands from any channel (the WebSocket ``/stream``, MQTT ``cmd``).

    One place validates, authorises and applies a command, so every channel gives the
    same answers. Thread-safe.

    Args:
        state: the shared acquisition state the commands change.
        run_ffc: starts a flat-field correction elsewhere and returns its future (which
            raises NotImplementedError for sources without a shutter and LeptonError
            when the camera refuses).
        control_token: when not empty, every command needs it (docs/protocol.md §5.2).
        handlers: the commands beyond the core ones, by name (see CommandHandler).
        clock: monotonic seconds, for the ffc bound (injectable for tests).

    Attributes:
        ffc_refused: ffc commands refused because one ran less than FFC_MIN_INTERVAL_S ago.
    """

    def __init__(self, state: AcquisitionState,
                 run_ffc: Callable[[], concurrent.futures.Future[None]],
                 control_token: str = "", handlers: Mapping[str, CommandHandler] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._state, self._run_ffc, self._control_token = state, run_ffc, control_token
        self._handlers = dict(handlers or {})
        self._clock = clock
        self._ffc_lock = threading.Lock()
        self._ffc_at: float | None = None  # when the newest ffc was started (clock's time)
        self._ffc_refusing = False
        self.ffc_refused = 0

    def execute(self, message: str | bytes, connection_token: str | None = None,
                sender: str = "") -> concurrent.futures.Future[None]:
        """Validate, authorise and apply one command message.

        Args:
            message: the command's JSON text.
            connection_token: a token the channel already holds (``/stream?token=``),
                used when the command has no ``token`` field.
            sender: who sent it, for the log of changes ("192.168.1.20", "mqtt").

        Returns:
            A future that is done once the command took effect: at once for start,
            stop and set; when the camera answered for ffc (its exception, if any, is
            NotImplementedError or LeptonError).

        Raises:
            TokenError: the control token is set and was not given (nothing changed).
            CommandError: the message is not a valid command, or an ffc came less than
                FFC_MIN_INTERVAL_S after the last (nothing changed).
        """
        command = parse_command(message, self._handlers)
        self.authorize(command.get("token") or connection_token or "")
        return self._run(command, sender)

    def execute_trusted(self, message: str | bytes,
                        sender: str = "") -> concurrent.futures.Future[None]:
        """Validate and apply one command without asking for the control token.

        For a channel that authorises its senders itself: MQTT ``cmd``, where the
        broker's ACL says who may publish and ``[MQTT] Commands`` which commands run
        (docs/mqtt.md, "Who may send commands"). A ``token`` field is ignored.

        Returns and raises as :meth:`execute` does, never TokenError.
        """
        return self._run(parse_command(message, self._handlers), sender)

    def _run(self, command: dict[str, Any], sender: str) -> concurrent.futures.Future[None]:
        if command["cmd"] == "ffc":
            before = self._take_ffc(sender)
            try:
                return self._run_ffc()
            except BaseException:  # it did not start: the next one may
                with self._ffc_lock:
                    self._ffc_at = before
                raise
        if command["cmd"] in self._handlers:
            command[SENDER] = sender or "unknown"
            return self._handlers[command["cmd"]].run(command) or _done()
        apply_command(command, self._state)
        return _done()

    def _take_ffc(self, sender: str) -> float | None:
        """Let one ffc through per FFC_MIN_INTERVAL_S; refuse (count, log once per run of
        refusals) the others. Returns when the one before started (None: none)."""
        with self._ffc_lock:
            now = self._clock()
            if self._ffc_at is not None and now - self._ffc_at < FFC_MIN_INTERVAL_S:
                ago = now - self._ffc_at
                self.ffc_refused += 1
                if not self._ffc_refusing:
                    log.warning("ffc from %s refused: at most one every %g s (refused so far: "
                                "%d)", sender or "unknown", FFC_MIN_INTERVAL_S,
                                self.ffc_refused)
                self._ffc_refusing = True
                raise CommandError(f"ffc ran {math.floor(ago)} s ago; next in "
                                   f"{math.ceil(FFC_MIN_INTERVAL_S - ago)} s")
            if self._ffc_refusing:
                log.info("ffc accepted again (refused so far: %d)", self.ffc_refused)
            before, self._ffc_at, self._ffc_refusing = self._ffc_at, now, False
            return before

    def authorize(self, given: str) -> None:
        """Raise TokenError unless the control token is unset or ``given`` matches it."""
        check_token(self._control_token, given)


def check_token(control_token: str, given: str) -> None:
    """Raise TokenError unless ``control_token`` is empty or ``given`` matches it
    (compared in constant time). Every channel's runner checks the token here."""
    if control_token and not hmac.compare_digest(given.encode(), control_token.encode()):
        raise TokenError(wrong=bool(given))
