"""Named sections: ``[ROI NAME]`` (a measurement region) and ``[Alarm NAME]`` (an alarm rule).

They appear once per name, unlike the fixed sections of
:data:`thermal_streamer.config.keys.SETTINGS`. :data:`NAMED_SECTIONS` declares each kind's
keys; the ``[Alarm NAME]`` keys are the alarm rule's own fields
(:data:`thermal_streamer.measure.alarms.FIELDS`, which the ``alarm`` command reads too)
plus ``Webhook``, which only server.conf may set. :func:`read_named_sections` turns the
sections as read into regions and alarm rules and checks the rules across sections.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from thermal_streamer.config.errors import ConfigError
from thermal_streamer.config.values import from_field
from thermal_streamer.control.fields import Field, SettingError
from thermal_streamer.measure import alarms
from thermal_streamer.measure.alarms import MAX_ALARMS, AlarmRule
from thermal_streamer.measure.regions import (
    FRAME,
    Region,
    RegionError,
    check_name,
    checked,
    parse_box,
    parse_spot,
)
from thermal_streamer.outputs.webhook import check_url


class SectionRuleError(ValueError):
    """A named section breaks a rule across its keys.

    Attributes:
        key: the key to fix (None: the section as a whole).
        value: the value as written (None when the key is missing).
        allowed: what would be accepted.
    """

    def __init__(self, key: str | None, value: str | None, allowed: str):
        super().__init__(allowed)
        self.key, self.value, self.allowed = key, value, allowed


@dataclasses.dataclass(frozen=True)
class NamedKey:
    """One key of a named section: its parser gets the section's name and the text."""

    key: str
    parse: Callable[[str, str], Any]  # (name, text) -> value; ValueError says what is allowed
    default: str | None = None  # None: absent unless written


@dataclasses.dataclass(frozen=True)
class NamedSection:
    """A kind of section that appears once per name, ``[<kind> <name>]`` (``[ROI panel]``).

    ``build(name, {key: parsed value})`` makes the section's object from the keys that
    were written or have a default, and raises SectionRuleError for a rule across keys.
    """

    kind: str
    name_rule: Callable[[str], object]  # raises ValueError (what is allowed) for a bad name
    keys: tuple[NamedKey, ...]
    build: Callable[[str, dict[str, Any]], Any]


def _one_of(values: dict[str, Any], keys: tuple[str, ...], allowed: str) -> str:
    """The one key of ``keys`` that was written. Raises SectionRuleError: none or several."""
    given = [k for k in keys if k in values]
    if len(given) != 1:
        raise SectionRuleError(given[1] if given else None, None, allowed)
    return given[0]


def _build_roi(name: str, values: dict[str, Any]) -> Region:
    return values[_one_of(values, ("Spot", "Box"), "needs either Spot = X Y [SIZE] or "
                          "Box = X0 Y0 X1 Y1 (raw frame pixels, inclusive), not both")]


def _build_alarm(name: str, values: dict[str, Any]) -> AlarmRule:
    if alarms.ROI.key not in values:
        raise SectionRuleError(alarms.ROI.key, None, f"must be set: {alarms.ROI.allowed_text}")
    key = _one_of(values, tuple(f.key for f in alarms.DIRECTIONS), "needs either Above = "
                  "THRESHOLD or Below = THRESHOLD (degrees C for radiometric sources), not both")
    direction = next(f for f in alarms.DIRECTIONS if f.key == key)
    return AlarmRule(name, values[alarms.ROI.key], values[alarms.STAT.key], direction.name,
                     values[key], values[alarms.HYSTERESIS.key], values[alarms.HOLD.key],
                     values.get(WEBHOOK, ""))


def _named(parse: Callable[[str], Any]) -> Callable[[str, str], Any]:
    """A parser that does not need the section's name."""
    return lambda _name, value: parse(value)


def _region_text(parse: Callable[[str, str], Region]) -> Callable[[str, str], Region]:
    def parse_text(name: str, value: str) -> Region:
        try:
            return parse(name, value)
        except RegionError as exc:
            raise ValueError(str(exc)) from None
    return parse_text


def _region_name(name: str) -> str:
    try:
        return check_name(name)
    except RegionError as exc:
        raise ValueError(str(exc).partition(": got")[0]) from None


def _field_name(field: Field) -> Callable[[str], str]:
    """A section name's rule from a field: ValueError ``NAME must be ALLOWED``."""

    def rule(name: str) -> str:
        try:
            return field.from_text(name)
        except SettingError as exc:
            raise ValueError(str(exc)) from None

    return rule


def _field_key(field: Field) -> NamedKey:
    """A named section's key read by a field (its default, if it has one)."""
    return NamedKey(field.key, _named(from_field(field)),
                    None if field.default is None else field.default_text)


WEBHOOK = "Webhook"  # server.conf only: a command could make the daemon post anywhere
NAMED_SECTIONS: tuple[NamedSection, ...] = (
    NamedSection("ROI", _region_name, (NamedKey("Spot", _region_text(parse_spot)),
                         NamedKey("Box", _region_text(parse_box))), _build_roi),
    NamedSection("Alarm", _field_name(alarms.NAME),
                 (*map(_field_key, alarms.FIELDS), NamedKey(WEBHOOK, _named(check_url))),
                 _build_alarm),
)

# a named section as read: its kind, its name, the section as written, its (key, value)s
NamedItems = tuple[NamedSection, str, str, list[tuple[str, str]]]


def read_named_sections(named: list[NamedItems], path: Path | str
                        ) -> tuple[tuple[Region, ...], tuple[AlarmRule, ...]]:
    """The [ROI NAME] and [Alarm NAME] sections as regions and alarm rules.

    Raises:
        ConfigError: naming the section and key: a bad name or value, an unknown or
            missing key, a name twice, an alarm on a region that is not defined, or
            too many of either.
    """
    built: dict[str, list[tuple[str, Any]]] = {k.kind: [] for k in NAMED_SECTIONS}
    for kind, name, section, items in named:
        try:
            kind.name_rule(name)
        except ValueError as exc:
            raise ConfigError(path, section, allowed=str(exc)) from None
        specs = {k.key.lower(): k for k in kind.keys}
        values: dict[str, Any] = {}
        for key, raw in items:
            spec = specs.get(key.lower())
            if spec is None:
                raise ConfigError(path, section, key, raw, "unknown key; keys in this section: "
                                  + ", ".join(k.key for k in kind.keys))
            try:
                values[spec.key] = spec.parse(name, raw)
            except ValueError as exc:
                raise ConfigError(path, section, key, raw, str(exc)) from None
        for spec in kind.keys:
            if spec.key not in values and spec.default is not None:
                values[spec.key] = spec.parse(name, spec.default)
        try:
            built[kind.kind].append((section, kind.build(name, values)))
        except SectionRuleError as exc:
            raise ConfigError(path, section, exc.key, exc.value, exc.allowed) from None
    rois: tuple[Region, ...] = ()
    for section, region in built["ROI"]:
        try:
            rois = checked((*rois, region))
        except RegionError as exc:
            raise ConfigError(path, section, allowed=str(exc)) from None
    names = [r.name for r in rois]
    rules: list[AlarmRule] = []
    for section, rule in built["Alarm"]:
        if rule.roi != FRAME and rule.roi not in names:
            raise ConfigError(path, section, alarms.ROI.key, rule.roi,
                              f"must be {alarms.ROI.allowed_text}; regions: "
                              f"{', '.join(names) or 'none'}")
        if any(a.name.lower() == rule.name.lower() for a in rules):
            raise ConfigError(path, section, allowed=f"an alarm called {rule.name!r} exists "
                              "already (names ignore case)")
        if len(rules) >= MAX_ALARMS:
            raise ConfigError(path, section, allowed=f"at most {MAX_ALARMS} alarms")
        rules.append(rule)
    return rois, tuple(rules)
