"""The render settings and their one schema: server.conf, the ``set`` command, /config.json, docs.

Every setting is described once in :data:`FIELDS`: its name (in the shared state, the
``set`` command and /config.json), its ``[Render]`` key in server.conf, its default,
what is allowed (the text every error message and the docs use), and how a value is
read from JSON and from server.conf text. :class:`RenderSettings` checks every field
and the cross-field rule (``fixed`` AGC needs a range) when it is made, so an invalid
combination cannot exist anywhere in the daemon.

Error tree::

    SettingError (ValueError)
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, ClassVar

AGC_MODES = ("linear", "percentile", "histogram", "fixed")
INTERPOLATIONS = ("nearest", "bilinear", "bicubic")
MAX_SCALE = 8  # largest integer enlargement
MAX_JPEG_QUALITY = 95  # Pillow: above 95 the file grows with no visible gain
MAX_CLIP_PERCENT = 49.99  # clipping 50 % at each end would leave nothing

Range = tuple[float, float]


class SettingError(ValueError):
    """A render setting's value is not allowed.

    Attributes:
        name: the setting's name (``scale``), see :data:`FIELDS`.
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
    """One render setting: where it lives, its default and what is allowed.

    Subclasses say how a value is read from JSON (:meth:`from_json`) and from
    server.conf text (:meth:`from_text`); both return the value in its Python form,
    which :meth:`check` then validates.

    Attributes:
        name: the name in the state, the ``set`` command and /config.json.
        key: the ``[Render]`` key in server.conf.
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
        """A JSON value (from a ``set`` command) in Python form.

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

    With ``nullable`` a ``set`` may also send ``null`` to clear it.
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


COLORMAP = Colormap("colormap", "Colormap", "inferno",
                    "the palette (`/colormaps.json` lists every name)")
AGC = Choice("agc", "AGC", "linear",
             "automatic gain control: `linear` (frame min..max), `percentile` (clip "
             "`clip_percent` % at each end), `histogram` (equalisation, like the Lepton's HEQ), "
             "`fixed` (`range`)", AGC_MODES)
RANGE = RangeField("range", "Range", None,
                   "the fixed AGC range, degrees C for radiometric sources, counts otherwise")
CLIP_PERCENT = Number("clip_percent", "Clip_Percent", 1.0,
                      "percentile AGC: the share of pixels clipped at each end", 0.0,
                      MAX_CLIP_PERCENT)
SCALE = Integer("scale", "Scale", 1, "integer enlargement of the JPEG; 1 keeps the sensor's "
                "size (the page scales smoothly)", 1, MAX_SCALE)
INTERPOLATION = Choice("interpolation", "Interpolation", "bilinear",
                       "resampling when `scale` > 1", INTERPOLATIONS)
JPEG_QUALITY = Integer("jpeg_quality", "JPEG_Quality", 90, "JPEG quality (no chroma "
                       "subsampling at scale 1: colour bleeds badly on small images)", 1,
                       MAX_JPEG_QUALITY)
ISOTHERM = RangeField("isotherm", "Isotherm", None,
                      "a band drawn in `isotherm_color` over the palette: pixels from low to "
                      "high inclusive, degrees C for radiometric sources, counts otherwise; "
                      "empty (`null`) for none", nullable=True)
ISOTHERM_COLOR = Color("isotherm_color", "Isotherm_Color", "#00ff00", "the isotherm's colour")
FIXED_NEEDS_RANGE = "set when agc is fixed"  # the rule across fields, as range's ``allowed``

FIELDS: tuple[Field, ...] = (COLORMAP, AGC, RANGE, CLIP_PERCENT, SCALE, INTERPOLATION,
                             JPEG_QUALITY, ISOTHERM, ISOTHERM_COLOR)
FIELDS_BY_NAME = {f.name: f for f in FIELDS}


@dataclasses.dataclass(frozen=True)
class RenderSettings:
    """How to turn a raw frame into a picture; valid by construction.

    Attributes (see :data:`FIELDS` for what each allows):
        colormap: a thermal palette or matplotlib colormap name.
        agc: one of AGC_MODES.
        range: (low, high) for ``fixed`` AGC, in display units (degrees C for
            radiometric frames, counts otherwise), or None.
        clip_percent: for ``percentile`` AGC, the share of pixels clipped at each end.
        scale: integer enlargement factor, 1 keeps the sensor's resolution.
        interpolation: one of INTERPOLATIONS, used when scale > 1.
        jpeg_quality: Pillow JPEG quality.
        isotherm: (low, high) in display units, pixels in it are drawn in
            ``isotherm_color``; or None.
        isotherm_color: ``#rrggbb``.

    Raises:
        SettingError: a field is not allowed, or ``agc`` is ``fixed`` without a range.
    """

    colormap: str = COLORMAP.default
    agc: str = AGC.default
    range: Range | None = RANGE.default
    clip_percent: float = CLIP_PERCENT.default
    scale: int = SCALE.default
    interpolation: str = INTERPOLATION.default
    jpeg_quality: int = JPEG_QUALITY.default
    isotherm: Range | None = ISOTHERM.default
    isotherm_color: str = ISOTHERM_COLOR.default

    def __post_init__(self) -> None:
        for field in FIELDS:
            value = getattr(self, field.name)
            if not field.check(value):
                raise SettingError(field.name, value, field.allowed)
        if self.agc == "fixed" and self.range is None:
            raise SettingError(RANGE.name, None, FIXED_NEEDS_RANGE)

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON values, in :data:`FIELDS` order (ranges as lists or None)."""
        values = {f.name: getattr(self, f.name) for f in FIELDS}
        for field in (RANGE, ISOTHERM):
            band = getattr(self, field.name)
            values[field.name] = list(band) if band else None
        return values


def config_table() -> list[str]:
    """The ``[Render]`` table of docs/configuration.md: key, default, allowed, meaning."""
    return ["| key | default | allowed | meaning |", "|---|---|---|---|",
            *(f"| `{f.key}` | {f'`{f.default_text}`' if f.default_text else ''} | "
              f"{f.allowed_text} | {f.summary} |" for f in FIELDS)]


def set_command_table() -> list[str]:
    """The ``set`` fields table of docs/protocol.md (Markdown lines): field, allowed, meaning.

    A value that is not allowed is answered with ``FIELD must be ALLOWED`` (SettingError).
    """
    return ["| field | allowed | meaning |", "|---|---|---|",
            *(f"| `{f.name}` | {f.allowed} | {f.summary} |" for f in FIELDS)]


# python -m thermal_streamer.control.render_settings: the tables the docs hold
if __name__ == "__main__":
    print("\n".join(["README.md, [Render]:", "", *config_table(), "",
                      "docs/protocol.md, the set command:", "", *set_command_table()]))
