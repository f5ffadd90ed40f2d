"""Alarms on measured values: rules, a pure state machine per rule, and the evaluator thread.

A rule watches one statistic (``min``, ``max`` or ``mean``) of a region, or of the
whole frame (``roi = "frame"``), and goes from ``ok`` to ``alarm`` when the value has
been beyond its threshold (``above``: value > threshold; ``below``: value < threshold)
for ``hold_s`` seconds of frame time, without a break; ``hold_s = 0`` raises on the
first such frame. It goes back to ``ok`` on the first frame whose value is back by
the hysteresis (``above``: value <= threshold - hysteresis; ``below``: value >=
threshold + hysteresis). Each change is a :class:`Transition` with the frame's time
and the value that crossed. Thresholds are in the frame's unit (degrees C for
radiometric sources, counts otherwise).

:class:`AlarmMachine` is pure: it is fed (value, frame time) and returns transitions,
so tests drive it value by value with exact times. :class:`AlarmEvaluator` is the
shell: it reads every source frame from ``hub.raw`` in its own thread (whether or not
anyone watches), feeds every machine, publishes the ``alarms`` state part and calls
its transition listeners (the webhook, later the event recorder). Rules change live
through :class:`AlarmCommand` (``{"cmd": "alarm", ...}``).

A rule's fields are described once, in :data:`FIELDS` (and :data:`NAME`), as
:mod:`thermal_streamer.control.fields` fields: the ``alarm`` command reads them from JSON
(:meth:`AlarmRule.from_json`) and the config's ``[Alarm NAME]`` sections from their keys,
with the same words for what is allowed.

Error tree::

    AlarmError (ValueError)
"""

from __future__ import annotations

import collections
import dataclasses
import enum
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from thermal_streamer.control.commands import SENDER, CommandError
from thermal_streamer.control.fields import Choice, Field, Number, Pattern, SettingError
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.core.hub import Hub
from thermal_streamer.measure.meter import Measure
from thermal_streamer.measure.regions import (
    FRAME,
    NAME_PATTERN,
    STATS,
    RegionError,
    check_name,
)

log = logging.getLogger(__name__)

MAX_ALARMS = 16
MAX_THRESHOLD = 1e6  # |threshold| and hysteresis at most this (degrees C or counts)
MAX_HOLD_S = 86400.0
RECENT_TRANSITIONS = 32  # transitions kept for /alarms.json
POLL_S = 0.5  # how often the evaluator looks at its stop flag when no frame arrives
ALARM_NAME_RULE = "1 to 32 letters A-Z a-z, digits, _ . or -"
REARM_MIN_S = 10.0  # a changed rule's webhook hears at most one transition per max(hold_s, this)
REARM_NAMES = 4 * MAX_ALARMS  # rule names whose last change is remembered, at most


class AlarmError(ValueError):
    """An alarm rule, or a change to the rules, is not allowed; the text says why."""


class AlarmState(enum.Enum):
    """Where a rule stands."""

    OK = "ok"
    ALARM = "alarm"


@dataclasses.dataclass(frozen=True)
class WatchedRegion(Field):
    """What a rule watches: a region's name, or ``frame`` (any case, kept as ``frame``).

    A command may name any region that exists (the command checks that); server.conf
    text must also be spelt as a ``[ROI NAME]`` section's name.
    """

    kind: ClassVar[str] = "region"

    @property
    def allowed(self) -> str:
        return f"a region's name or {FRAME!r}"

    @property
    def allowed_text(self) -> str:
        return f"a [ROI NAME] section's name or {FRAME}"

    def check(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value)

    def _convert_json(self, value: Any) -> Any:
        if not isinstance(value, str):
            return None
        return FRAME if value.lower() == FRAME else value

    def _convert_text(self, text: str) -> Any:
        if text.lower() == FRAME:
            return FRAME
        try:
            return check_name(text)
        except RegionError:
            raise ValueError(text) from None


NAME = Pattern("name", "NAME", None, "the alarm's name (server.conf: the section's, "
               "`[Alarm NAME]`)", NAME_PATTERN, ALARM_NAME_RULE)
ROI = WatchedRegion("roi", "ROI", None, "the region watched, or `frame` for the whole frame")
STAT = Choice("stat", "Stat", "max", "the statistic watched (a command must name it)", STATS)
ABOVE = Number("above", "Above", None, "raise when the value is above this (degrees C for "
               "radiometric sources, counts otherwise)", -MAX_THRESHOLD, MAX_THRESHOLD)
BELOW = Number("below", "Below", None, "raise when the value is below this", -MAX_THRESHOLD,
               MAX_THRESHOLD)
HYSTERESIS = Number("hysteresis", "Hysteresis", 1.0, "how far back the value must come to "
                    "clear, same unit", 0, MAX_THRESHOLD)
HOLD = Number("hold_s", "Hold_Seconds", 0.0, "seconds (frame time) the value must stay beyond "
              "the threshold to raise", 0, MAX_HOLD_S)
DIRECTIONS = (ABOVE, BELOW)  # a rule has exactly one
FIELDS: tuple[Field, ...] = (ROI, STAT, *DIRECTIONS, HYSTERESIS, HOLD)


def _from_json(field: Field, value: Any) -> Any:
    """A rule's field from JSON. Raises AlarmError: ``FIELD must be ALLOWED: got VALUE``."""
    try:
        return field.from_json(value)
    except SettingError as exc:
        raise AlarmError(f"{exc}: got {value!r}") from None


@dataclasses.dataclass(frozen=True)
class AlarmRule:
    """One alarm rule.

    Attributes:
        name: ALARM_NAME_RULE.
        roi: a region's name, or ``"frame"`` for the whole frame.
        stat: ``min``, ``max`` or ``mean``.
        direction: ``above`` or ``below``.
        threshold: in the frame's unit (degrees C, or counts).
        hysteresis: >= 0, same unit: how far back the value must come to clear.
        hold_s: seconds (frame time) the value must stay beyond the threshold to raise.
        webhook: the URL POSTed to on every transition ("" for none; set in server.conf
            only, see :class:`AlarmCommand`).
    """

    name: str
    roi: str
    stat: str
    direction: str
    threshold: float
    hysteresis: float = HYSTERESIS.default
    hold_s: float = HOLD.default
    webhook: str = ""

    @classmethod
    def from_json(cls, data: Mapping[str, Any], webhook: str = "") -> AlarmRule:
        """A rule from its JSON form: {"name", "roi", "stat", "above" or "below",
        "hysteresis" (default 1), "hold_s" (default 0)}: :data:`NAME` and :data:`FIELDS`
        (a command names ``stat``, which server.conf defaults to max).

        Raises:
            AlarmError: a field missing or not allowed (the message names it).
        """
        name, roi, stat = (_from_json(f, data.get(f.name)) for f in (NAME, ROI, STAT))
        given = [f for f in DIRECTIONS if f.name in data]
        if len(given) != 1:
            raise AlarmError("an alarm needs exactly one of above or below (the threshold)")
        direction = given[0]
        threshold = _from_json(direction, data[direction.name])
        hysteresis, hold_s = (_from_json(f, data.get(f.name, f.default))
                              for f in (HYSTERESIS, HOLD))
        return cls(name, roi, stat, direction.name, threshold, hysteresis, hold_s, webhook)

    def as_json(self) -> dict[str, Any]:
        """The JSON form (as accepted by from_json) plus ``webhook``: whether one is set
        (never the URL: the state goes to every viewer, and a URL may hold a secret)."""
        return {"name": self.name, "roi": self.roi, "stat": self.stat,
                self.direction: self.threshold, "hysteresis": self.hysteresis,
                "hold_s": self.hold_s, "webhook": bool(self.webhook)}

    def beyond(self, value: float) -> bool:
        """True if ``value`` is past the threshold (what raises, after hold_s)."""
        return value > self.threshold if self.direction == "above" else value < self.threshold

    def back(self, value: float) -> bool:
        """True if ``value`` is back by the hysteresis (what clears)."""
        if self.direction == "above":
            return value <= self.threshold - self.hysteresis
        return value >= self.threshold + self.hysteresis


@dataclasses.dataclass(frozen=True)
class Transition:
    """A rule changed state.

    Attributes:
        rule: the rule.
        state: the new state.
        time: the frame's capture time, Unix seconds.
        value: the value that crossed (raising: the frame's value when the hold ended).
        unit: ``"C"`` or ``"counts"`` (the frame's).
    """

    rule: AlarmRule
    state: AlarmState
    time: float
    value: float
    unit: str

    def as_json(self) -> dict[str, Any]:
        """The webhook's body and a /alarms.json ``recent`` entry."""
        return {"alarm": self.rule.name, "state": self.state.value, "time": self.time,
                "value": self.value, "unit": self.unit, "roi": self.rule.roi,
                "stat": self.rule.stat, self.rule.direction: self.rule.threshold,
                "hysteresis": self.rule.hysteresis, "hold_s": self.rule.hold_s}


class AlarmMachine:
    """The state of one rule, fed one value per frame. Pure; not thread-safe.

    Args:
        rule: the rule.

    Attributes:
        rule: the rule.
        state: AlarmState.OK at first.
        since: the time of the last transition (None before any).
        value: the value of the last transition (None before any).
        raised: how many times it went to ALARM.
        last: the newest value fed (None before any, or when the value was missing).
        last_time, unit: the time and unit of the newest frame fed (None, "C" before any).
    """

    def __init__(self, rule: AlarmRule):
        self.rule = rule
        self.state = AlarmState.OK
        self.since: float | None = None
        self.value: float | None = None
        self.raised = 0
        self.last: float | None = None
        self.last_time: float | None = None
        self.unit = "C"
        self._beyond_since: float | None = None  # OK and past the threshold since then

    def feed(self, value: float | None, now: float, unit: str = "C") -> Transition | None:
        """Take one frame's value.

        Args:
            value: the watched statistic, in the frame's unit; None when it is missing
                (the region lies outside the frame): the state stays and a hold starts
                over.
            now: the frame's time, seconds (Unix time of capture); a time earlier than
                the start of a hold (the clock was set back) starts the hold over.
            unit: the frame's unit, for the transition.

        Returns:
            The transition this value caused, or None.
        """
        self.last, self.last_time, self.unit = value, now, unit
        if value is None:
            self._beyond_since = None
            return None
        if self.state is AlarmState.ALARM:
            return self._enter(AlarmState.OK, now, value, unit) if self.rule.back(value) else None
        if not self.rule.beyond(value):
            self._beyond_since = None
            return None
        if self._beyond_since is None or now < self._beyond_since:
            self._beyond_since = now
        if now - self._beyond_since >= self.rule.hold_s:
            self.raised += 1
            return self._enter(AlarmState.ALARM, now, value, unit)
        return None

    def withdraw(self) -> Transition | None:
        """The rule is deleted or replaced: if it is in alarm, that alarm ends now.

        Returns:
            An OK transition at the newest frame's time with the newest value (the last
            transition's when the newest was missing), or None when the rule was ok or
            was never fed a frame.
        """
        if self.state is not AlarmState.ALARM or self.last_time is None:
            return None
        value = self.value if self.last is None else self.last
        assert value is not None  # in alarm: the value that raised it
        return self._enter(AlarmState.OK, self.last_time, value, self.unit)

    def _enter(self, state: AlarmState, now: float, value: float, unit: str) -> Transition:
        self.state, self.since, self.value = state, now, value
        self._beyond_since = None
        return Transition(self.rule, state, now, value, unit)

    def as_json(self) -> dict[str, Any]:
        """The rule's JSON form plus ``state``, ``since``, ``value`` and ``raised``."""
        return {**self.rule.as_json(), "state": self.state.value, "since": self.since,
                "value": self.value, "raised": self.raised}


# -- the shell

TransitionListener = Callable[[Transition], None]


class AlarmEvaluator:
    """Evaluates every rule on every raw source frame, in a thread of its own.

    Thread-safe: rules may change (commands, any thread) while :meth:`run` evaluates.

    Args:
        hub: frames are read from ``hub.raw``.
        measure: (seq, frame) -> the frame's measurement, the whole frame and the regions
            (``Meter.measure``: shared with the renderer and the other readers, so each
            frame is measured once).
        publish: called with the ``alarms`` state part (a list of :meth:`AlarmMachine.as_json`)
            after every transition and rule change (e.g. ``state.set_part``).
        rules: the initial rules.
        on_change: called (no arguments) after a rule was set or deleted by command, or
            followed a region's rename (the app saves the state file).
        clock: monotonic seconds, for the re-arm bound (injectable for tests).

    Re-arming: a rule set or deleted while it was changed less than ``max(hold_s,
    REARM_MIN_S)`` ago has its gated listeners (the webhook) hear at most one transition
    per that time; the others (recent, the recorder, MQTT) hear every one. Re-setting a
    rule in a loop then gives one POST per interval, not two per change. Muted
    transitions are counted (``muted``) and logged once per run of them.

    Raises:
        AlarmError: two initial rules with one name, or more than MAX_ALARMS.
    """

    def __init__(self, hub: Hub, measure: Measure, publish: Callable[[list[dict[str, Any]]], None],
                 rules: Sequence[AlarmRule] = (), on_change: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic):
        self._hub, self._measure, self._publish, self._on_change = hub, measure, publish, on_change
        self._clock = clock
        self._lock = threading.Lock()
        self._machines: dict[str, AlarmMachine] = {}
        self._recent: collections.deque[Transition] = collections.deque(maxlen=RECENT_TRANSITIONS)
        self._listeners: list[tuple[TransitionListener, bool]] = []
        # rule name -> [changed at, told the gated listeners at, muting now], clock's times
        self._rearm: collections.OrderedDict[str, list[Any]] = collections.OrderedDict()
        self.muted = 0
        for rule in rules:
            if rule.name in self._machines:
                raise AlarmError(f"an alarm called {rule.name!r} exists already")
            self._add(rule)
        self._publish_state()

    def _add(self, rule: AlarmRule) -> None:
        if rule.name not in self._machines and len(self._machines) >= MAX_ALARMS:
            raise AlarmError(f"at most {MAX_ALARMS} alarms: delete one first")
        self._machines[rule.name] = AlarmMachine(rule)

    def add_listener(self, listener: TransitionListener, gated: bool = False) -> None:
        """Call ``listener(transition)`` for every transition, in the evaluator's thread,
        after the state part was published; it must not block (queue slow work).
        ``gated``: a rule being changed re-arms it at most once per ``max(hold_s,
        REARM_MIN_S)`` (see the class docstring; the webhook)."""
        with self._lock:
            self._listeners.append((listener, gated))

    def rules(self) -> list[AlarmRule]:
        """The rules, in order of creation."""
        with self._lock:
            return [m.rule for m in self._machines.values()]

    def uses(self, roi: str) -> list[str]:
        """The names of the rules that watch region ``roi``."""
        with self._lock:
            return [m.rule.name for m in self._machines.values() if m.rule.roi == roi]

    def set_rule(self, rule: AlarmRule) -> None:
        """Add a rule, or replace the one of the same name (which starts again at ok; if
        it was in alarm, the listeners hear that alarm end).

        Raises:
            AlarmError: a new rule beyond MAX_ALARMS.
        """
        with self._lock:
            old = self._machines.get(rule.name)
            self._add(rule)
            self._note_change(rule.name)
        self._changed()
        self._withdrawn(old)

    def delete_rule(self, name: str) -> None:
        """Remove a rule (if it was in alarm, the listeners hear that alarm end).

        Raises:
            AlarmError: there is no rule of that name.
        """
        with self._lock:
            old = self._machines.pop(name, None)
            if old is None:
                names = ", ".join(self._machines) or "none"
                raise AlarmError(f"no alarm {name!r}; alarms: {names}")
            self._note_change(name)
        self._changed()
        self._withdrawn(old)

    def _note_change(self, name: str) -> None:
        """Remember when rule ``name`` changed (under the lock)."""
        entry = self._rearm.setdefault(name, [None, None, False])
        entry[0] = self._clock()
        self._rearm.move_to_end(name)
        while len(self._rearm) > REARM_NAMES:
            self._rearm.popitem(last=False)

    def _gate(self, transition: Transition) -> bool:
        """Whether the gated listeners hear ``transition`` (under the lock)."""
        entry = self._rearm.get(transition.rule.name)
        if entry is None:
            return True
        now, interval = self._clock(), max(transition.rule.hold_s, REARM_MIN_S)
        changed_at, told_at, muting = entry
        if now - changed_at < interval and told_at is not None and now - told_at < interval:
            self.muted += 1
            if not muting:
                log.warning("alarm %s changed again within %g s: its webhook hears at most "
                            "one transition per %g s (muted so far: %d)",
                            transition.rule.name, interval, interval, self.muted)
            entry[2] = True
            return False
        if muting:
            log.info("alarm %s: its webhook hears transitions again (muted so far: %d)",
                     transition.rule.name, self.muted)
        entry[1], entry[2] = now, False
        return True

    def _withdrawn(self, machine: AlarmMachine | None) -> None:
        """Tell the listeners that a removed rule's alarm ended (a recording event must not
        outlive its rule; a webhook hears the end)."""
        transition = machine.withdraw() if machine is not None else None
        if transition is not None:
            with self._lock:
                self._recent.append(transition)
            self._tell([transition])

    def rename_roi(self, old: str, new: str) -> None:
        """Make the rules that watch region ``old`` watch ``new`` (a rename), keeping
        their state."""
        with self._lock:
            machines = [m for m in self._machines.values() if m.rule.roi == old]
            for machine in machines:
                machine.rule = dataclasses.replace(machine.rule, roi=new)
        if machines:
            self._changed()

    def _changed(self) -> None:
        self._publish_state()
        self._on_change()

    def _publish_state(self) -> None:
        with self._lock:
            part = [m.as_json() for m in self._machines.values()]
        self._publish(part)

    def evaluate(self, seq: int, frame: RawFrame) -> list[Transition]:
        """Feed one frame to every rule; publish and tell the listeners of each transition.

        Returns:
            The transitions this frame caused, in the rules' order.
        """
        with self._lock:
            machines = list(self._machines.values())
        if not machines:
            return []
        measurement = self._measure(seq, frame)
        transitions = []
        with self._lock:
            for machine in machines:
                stats = measurement.region(machine.rule.roi)
                value = None if stats is None else getattr(stats, machine.rule.stat)
                if self._machines.get(machine.rule.name) is machine:  # not replaced meanwhile
                    transition = machine.feed(value, frame.timestamp, measurement.unit)
                    if transition is not None:
                        transitions.append(transition)
                        self._recent.append(transition)
        if transitions:
            self._publish_state()
            self._tell(transitions)
        return transitions

    def _tell(self, transitions: list[Transition]) -> None:
        """Log each transition and call every listener with it (outside the lock; the
        gated ones as the re-arm bound lets them)."""
        with self._lock:
            listeners = list(self._listeners)
            told = [self._gate(t) for t in transitions]
        for transition, gate_open in zip(transitions, told, strict=True):
            log.info("alarm %s: %s (%s %s = %g %s, threshold %s %g)", transition.rule.name,
                     transition.state.value, transition.rule.roi, transition.rule.stat,
                     transition.value, transition.unit, transition.rule.direction,
                     transition.rule.threshold)
            for listener, gated in listeners:
                if gated and not gate_open:
                    continue
                try:
                    listener(transition)
                except Exception:  # a bug in one listener: the others and the alarms go on
                    log.exception("alarm transition listener %r failed", listener)

    def run(self, stop: threading.Event) -> None:
        """Evaluate every new raw frame until ``stop`` is set."""
        for seq, frame in self._hub.raw_frames(stop, POLL_S):
            self.evaluate(seq, frame)

    def report(self) -> dict[str, Any]:
        """/alarms.json: every rule with its state and newest value, and the recent
        transitions (oldest first)."""
        with self._lock:
            return {"alarms": [{**m.as_json(), "current": m.last}
                               for m in self._machines.values()],
                    "recent": [t.as_json() for t in self._recent]}


class AlarmCommand:
    """The ``alarm`` command (a CommandHandler): ``op`` ``set`` (add or replace a rule)
    or ``delete``.

    ``{"cmd": "alarm", "op": "set", "name": "hot", "roi": "panel", "stat": "max",
    "above": 60, "hysteresis": 2, "hold_s": 5}``; ``{"cmd": "alarm", "op": "delete",
    "name": "hot"}``. A command cannot name a webhook URL (it could make the daemon post
    to any address): a rule set by command posts to the webhook server.conf gives the
    alarm of that name (``[Alarm hot] Webhook``), if any.

    Args:
        alarms: the evaluator whose rules change.
        regions: () -> the names of the regions now (a rule must watch one, or "frame").
        webhooks: alarm name -> webhook URL, from server.conf.
    """

    def __init__(self, alarms: AlarmEvaluator, regions: Callable[[], Sequence[str]],
                 webhooks: Mapping[str, str]):
        self._alarms, self._regions, self._webhooks = alarms, regions, dict(webhooks)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        """{"op": "set", "rule": AlarmRule} or {"op": "delete", "name": str}.

        Raises:
            CommandError: a bad op or field, or a webhook given.
        """
        op = data.get("op")
        if op == "delete":
            if not isinstance(data.get("name"), str):
                raise CommandError("alarm delete needs the alarm's name")
            return {"op": op, "name": data["name"]}
        if op != "set":
            raise CommandError(f"op must be one of: set, delete: got {op!r}")
        if "webhook" in data:
            raise CommandError("webhook URLs are set in server.conf only ([Alarm NAME] "
                               "Webhook): a command could make the daemon post anywhere")
        try:
            rule = AlarmRule.from_json(data)
        except AlarmError as exc:
            raise CommandError(str(exc)) from None
        if rule.roi != FRAME and rule.roi not in self._regions():
            names = ", ".join(self._regions()) or "none"
            raise CommandError(f"no region {rule.roi!r} (roi must be {FRAME!r} or a region; "
                               f"regions: {names})")
        webhook = self._webhooks.get(rule.name, "")
        return {"op": op, "rule": dataclasses.replace(rule, webhook=webhook)}

    def run(self, command: dict[str, Any]) -> None:
        """Set or delete the rule.

        Raises:
            CommandError: no such alarm, or MAX_ALARMS exist already.
        """
        sender = command.get(SENDER, "unknown")
        try:
            if command["op"] == "delete":
                self._alarms.delete_rule(command["name"])
                log.info("alarm %s deleted by %s", command["name"], sender)
                return
            rule = command["rule"]
            self._alarms.set_rule(rule)
        except AlarmError as exc:
            raise CommandError(str(exc)) from None
        log.info("alarm %s set by %s: %s %s %s %g (hysteresis %g, hold %g s)", rule.name,
                 sender, rule.roi, rule.stat, rule.direction, rule.threshold, rule.hysteresis,
                 rule.hold_s)
