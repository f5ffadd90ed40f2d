"""Typed fields: one description of a value that serves server.conf, a command and the docs.

A :class:`Field` names a value (``name``: in the shared state, a command's JSON and
/config.json; ``key``: its server.conf key), its default, what is allowed (the words every
error message and the docs' tables use) and how it is read from JSON
(:meth:`Field.from_json`) and from server.conf text (:meth:`Field.from_text`). The kinds
below cover the render settings (:mod:`thermal_streamer.control.render_settings`), the
object parameters (:mod:`thermal_streamer.measure.object_parameters`) and the alarm rules
(:mod:`thermal_streamer.measure.alarms`); the config builds its rows for them from the
fields (:mod:`thermal_streamer.config.keys`).

Error tree::

    SettingError (ValueError)
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, ClassVar


class SettingError(ValueError):
    """A field's value is not allowed.

    Attributes:
        name: the field's name (``scale``, ``emissivity``, ``hold_s``).
        value: the value given (as given, for the message), or None.
        allowed: what would have been accepted ("an integer from 1 to 8").
    """

    def __init__(self, name: str, value: Any, allowed: str):
        self.name, self.value, self.allowed = name, value, allowed
        super().__init__(f"{name} must be {allowed}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class Field:
    """One value of a schema: where it lives, its default and what is allowed.

    Subclasses say how a value is read from JSON (:meth:`from_json`) and from
    server.conf text (:meth:`from_text`); both return the value in its Python form,
    which :meth:`check` then validates.

    Attributes:
        name: the name in the state, a command's JSON and /config.json.
        key: the server.conf key (in the section the config gives the schema).
        default: the built-in default, in Python form.
        summary: one line for the docs.
    """

    kind: ClassVar[str] = ""  # the type /config.json names: "choice", "integer", ...

    name: str
    key: str
    default: Any
    summary: str

    @property
    def allowed(self) -> str:
        """What a JSON value may be, in words ("one of: linear, fixed")."""
        raise NotImplementedError

    @property
    def allowed_text(self) -> str:
        """What a server.conf value may be, in words (as :attr:`allowed` unless it differs)."""
        return self.allowed

    @property
    def default_text(self) -> str:
        """The default as written in server.conf."""
        return "" if self.default is None else f"{self.default:g}" if isinstance(
            self.default, float) else str(self.default)

    def check(self, value: Any) -> bool:
        """True if a value in Python form is allowed."""
        raise NotImplementedError

    def from_json(self, value: Any) -> Any:
        """A JSON value (from a command) in Python form.

        Raises:
            SettingError: the value is not allowed.
        """
        converted = self._convert_json(value)
        if converted is None or not self.check(converted):
            raise SettingError(self.name, value, self.allowed)
        return converted

    def from_text(self, text: str) -> Any:
        """A server.conf value in Python form.

        Raises:
            SettingError: the value is not allowed (its ``allowed`` is :attr:`allowed_text`).
        """
        try:
            converted = self._convert_text(text.strip())
        except ValueError:
            raise SettingError(self.name, text, self.allowed_text) from None
        if not self.check(converted):
            raise SettingError(self.name, text, self.allowed_text)
        return converted

    def describe(self) -> dict[str, Any]:
        """The field for /config.json: name, kind, default, allowed and its bounds."""
        return {"name": self.name, "kind": self.kind, "default": self.default,
                "allowed": self.allowed}

    def _convert_json(self, value: Any) -> Any:
        """The JSON value in Python form, not yet checked; None when it has the wrong type."""
        return value

    def _convert_text(self, text: str) -> Any:
        """The text in Python form, not yet checked; ValueError when it cannot be read."""
        return text


@dataclasses.dataclass(frozen=True)
class Choice(Field):
    """One of a fixed list of words (case-insensitive in server.conf)."""

    choices: tuple[str, ...] = ()

    kind: ClassVar[str] = "choice"

    @property
    def allowed(self) -> str:
        return "one of: " + ", ".join(self.choices)

    def check(self, value: Any) -> bool:
        return value in self.choices

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "choices": list(self.choices)}

    def _convert_text(self, text: str) -> Any:
        for choice in self.choices:
            if choice.lower() == text.lower():
                return choice
        raise ValueError(text)


@dataclasses.dataclass(frozen=True)
class Pattern(Field):
    """A word that matches a regular expression (a name); ``rule`` says it in words."""

    pattern: re.Pattern[str] = re.compile("")
    rule: str = ""

    kind: ClassVar[str] = "pattern"

    @property
    def allowed(self) -> str:
        return self.rule

    def check(self, value: Any) -> bool:
        return isinstance(value, str) and self.pattern.fullmatch(value) is not None


@dataclasses.dataclass(frozen=True)
class Number(Field):
    """A number within [low, high]."""

    low: float = 0.0
    high: float = 0.0

    kind: ClassVar[str] = "number"

    @property
    def allowed(self) -> str:
        return f"a number from {self.low:g} to {self.high:g}"

    def check(self, value: Any) -> bool:
        return _is_number(value) and self.low <= value <= self.high

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "min": self.low, "max": self.high}

    def _convert_json(self, value: Any) -> Any:
        return float(value) if _is_number(value) else None

    def _convert_text(self, text: str) -> Any:
        return float(text)


@dataclasses.dataclass(frozen=True)
class Integer(Number):
    """An integer within [low, high] (a JSON float such as 2.0 is refused)."""

    kind: ClassVar[str] = "integer"

    @property
    def allowed(self) -> str:
        return f"an integer from {self.low:g} to {self.high:g}"

    def check(self, value: Any) -> bool:
        return isinstance(value, int) and super().check(value)

    def _convert_json(self, value: Any) -> Any:
        return value

    def _convert_text(self, text: str) -> Any:
        return int(text)


@dataclasses.dataclass(frozen=True)
class RangeField(Field):
    """``[low, high]`` with low < high (server.conf: ``LOW HIGH``, or empty for none).

    With ``nullable`` a command may also send ``null`` to clear it.
    """

    nullable: bool = False

    kind: ClassVar[str] = "range"

    @property
    def allowed(self) -> str:
        return "[low, high] with low < high" + (", or null for none" if self.nullable else "")

    def from_json(self, value: Any) -> Any:
        if value is None and self.nullable:
            return None
        return super().from_json(value)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "nullable": self.nullable}

    @property
    def allowed_text(self) -> str:
        return "empty or two numbers LOW HIGH with LOW < HIGH, e.g. 20 40"

    def check(self, value: Any) -> bool:
        return value is None or (
            isinstance(value, tuple) and len(value) == 2 and all(map(_is_number, value))
            and all(map(math.isfinite, value)) and value[0] < value[1])

    def _convert_json(self, value: Any) -> Any:
        if isinstance(value, list) and len(value) == 2 and all(map(_is_number, value)):
            return (float(value[0]), float(value[1]))
        return None

    def _convert_text(self, text: str) -> Any:
        words = text.replace(",", " ").split()
        if not words:
            return None
        if len(words) != 2:
            raise ValueError(text)
        return (float(words[0]), float(words[1]))


@dataclasses.dataclass(frozen=True)
class Colormap(Field):
    """A thermal palette or a matplotlib colormap name (see
    :mod:`thermal_streamer.control.colormaps`)."""

    kind: ClassVar[str] = "colormap"

    @property
    def allowed(self) -> str:
        return ("a thermal palette (ironbow, rainbow, white-hot, black-hot) or a matplotlib "
                "colormap name, e.g. inferno, magma, viridis, gray")

    def check(self, value: Any) -> bool:
        from thermal_streamer.control import (
            colormaps,  # matplotlib is slow to import; only when a value is checked,
        )

        return isinstance(value, str) and colormaps.is_known(value)


@dataclasses.dataclass(frozen=True)
class Color(Field):
    """An RGB colour ``#rrggbb`` (stored lower-case). server.conf takes it without the ``#``,
    which configparser would read as the start of a comment."""

    kind: ClassVar[str] = "color"

    @property
    def allowed(self) -> str:
        return "a colour #RRGGBB, e.g. #00ff00"

    @property
    def allowed_text(self) -> str:
        return "a colour RRGGBB in hex, e.g. 00ff00 (no #: server.conf reads # as a comment)"

    @property
    def default_text(self) -> str:
        return str(self.default).lstrip("#")

    def check(self, value: Any) -> bool:
        return isinstance(value, str) and re.fullmatch("#[0-9a-f]{6}", value) is not None

    def _convert_json(self, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else None

    def _convert_text(self, text: str) -> Any:
        return "#" + text.lower()
