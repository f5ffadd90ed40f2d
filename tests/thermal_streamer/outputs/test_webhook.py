"""thermal_streamer.outputs.webhook: POSTs to a real local endpoint, retries with back-off,
endpoints that fail, refuse or hang, and a stop that never waits for them."""

import contextlib
import threading
import time

import pytest

from tests.conftest import wait_until
from tests.webhook_sink import WebhookSink, refused_url
from thermal_streamer.outputs.webhook import (
    MAX_ANSWER_BYTES,
    QUEUE_LIMIT,
    WebhookSender,
    check_url,
)


@contextlib.contextmanager
def running(sender: WebhookSender):
    thread = threading.Thread(target=sender.run, name="webhook")
    thread.start()
    try:
        yield thread
    finally:
        sender.stop()
        thread.join(5)
        assert not thread.is_alive()


class Waits:
    """The back-off waits asked for; returns at once (no sleeping), and ``done`` is set after
    ``expected`` of them."""

    def __init__(self, expected: int):
        self.seconds: list[float] = []
        self.expected = expected
        self.done = threading.Event()

    def __call__(self, event: threading.Event, seconds: float) -> None:
        self.seconds.append(seconds)
        if len(self.seconds) >= self.expected:
            self.done.set()


def test_posts_json_in_order():
    """Each body arrives as application/json, in the order posted; health says idle and ok."""
    with WebhookSink() as sink:
        sender = WebhookSender(timeout_s=2, retries=0)
        with running(sender):
            sender.post(sink.url, {"n": 1})
            sender.post(sink.url + "?k=v", {"n": 2, "text": "é"})
            posts = sink.wait_for(2)
            assert wait_until(lambda: sender.posted == 2, 5)
    assert posts == [("/hook", "application/json", {"n": 1}),
                     ("/hook?k=v", "application/json", {"n": 2, "text": "é"})]
    health = sender.health()
    assert (health.state, health.ok, dict(health.counters)) == (
        "idle", True, {"posted": 2, "failed": 0, "retried": 0, "dropped": 0, "cut": 0})


def test_server_error_is_retried_with_backoff_then_succeeds():
    """500 twice then 200: two retries, back-off 1 s then 2 s, one body delivered."""
    waits = Waits(2)
    with WebhookSink(statuses=(500, 500, 200)) as sink:
        sender = WebhookSender(timeout_s=2, retries=3, wait=waits)
        with running(sender):
            sender.post(sink.url, {"n": 1})
            assert len(sink.wait_for(3)) == 3
            assert wait_until(lambda: sender.posted == 1, 5)
    assert waits.seconds == [1.0, 2.0]
    assert (sender.retried, sender.failed, sender.health().ok) == (2, 0, True)


def test_client_error_is_given_up_at_once():
    """404: no retry, counted as failed, health failing with the answer as its error."""
    with WebhookSink(statuses=(404,)) as sink:
        sender = WebhookSender(timeout_s=2, retries=3, wait=Waits(99))
        with running(sender):
            sender.post(sink.url, {"n": 1})
            assert wait_until(lambda: sender.failed == 1, 5)
            assert len(sink.posts) == 1
    health = sender.health()
    assert (health.state, health.ok, health.last_error) == (
        "failing", False, "answered 404 Not Found")


def test_refused_connection_is_retried_then_given_up():
    """Nothing listening: 1 + retries attempts with back-off 1, 2, 4 s, then failed."""
    waits = Waits(3)
    sender = WebhookSender(timeout_s=2, retries=3, wait=waits)
    with running(sender):
        sender.post(refused_url(), {"n": 1})
        assert wait_until(lambda: sender.failed == 1, 5)
    assert waits.seconds == [1.0, 2.0, 4.0] and sender.retried == 3
    assert "Connection refused" in sender.health().last_error


def test_a_hanging_endpoint_times_out_and_stop_does_not_wait_for_it():
    """An endpoint that never answers fails after timeout_s; stop() during a hang returns
    at once (the socket is shut down), far sooner than the timeout."""
    with WebhookSink(hang=True) as sink:
        sender = WebhookSender(timeout_s=0.3, retries=0)
        with running(sender):
            sender.post(sink.url, {"n": 1})
            assert wait_until(lambda: sender.failed == 1, 5)
            assert "timed out" in sender.health().last_error
        slow = WebhookSender(timeout_s=30, retries=0)
        thread = threading.Thread(target=slow.run, name="webhook")
        thread.start()
        slow.post(sink.url, {"n": 2})
        sink.wait_for(2)
        started = time.monotonic()
        slow.stop()
        thread.join(5)
        assert not thread.is_alive() and time.monotonic() - started < 1.0
        assert slow.failed == 0  # aborted by stop(), not the endpoint's failure


def test_post_never_blocks_and_drops_past_the_limit():
    """post() with no thread running queues up to QUEUE_LIMIT bodies, then drops and counts."""
    sender = WebhookSender()
    for n in range(QUEUE_LIMIT + 3):
        sender.post("http://127.0.0.1:1/", {"n": n})
    health = sender.health()
    assert health.counters["dropped"] == 3 and health.gauges == {"queued": float(QUEUE_LIMIT)}
    assert health.state == "sending"


def test_check_url():
    """Only http:// and https:// URLs with a host."""
    assert check_url(" https://example.org/hook?x=1 ") == "https://example.org/hook?x=1"
    for bad in ("ftp://x/", "http://", "example.org/hook", "http://host:99999/"):
        with pytest.raises(ValueError, match=r"^must be an http:// or https:// URL"):
            check_url(bad)


def endless_answer(wfile, closing: threading.Event) -> None:
    """200 with a body that never ends (64 KiB at a time, until the sender closes; 64 MiB
    at most, so that a sender reading it all ends too)."""
    wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
    chunk = b"x" * 65536
    for _ in range(1024):
        if closing.is_set():
            return
        wfile.write(chunk)


def test_an_endless_answer_is_cut_at_64_kib_and_counted(caplog):
    """An answer whose body never ends: at most MAX_ANSWER_BYTES are read, the POST
    counts as posted, the cut is counted and logged once."""
    caplog.set_level("INFO", "thermal_streamer.outputs.webhook")
    with WebhookSink(answer=endless_answer) as sink:
        sender = WebhookSender(timeout_s=5, retries=0)
        with running(sender):
            sender.post(sink.url, {"n": 1})
            sender.post(sink.url, {"n": 2})
            assert wait_until(lambda: sender.posted == 2, 5)
    assert MAX_ANSWER_BYTES == 65536
    assert dict(sender.health().counters) == {"posted": 2, "failed": 0, "retried": 0,
                                             "dropped": 0, "cut": 2}
    assert [r.getMessage() for r in caplog.records] == [
        f"webhook http://127.0.0.1:{sink.url.split(':')[2].split('/')[0]}/... answers with "
        "more than 65536 bytes: the rest is not read (counted as cut); a webhook's answer "
        "is not used"]


class SteppedClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


def test_a_trickling_answer_ends_at_the_timeout_in_total():
    """An answer of one byte every 4 s (of the injected clock) with timeout 5 s: the
    attempt fails when 5 s are gone in all, though no single read waited that long."""
    clock = SteppedClock()

    def trickle(wfile, closing: threading.Event) -> None:
        wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n")
        for _ in range(40):
            if closing.wait(0.02):
                return
            clock.advance(4)
            wfile.write(b"x")
            wfile.flush()

    with WebhookSink(answer=trickle) as sink:
        sender = WebhookSender(timeout_s=5, retries=0, clock=clock)
        with running(sender):
            sender.post(sink.url, {"n": 1})
            assert wait_until(lambda: sender.failed + sender.posted == 1, 5)
    assert (sender.posted, sender.failed) == (0, 1)
    assert sender.health().last_error == "no answer within 5 s in all (Webhook_Timeout)"
