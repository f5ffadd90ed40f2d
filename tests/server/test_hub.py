"""server.hub: newest-frame slots that never block the publisher."""

import threading

from server.hub import FrameSlot, Hub, RateMeter


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
    """Viewers are counted per kind; listeners run once per encoded frame."""
    hub = Hub()
    assert not hub.has_viewers()
    assert hub.viewer_joined("stream") == 1 and hub.viewer_joined("legacy") == 2
    assert hub.viewers() == {"stream": 1, "legacy": 1}
    calls = []
    hub.add_listener(lambda: calls.append(hub.encoded.latest()[0]))

    class Frame:
        seq = 7

    hub.publish_encoded(Frame())
    assert calls == [7] and hub.published == 1
    hub.viewer_left("stream")
    hub.viewer_left("legacy")
    assert not hub.has_viewers()
