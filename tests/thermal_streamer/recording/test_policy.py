"""thermal_streamer.recording.policy: names, triggers, motion, pre-roll, disk budget, value by
value."""

import numpy as np
import pytest

from lepton.radiometry import PixelUnit
from thermal_streamer.recording.policy import (
    MB,
    DiskPlan,
    MotionDetector,
    PreRoll,
    RecordMode,
    SegmentName,
    Trigger,
    TriggerMachine,
    plan_disk,
)


def test_segment_name_round_trips_and_sorts_in_time_order():
    """A name holds the UTC start to the millisecond, the trigger and the format."""
    name = SegmentName.at(1714564800.1239, Trigger.EVENT, "cptv")
    assert name.name == "20240501-120000.123-event.cptv"
    assert SegmentName.parse(name.name) == SegmentName(1714564800.123, Trigger.EVENT, "cptv")
    assert SegmentName.matches(name.name)
    assert SegmentName.at(1714564801.0, Trigger.ALWAYS, "hdf5").name == (
        "20240501-120001.000-always.h5")
    assert sorted([SegmentName.at(t, Trigger.MANUAL, "cptv").name for t in (2e9, 1e9)]) == [
        SegmentName.at(1e9, Trigger.MANUAL, "cptv").name,
        SegmentName.at(2e9, Trigger.MANUAL, "cptv").name]


@pytest.mark.parametrize("name", ["../etc/passwd", "20240501-120000.123-event.cptv.jsonl",
                                  "20240501-120000.123-other.cptv", "x20240501-120000.123-event.h5",
                                  "20240501-120000-event.h5", ""])
def test_other_names_are_not_segments(name):
    """Only the recorder's own names parse or match (what /recordings/<name> may serve)."""
    assert SegmentName.parse(name) is None and not SegmentName.matches(name)


def test_always_records_until_paused():
    """always: every frame, record stop pauses and record start resumes."""
    machine = TriggerMachine(RecordMode.ALWAYS, post_s=10)
    assert machine.update(0.0, event=False) is Trigger.ALWAYS
    machine.command(start=False)
    assert machine.update(1.0, event=True) is None
    machine.command(start=True)
    assert machine.update(2.0, event=False) is Trigger.ALWAYS


def test_manual_records_between_start_and_stop():
    """manual: only between record start and record stop; events do nothing."""
    machine = TriggerMachine(RecordMode.MANUAL, post_s=10)
    assert machine.update(0.0, event=True) is None
    machine.command(start=True)
    assert machine.update(1.0, event=False) is Trigger.MANUAL
    machine.command(start=False)
    assert machine.update(2.0, event=False) is None


def test_event_records_post_seconds_after_the_last_event():
    """event: from the event until post_s after the last one (frame time, inclusive)."""
    machine = TriggerMachine(RecordMode.EVENT, post_s=2.0)
    assert machine.update(0.0, event=False) is None
    assert machine.update(1.0, event=True) is Trigger.EVENT
    assert machine.update(2.5, event=True) is Trigger.EVENT
    assert machine.update(4.5, event=False) is Trigger.EVENT
    assert machine.update(4.6, event=False) is None
    machine.command(start=True)
    assert machine.update(10.0, event=False) is Trigger.MANUAL


def test_off_never_records():
    """off: nothing, whatever happens."""
    machine = TriggerMachine(RecordMode.OFF, post_s=2.0)
    machine.command(start=True)
    assert machine.update(0.0, event=True) is None


def test_motion_is_the_mean_absolute_difference_in_degrees():
    """Centikelvin differences are divided by 100; a first frame or a new shape is no motion."""
    detector = MotionDetector(threshold=0.5)
    still = np.full((4, 4), 30000, np.uint16)
    assert not detector.moved(still, PixelUnit.CENTIKELVIN)
    warmer = still.copy()
    warmer[:2] += 100  # half the pixels 1 K warmer: mean difference 0.5 K, not over 0.5
    assert not detector.moved(warmer, PixelUnit.CENTIKELVIN)
    assert detector.last_difference == 0.5
    back = still.copy()
    back[0, 0] -= 32  # back, and one pixel 0.32 K colder: (8 x 100 + 32) / 16 = 52 centikelvin
    assert detector.moved(back, PixelUnit.CENTIKELVIN)
    assert detector.last_difference == 0.52
    assert not detector.moved(np.zeros((2, 2), np.uint16), PixelUnit.COUNTS)


def test_motion_in_counts_and_below_zero_differences():
    """Counts are compared as they are; a cooler frame counts as much as a warmer one."""
    detector = MotionDetector(threshold=3)
    detector.moved(np.full((2, 2), 100, np.uint16), PixelUnit.COUNTS)
    assert detector.moved(np.full((2, 2), 96, np.uint16), PixelUnit.COUNTS)
    assert detector.last_difference == 4.0


def test_preroll_keeps_the_newest_seconds():
    """Items older than ``seconds`` before the newest are forgotten; drain empties it."""
    preroll: PreRoll[int] = PreRoll(1.0)
    for i in range(10):
        preroll.push(i * 0.25, i)
    assert preroll.drain() == [5, 6, 7, 8, 9]  # 1.25 .. 2.25 s
    assert len(preroll) == 0 and preroll.drain() == []
    none: PreRoll[int] = PreRoll(0)
    none.push(0.0, 1)
    assert none.drain() == []


def test_disk_plan_within_limits_deletes_nothing():
    """Under both limits nothing is deleted."""
    assert plan_disk([("a", MB), ("b", MB)], free_bytes=500 * MB, max_disk_mb=10,
                     min_free_mb=100) == DiskPlan()


def test_disk_plan_deletes_oldest_first_for_max_disk():
    """Over Max_Disk_MB (with what the next write adds) the oldest go first, the kept one never."""
    recordings = [("a", 4 * MB), ("b", 4 * MB), ("c", 4 * MB)]
    assert plan_disk(recordings, 500 * MB, max_disk_mb=10, min_free_mb=0) == DiskPlan(("a",))
    assert plan_disk(recordings, 500 * MB, max_disk_mb=10, min_free_mb=0,
                     reserve_bytes=3 * MB) == DiskPlan(("a", "b"))
    assert plan_disk(recordings, 500 * MB, max_disk_mb=10, min_free_mb=0, keep=("a",),
                     reserve_bytes=3 * MB) == DiskPlan(("b", "c"))


def test_disk_plan_deletes_for_min_free():
    """Below Min_Free_MB deletions add their size to the free space."""
    assert plan_disk([("a", 30 * MB), ("b", 30 * MB)], 80 * MB, max_disk_mb=0,
                     min_free_mb=100) == DiskPlan(("a",))


def test_disk_plan_full_says_why():
    """When deleting everything deletable is not enough, the plan says stop, and why."""
    assert plan_disk([("a", MB), ("b", 2 * MB)], 1 * MB, 0, min_free_mb=10, keep=("b",)) == (
        DiskPlan(("a",), True, "2.0 MB would be left free on the disk, below Min_Free_MB = 10, "
                               "with nothing left to delete"))
    full = DiskPlan((), True, "the recordings need 12.0 MB, over Max_Disk_MB = 10, with "
                              "nothing left to delete")
    assert plan_disk([("b", 12 * MB)], 500 * MB, 10, min_free_mb=0, keep=("b",)) == full
