"""thermal_streamer.measure.alarms: the rule state machine value by value, the evaluator on a
simulated scene (with a real webhook endpoint), its thread, and the alarm command."""

import threading

import numpy as np
import pytest

from lepton.radiometry import PixelUnit
from tests.webhook_sink import WebhookSink
from thermal_streamer.control.commands import SENDER, CommandError
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.core.hub import Hub
from thermal_streamer.measure.alarms import (
    REARM_MIN_S,
    AlarmCommand,
    AlarmError,
    AlarmEvaluator,
    AlarmMachine,
    AlarmRule,
    AlarmState,
)
from thermal_streamer.measure.meter import Meter, RoiCommand, measure_frame
from thermal_streamer.measure.regions import Region
from thermal_streamer.outputs.webhook import WebhookSender

FRAME_S = 1 / 8.7  # the Lepton's unique frame period


def rule(**fields) -> AlarmRule:
    data = {"name": "hot", "roi": "panel", "stat": "max", "above": 60, **fields}
    return AlarmRule.from_json(data)


def feed(machine, values, start=0.0, step=1.0):
    """Feed values at start, start+step, ...; returns [(index, state, time, value)]."""
    changes = []
    for i, value in enumerate(values):
        transition = machine.feed(value, start + i * step)
        if transition is not None:
            changes.append((i, transition.state.value, transition.time, transition.value))
    return changes


def test_above_with_hold_and_hysteresis_value_by_value():
    """Raises after the value stayed above for hold_s (a dip restarts the hold); stays in
    alarm inside the hysteresis band; clears at threshold - hysteresis."""
    machine = AlarmMachine(rule(hysteresis=2, hold_s=2))
    values = [50, 61, 62, 59, 61, 61, 61, 60, 58.5, 58.1, 58, 61]
    assert feed(machine, values) == [(6, "alarm", 6.0, 61), (10, "ok", 10.0, 58)]
    assert (machine.state, machine.since, machine.value, machine.raised) == (
        AlarmState.OK, 10.0, 58, 1)


def test_equal_to_the_threshold_is_not_beyond_and_zero_hold_raises_at_once():
    """above: exactly the threshold does not raise; hold 0 raises on the first value past it;
    hysteresis 0 clears at the threshold itself."""
    machine = AlarmMachine(rule(hysteresis=0))
    assert feed(machine, [60, 60.01, 60.5, 60]) == [(1, "alarm", 1.0, 60.01), (3, "ok", 3.0, 60)]


def test_below_mirrors_above():
    """below: raises under the threshold, clears at threshold + hysteresis."""
    machine = AlarmMachine(AlarmRule.from_json({"name": "cold", "roi": "frame", "stat": "min",
                                                "below": 5, "hysteresis": 1}))
    assert feed(machine, [6, 4.9, 5.5, 5.99, 6, 4]) == [
        (1, "alarm", 1.0, 4.9), (4, "ok", 4.0, 6), (5, "alarm", 5.0, 4)]


def test_a_missing_value_or_a_clock_set_back_restarts_the_hold():
    """None (region outside the frame) keeps the state and restarts a hold; so does a time
    before the hold began."""
    machine = AlarmMachine(rule(hold_s=1))
    assert machine.feed(61, 10.0) is None
    assert machine.feed(None, 10.5) is None
    assert machine.feed(61, 11.0) is None  # hold starts again here
    assert machine.feed(61, 5.0) is None  # clock set back: starts again
    assert machine.feed(61, 5.9) is None
    transition = machine.feed(61, 6.0)
    assert transition is not None and (transition.state, transition.time) == (AlarmState.ALARM, 6.0)
    assert machine.feed(None, 7.0) is None and machine.state is AlarmState.ALARM


def test_withdrawing_a_rule_in_alarm_ends_it():
    """A rule deleted or replaced while in alarm ends with ok at the newest frame's time and
    value; one that is ok (or never fed) ends with nothing."""
    machine = AlarmMachine(rule())
    assert machine.withdraw() is None
    machine.feed(61, 1.0, "C")
    machine.feed(None, 2.0, "C")  # the region left the frame: the raising value stands
    transition = machine.withdraw()
    assert (transition.state, transition.time, transition.value, transition.unit) == (
        AlarmState.OK, 2.0, 61, "C")
    assert machine.state is AlarmState.OK and machine.withdraw() is None


@pytest.mark.parametrize("data, message", [
    ({"roi": "a", "stat": "max", "above": 1}, "name must be 1 to 32 letters A-Z a-z, digits, _ . "
                                              "or -: got None"),
    ({"name": "x", "stat": "max", "above": 1}, "roi must be a region's name or 'frame': got None"),
    ({"name": "x", "roi": "a", "stat": "median", "above": 1},
     "stat must be one of: min, max, mean: got 'median'"),
    ({"name": "x", "roi": "a", "stat": "max"},
     "an alarm needs exactly one of above or below (the threshold)"),
    ({"name": "x", "roi": "a", "stat": "max", "above": 1, "below": 0},
     "an alarm needs exactly one of above or below (the threshold)"),
    ({"name": "x", "roi": "a", "stat": "max", "above": "60"},
     "above must be a number from -1e+06 to 1e+06: got '60'"),
    ({"name": "x", "roi": "a", "stat": "max", "above": 1, "hysteresis": -1},
     "hysteresis must be a number from 0 to 1e+06: got -1"),
    ({"name": "x", "roi": "a", "stat": "max", "above": 1, "hold_s": True},
     "hold_s must be a number from 0 to 86400: got True"),
])
def test_bad_rules_say_what_is_allowed(data, message):
    """Each bad rule raises AlarmError with the exact text."""
    with pytest.raises(AlarmError) as error:
        AlarmRule.from_json(data)
    assert str(error.value) == message


class Scene:
    """A room at 22 C (centikelvin, 120x160) with a 70 C object (10x10 pixels) that moves
    right by ``speed`` pixels per frame along rows 40..49, from column ``start`` until it
    reaches column ``stop_at``."""

    def __init__(self, start=0, speed=4, stop_at=90):
        self.start, self.speed, self.stop_at = start, speed, stop_at

    def frame(self, i: int, object_c: float = 70.0) -> RawFrame:
        pixels = np.full((120, 160), round((22 + 273.15) * 100), np.uint16)
        x = min(self.start + i * self.speed, self.stop_at)
        pixels[40:50, max(x, 0):max(x + 10, 0)] = round((object_c + 273.15) * 100)
        return RawFrame(pixels, PixelUnit.CENTIKELVIN, 1_800_000_000 + i * FRAME_S)


def test_hot_object_entering_a_region_raises_clears_and_posts_once_per_transition():
    """A hot object walks into a box: the alarm rises on the frame that completes the hold
    (within one frame of crossing + hold), stays while the object cools inside the
    hysteresis band, clears when it is cold enough, and the webhook (a real HTTP server)
    gets one POST per transition, in order."""
    scene = Scene(start=0, speed=4)
    box = Region.make_box("panel", 80, 30, 120, 60)  # the object's right edge reaches 80 at i=18
    meter = Meter([box], lambda part: None)
    states = []
    hold_s = 0.5
    evaluator = AlarmEvaluator(Hub(), meter.measure, states.append,
                               [rule(hysteresis=5, hold_s=hold_s)])
    with WebhookSink() as sink:
        sender = WebhookSender(timeout_s=2, retries=0)
        evaluator.add_listener(lambda t: sender.post(sink.url, t.as_json()))
        thread = threading.Thread(target=sender.run, name="webhook")
        thread.start()
        try:
            changes = []
            for i in range(40):
                frame = scene.frame(i, object_c=70 if i < 30 else (56 if i < 35 else 54.9))
                for t in evaluator.evaluate(i + 1, frame):
                    changes.append((i, t.state.value, t.value))
            first_inside = 18
            raised_at = next(i for i, state, _ in changes if state == "alarm")
            assert hold_s <= (raised_at - first_inside) * FRAME_S < hold_s + FRAME_S
            assert changes == [(raised_at, "alarm", 70.0), (35, "ok", 54.9)]
            posts = sink.wait_for(2)
        finally:
            sender.stop()
            thread.join(5)
    assert [(p[0], p[1]) for p in posts] == [("/hook", "application/json")] * 2
    assert [(p[2]["alarm"], p[2]["state"], p[2]["value"], p[2]["unit"]) for p in posts] == [
        ("hot", "alarm", 70.0, "C"), ("hot", "ok", 54.9, "C")]
    assert posts[0][2]["time"] == pytest.approx(1_800_000_000 + raised_at * FRAME_S)
    assert len(sink.wait_for(3, timeout_s=0.2)) == 2  # once per transition, no more
    assert states[-1][0]["state"] == "ok" and states[-1][0]["raised"] == 1
    report = evaluator.report()
    assert [(t["state"], t["value"]) for t in report["recent"]] == [("alarm", 70.0), ("ok", 54.9)]
    assert report["alarms"][0]["current"] == 54.9


def test_frame_rules_and_the_thread_evaluate_while_nobody_watches():
    """The evaluator's thread takes frames from hub.raw (no viewer joined) and a rule on the
    whole frame needs no region."""
    hub = Hub()
    published = []
    changed = threading.Event()

    def publish(part):
        published.append(part)
        changed.set()

    evaluator = AlarmEvaluator(hub, measure_frame, publish, [AlarmRule.from_json(
        {"name": "any", "roi": "frame", "stat": "max", "above": 60})])
    stop = threading.Event()
    thread = threading.Thread(target=evaluator.run, args=(stop,), name="alarms")
    thread.start()
    try:
        changed.clear()
        hub.publish_source_frame(Scene(start=0).frame(0))
        assert changed.wait(5) and published[-1][0]["state"] == "alarm"
        assert not hub.has_viewers()
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_a_listener_that_fails_does_not_stop_the_others(caplog):
    """A listener raising is logged; the next one still hears the transition."""
    evaluator = AlarmEvaluator(Hub(), measure_frame, lambda part: None, [
        AlarmRule.from_json({"name": "any", "roi": "frame", "stat": "max", "above": 60})])
    heard = []
    evaluator.add_listener(lambda t: 1 / 0)
    evaluator.add_listener(heard.append)
    evaluator.evaluate(1, Scene().frame(0))
    assert [t.state for t in heard] == [AlarmState.ALARM]
    assert "alarm transition listener" in caplog.text


def test_deleting_or_replacing_a_rule_in_alarm_tells_the_listeners_it_ended():
    """The recorder's event and the webhook must not outlive a rule: deleting or replacing
    one in alarm gives the listeners its ok transition (recent has it too)."""
    evaluator = AlarmEvaluator(Hub(), measure_frame, lambda part: None, [
        AlarmRule.from_json({"name": "any", "roi": "frame", "stat": "max", "above": 60})])
    heard = []
    evaluator.add_listener(heard.append)
    evaluator.evaluate(1, Scene().frame(0))
    evaluator.set_rule(AlarmRule.from_json({"name": "any", "roi": "frame", "stat": "max",
                                            "above": 80}))
    evaluator.evaluate(2, Scene().frame(0))  # 70 C: not above 80
    assert [(t.state.value, t.value) for t in heard] == [("alarm", 70.0), ("ok", 70.0)]
    evaluator.set_rule(AlarmRule.from_json({"name": "any", "roi": "frame", "stat": "max",
                                            "above": 60}))
    evaluator.evaluate(3, Scene().frame(0))
    evaluator.delete_rule("any")
    assert [t.state.value for t in heard] == ["alarm", "ok", "alarm", "ok"]
    assert [t["state"] for t in evaluator.report()["recent"]] == ["alarm", "ok", "alarm", "ok"]


def test_alarm_command_sets_and_deletes_rules():
    """set adds or replaces (state starts again), with the webhook server.conf names for that
    alarm; a webhook in the command, an unknown region or alarm is refused."""
    changes, parts = [], []
    evaluator = AlarmEvaluator(Hub(), measure_frame, parts.append,
                               on_change=lambda: changes.append(1))
    command = AlarmCommand(evaluator, lambda: ["panel"], {"hot": "http://127.0.0.1:1/h"})
    command.run(command.validate({"op": "set", "name": "hot", "roi": "panel", "stat": "max",
                                  "above": 60, "hold_s": 2}))
    command.run(command.validate({"op": "set", "name": "cold", "roi": "FRAME", "stat": "min",
                                  "below": 5}))
    assert [(r.name, r.roi, r.webhook) for r in evaluator.rules()] == [
        ("hot", "panel", "http://127.0.0.1:1/h"), ("cold", "frame", "")]
    assert parts[-1][0] == {"name": "hot", "roi": "panel", "stat": "max", "above": 60.0,
                            "hysteresis": 1.0, "hold_s": 2.0, "webhook": True, "state": "ok",
                            "since": None, "value": None, "raised": 0}
    command.run(command.validate({"op": "delete", "name": "cold"}))
    assert [r.name for r in evaluator.rules()] == ["hot"] and len(changes) == 3
    for data, message in [
        ({"op": "set", "name": "x", "roi": "panel", "stat": "max", "above": 1,
          "webhook": "http://evil/"}, "webhook URLs are set in server.conf only ([Alarm NAME] "
                                      "Webhook): a command could make the daemon post anywhere"),
        ({"op": "set", "name": "x", "roi": "nope", "stat": "max", "above": 1},
         "no region 'nope' (roi must be 'frame' or a region; regions: panel)"),
        ({"op": "toggle"}, "op must be one of: set, delete: got 'toggle'"),
        ({"op": "delete"}, "alarm delete needs the alarm's name"),
    ]:
        with pytest.raises(CommandError) as error:
            command.validate(data)
        assert str(error.value) == message
    with pytest.raises(CommandError, match=r"^no alarm 'cold'; alarms: hot$"):
        command.run({"op": "delete", "name": "cold"})


def test_rename_keeps_the_alarm_state():
    """A renamed region's alarms follow the new name without going back to ok."""
    meter = Meter([Region.make_box("panel", 0, 40, 20, 50)], lambda part: None)
    evaluator = AlarmEvaluator(Hub(), meter.measure, lambda part: None, [rule()])
    assert [t.state for t in evaluator.evaluate(1, Scene().frame(0))] == [AlarmState.ALARM]
    meter.change(lambda regions: (regions[0].renamed("board"),))
    evaluator.rename_roi("panel", "board")
    assert evaluator.uses("board") == ["hot"] and evaluator.uses("panel") == []
    assert evaluator.evaluate(2, Scene().frame(0)) == []  # still in alarm, measured as board
    assert evaluator.report()["alarms"][0]["state"] == "alarm"
    assert evaluator.report()["alarms"][0]["current"] == 70.0


class StepClock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_re_setting_a_rule_re_arms_its_webhook_at_most_once_per_interval(caplog):
    """175 re-sets of a rule in alarm in 10 s (of the injected clock): the gated listener
    (the webhook) hears the first alarm only, the ungated one every transition; muted
    ones are counted and logged once; after the interval the next transition is heard."""
    clock = StepClock()
    evaluator = AlarmEvaluator(Hub(), measure_frame, lambda part: None, clock=clock)
    command = AlarmCommand(evaluator, lambda: [], {})
    gated, every = [], []
    evaluator.add_listener(gated.append, gated=True)
    evaluator.add_listener(every.append)
    hot = {"op": "set", "name": "any", "roi": "frame", "stat": "max", "above": 60}
    caplog.set_level("WARNING", "thermal_streamer.measure.alarms")
    for i in range(175):
        command.run({**command.validate(hot), SENDER: "192.0.2.7"})
        evaluator.evaluate(i, Scene().frame(0))  # 70 C: raises at once (hold 0)
        clock.now += 10 / 175
    assert REARM_MIN_S == 10.0
    assert [t.state.value for t in gated] == ["alarm"]
    assert len(every) == 175 + 174 and evaluator.muted == 2 * 174
    assert [r.getMessage() for r in caplog.records] == [
        "alarm any changed again within 10 s: its webhook hears at most one transition per "
        "10 s (muted so far: 1)"]
    clock.now += 0.1
    command.run(command.validate(hot))
    assert [t.state.value for t in gated] == ["alarm", "ok"]


def test_alarm_and_roi_commands_log_who_changed_what(caplog):
    """alarm set/delete and roi add/rename/delete say who sent them and what changed."""
    caplog.set_level("INFO")
    evaluator = AlarmEvaluator(Hub(), measure_frame, lambda part: None)
    alarm = AlarmCommand(evaluator, lambda: ["panel"], {})
    meter = Meter([Region.make_spot("panel", 40, 30)], lambda part: None)
    roi = RoiCommand(meter, evaluator.uses, lambda old, new: None)
    alarm.run({**alarm.validate({"op": "set", "name": "hot", "roi": "panel", "stat": "max",
                                 "above": 60, "hold_s": 5}), SENDER: "192.0.2.7"})
    alarm.run({**alarm.validate({"op": "delete", "name": "hot"}), SENDER: "mqtt"})
    roi.run({**roi.validate({"op": "add", "name": "door", "spot": [1, 2]}),
             SENDER: "192.0.2.8"})
    roi.run({**roi.validate({"op": "rename", "name": "door", "to": "gate"}), SENDER: "mqtt"})
    roi.run({**roi.validate({"op": "delete", "name": "gate"}), SENDER: "mqtt"})
    messages = [r.getMessage() for r in caplog.records
                if r.name.startswith("thermal_streamer.measure")]
    assert messages == [
        "alarm hot set by 192.0.2.7: panel max above 60 (hysteresis 1, hold 5 s)",
        "alarm hot deleted by mqtt",
        'region door added by 192.0.2.8: {"name":"door","spot":[1,2],"size":1}',
        "region door renamed by mqtt to gate",
        "region gate deleted by mqtt"]
