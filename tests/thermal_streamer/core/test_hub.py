"""thermal_streamer.core.hub: newest-frame slots that never block the publisher."""

import threading

from thermal_streamer.core.hub import FrameSlot, Hub, RateMeter


def test_slot_keeps_only_newest():
    """A slow reader skips values: it gets the newest, with its seq."""
    slot = FrameSlot()
    for value in "abc":
        slot.publish(value)
    assert slot.wait_newer(0, 1.0) == (3, "c")
    assert slot.latest() == (3, "c")


def test_wait_newer_times_out_and_wakes():
    """wait_newer returns None on timeout and wakes promptly on publish from another thread."""
    slot = FrameSlot()
    assert slot.wait_newer(0, 0.01) is None
    publisher = threading.Timer(0.05, slot.publish, args=("x",))
    publisher.start()
    assert slot.wait_newer(0, 5.0) == (1, "x")
    publisher.join()


def test_close_wakes_waiters():
    """close() wakes every waiter and later waits return None at once."""
    slot = FrameSlot()
    results = []
    waiter = threading.Thread(target=lambda: results.append(slot.wait_newer(0, 30.0)))
    waiter.start()
    slot.close()
    waiter.join(5.0)
    assert not waiter.is_alive() and results == [None]
    assert slot.wait_newer(0, 30.0) is None


def test_rate_meter_with_injected_clock():
    """RateMeter reports events per second from the event times."""
    now = [0.0]
    meter = RateMeter(lambda: now[0])
    for _ in range(20):
        meter.tick()
        now[0] += 0.125
    assert meter.rate == 8.0 and meter.count == 20
    assert meter.age() == 0.125


def test_hub_counts_viewers_and_calls_listeners():
    """Viewers are counted per protocol, totals kept after they leave; listeners run per frame."""
    counts = []
    hub = Hub(on_viewer_count=counts.append)
    assert not hub.has_viewers()
    stream, legacy = hub.join("stream", "a:1"), hub.join("legacy", "b:2")
    assert hub.viewer_counts() == {"stream": 1, "legacy": 1} and counts == [1, 2]
    calls = []
    hub.add_listener(lambda: calls.append(hub.encoded.latest()[0]))

    class Frame:
        seq = 7

    hub.publish_encoded(Frame())
    assert calls == [7] and hub.published == 1
    stream.count_sent(100)
    stream.frames_skipped += 2
    hub.leave(stream)
    legacy.count_sent(50)
    assert hub.totals() == {"stream": {"frames_sent": 1, "frames_skipped": 2, "bytes_sent": 100},
                            "legacy": {"frames_sent": 1, "frames_skipped": 0, "bytes_sent": 50}}
    hub.leave(legacy)
    assert not hub.has_viewers() and counts == [1, 2, 1, 0]


def test_concurrent_joins_and_leaves_end_with_the_final_count():
    """on_viewer_count calls are serialized: the last one reported is the real count."""
    counts = []
    hub = Hub(on_viewer_count=counts.append)

    def churn() -> None:
        for _ in range(300):
            hub.leave(hub.join("stream", "a:1"))
        hub.join("mjpeg", "b:2")

    threads = [threading.Thread(target=churn, name=f"churn-{n}") for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(t.is_alive() for t in threads)
    assert counts[-1] == len(hub.viewers()) == 4
