"""thermal_streamer.sources.tcp: the >Q framing, fed whole, byte by byte and in odd chunks;
producers that squat, hoard or stall are closed (an injected clock, real sockets on 127.0.0.1)."""

import contextlib
import io
import socket
import struct
import threading

import pytest
from PIL import Image

from tests.conftest import wait_until
from thermal_streamer.sources.tcp import (
    MAX_PRODUCERS,
    FrameLengthError,
    FrameSplitter,
    ProgressTimer,
    Stall,
    TcpSource,
)


def framed(*frames: bytes) -> bytes:
    return b"".join(struct.pack(">Q", len(f)) + f for f in frames)


STREAM = framed(b"first", b"x", b"third frame") + struct.pack(">Q", 4) + b"pa"


@pytest.mark.parametrize("chunk", [len(STREAM), 1, 3, 7, 13])
def test_frames_in_any_chunking(chunk):
    """Frames come out whole and in order however the bytes are split; the rest waits."""
    splitter = FrameSplitter(100)
    frames = []
    for i in range(0, len(STREAM), chunk):
        frames += splitter.feed(STREAM[i:i + chunk])
    assert frames == [b"first", b"x", b"third frame"]
    assert splitter.buffered == 2  # "pa" of a 4-byte frame
    assert splitter.feed(b"rt") == [b"part"] and splitter.buffered == 0


@pytest.mark.parametrize("length, text", [
    (0, "frame length 0 is zero"),
    (101, "frame length 101 is over Max_Frame_Bytes = 100"),
    (1 << 40, "frame length 1099511627776 is over Max_Frame_Bytes = 100"),
])
def test_bad_length_raises_before_the_frame_arrives(length, text):
    """A length of 0 or over the limit raises as soon as its 8 bytes are in."""
    splitter = FrameSplitter(100)
    assert splitter.feed(framed(b"ok")) == [b"ok"]
    with pytest.raises(FrameLengthError) as error:
        splitter.feed(struct.pack(">Q", length))
    assert str(error.value) == text
    assert (error.value.length, error.value.limit) == (length, 100)


def test_limit_is_inclusive():
    """A frame of exactly Max_Frame_Bytes is accepted."""
    assert FrameSplitter(3).feed(framed(b"abc")) == [b"abc"]


def test_mid_frame_byte_by_byte():
    """mid_frame is true from a frame's first length byte until its last byte."""
    splitter = FrameSplitter(100)
    states = []
    for byte in framed(b"ab"):
        splitter.feed(bytes([byte]))
        states.append(splitter.mid_frame)
    assert states == [True] * 9 + [False]


def test_idle_and_slow_verdicts():
    """IDLE after timeout_s without a byte; SLOW when a frame is unfinished after timeout_s."""
    timer = ProgressTimer(now=100.0)
    assert timer.stall(109.9, 10) is None and timer.stall(110.0, 10) is Stall.IDLE
    timer.received(101.0, frames=0, mid_frame=True)  # a frame begins
    timer.received(110.5, frames=0, mid_frame=True)  # trickles on
    assert timer.stall(110.9, 10) is None and timer.stall(111.0, 10) is Stall.SLOW
    timer.received(111.5, frames=1, mid_frame=False)  # done: no frame open
    assert timer.frame_started_at is None and timer.stall(121.4, 10) is None


def test_a_frame_begun_after_a_completed_one_begins_then():
    """Bytes that finish one frame and start the next restart the frame clock."""
    timer = ProgressTimer(now=0.0)
    timer.received(1.0, frames=0, mid_frame=True)
    timer.received(8.0, frames=1, mid_frame=True)
    assert timer.frame_started_at == 8.0 and timer.stall(17.9, 10) is None


class FakeClock:
    """A monotonic clock that moves only when a test sets ``now``."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def jpeg(width: int = 32, height: int = 24) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(out, "JPEG")
    return out.getvalue()


@contextlib.contextmanager
def running(source: TcpSource):
    """Run the source in a thread; yield the frames it publishes; stop and join on leaving."""
    stop, frames = threading.Event(), []
    thread = threading.Thread(target=source.run, args=(frames.append, stop), name="tcp-test")
    thread.start()
    try:
        yield frames
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def connect(source: TcpSource, count: int = 1) -> list[socket.socket]:
    """``count`` producer connections, returned once the source has accepted them all."""
    before = source.status()["producers"]
    socks = [socket.create_connection(("127.0.0.1", source.port), timeout=5)
             for _ in range(count)]
    assert wait_until(lambda: source.status()["producers"] == min(before + count,
                                                                  MAX_PRODUCERS), 5)
    return socks


def closed_by_peer(sock: socket.socket, timeout_s: float = 5.0) -> bool:
    """True when the source closes ``sock`` within ``timeout_s``."""
    sock.settimeout(timeout_s)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


@pytest.fixture
def clock():
    return FakeClock()


def test_idle_producer_is_closed_after_the_timeout(clock, caplog):
    """No byte for timeout_s closes a producer; one that sent a byte meanwhile stays."""
    source = TcpSource("127.0.0.1", 0, 1000, timeout_s=10, clock=clock)
    with running(source):
        idle, busy = connect(source, 2)
        clock.now = 5.0
        busy.sendall(b"\0")
        assert wait_until(lambda: source.status()["buffered"] == 1, 5)
        clock.now = 10.0
        assert closed_by_peer(idle)
        assert source.status()["producers"] == 1 and source.closed_idle == 1
        clock.now = 15.0
        assert closed_by_peer(busy)
    assert (source.closed_idle, source.closed_slow) == (2, 0)
    port = idle.getsockname()[1]
    assert f"tcp source: closing producer 127.0.0.1:{port}: it sent nothing for 10 s" in caplog.text
    for sock in (idle, busy):
        sock.close()


def test_slow_frame_is_closed_after_the_timeout(clock):
    """A frame still unfinished timeout_s after it began closes the producer, trickle or not."""
    source = TcpSource("127.0.0.1", 0, 1000, timeout_s=10, clock=clock)
    with running(source), contextlib.closing(connect(source)[0]) as slow:
        slow.sendall(struct.pack(">Q", 100) + bytes(10))
        assert wait_until(lambda: source.status()["buffered"] == 10, 5)
        clock.now = 9.0
        slow.sendall(bytes(10))  # still sending: not idle
        assert wait_until(lambda: source.status()["buffered"] == 20, 5)
        clock.now = 10.0
        assert closed_by_peer(slow)
    assert (source.closed_slow, source.closed_idle, source.status()["buffered"]) == (1, 0, 0)


def test_newcomer_closes_the_longest_idle_when_full(clock):
    """With every slot taken, a newcomer is kept and the producer idle longest is closed."""
    source = TcpSource("127.0.0.1", 0, 1 << 20, clock=clock)
    with running(source) as frames:
        oldest = connect(source)[0]
        clock.now = 1.0
        others = connect(source, MAX_PRODUCERS - 1)
        clock.now = 2.0
        newcomer = connect(source)[0]
        assert closed_by_peer(oldest)
        newcomer.sendall(framed(jpeg()))
        assert wait_until(lambda: frames, 5)
        assert not any(closed_by_peer(sock, 0.01) for sock in others)
    assert (source.evicted, source.status()["producers"], frames[0].width) == (
        1, 0, 32)
    for sock in (oldest, newcomer, *others):
        sock.close()


def test_real_producer_gets_through_squatters_on_the_real_clock():
    """16 squatters that send nothing: a real producer's frame is published at once, and
    the squatters are all closed for idling (real time, bounded waits)."""
    source = TcpSource("127.0.0.1", 0, 1 << 20, timeout_s=1.0)
    with running(source) as frames:
        squatters = connect(source, MAX_PRODUCERS)
        try:
            with contextlib.closing(connect(source)[0]) as real:
                real.sendall(framed(jpeg(40, 30)))
                assert wait_until(lambda: frames, 5)
                assert all(closed_by_peer(sock, 5) for sock in squatters)
        finally:
            for sock in squatters:
                sock.close()
    assert (frames[0].width, frames[0].height) == (40, 30)
    assert source.evicted == 1 and source.closed_idle >= MAX_PRODUCERS - 1


def test_picture_over_max_frame_pixels_is_skipped_and_the_connection_stays(clock, caplog):
    """A picture over max_frame_pixels is skipped and counted; the next frame is published."""
    source = TcpSource("127.0.0.1", 0, 1 << 20, max_frame_pixels=40 * 30, clock=clock)
    with running(source) as frames, contextlib.closing(connect(source)[0]) as sock:
        port = sock.getsockname()[1]
        sock.sendall(framed(jpeg(41, 30), jpeg(40, 30)))
        assert wait_until(lambda: frames, 5)
    assert (frames[0].width, source.too_large, source.skipped, source.frames) == (40, 1, 1, 1)
    assert (f"tcp source: skipped a {len(jpeg(41, 30))}-byte image from 127.0.0.1:{port}: "
            "41x30 is 1230 pixels, over Max_Frame_Pixels = 1200 (1 too large so far)"
            in caplog.text)


def test_producer_closed_by_a_newcomer_in_the_same_wakeup_is_not_read(clock):
    """A newcomer and bytes from the idlest producer ready at once: it is closed, not read."""
    source = TcpSource("127.0.0.1", 0, 1 << 20, clock=clock)
    release, frames = threading.Event(), []

    def publish(frame) -> None:  # holds the source thread so both events are ready together
        frames.append(frame)
        release.wait(5)

    stop = threading.Event()
    thread = threading.Thread(target=source.run, args=(publish, stop), name="tcp-test")
    thread.start()
    try:
        idlest = connect(source)[0]
        clock.now = 1.0
        others = connect(source, MAX_PRODUCERS - 1)
        others[0].sendall(framed(jpeg()))
        assert wait_until(lambda: frames, 5)  # the source thread is held in publish now
        newcomer = socket.create_connection(("127.0.0.1", source.port), timeout=5)
        idlest.sendall(b"\0")
        release.set()
        assert closed_by_peer(idlest)
        newcomer.sendall(framed(jpeg()))
        assert wait_until(lambda: len(frames) == 2, 5) and thread.is_alive()
    finally:
        release.set()
        stop.set()
        thread.join(5)
    assert not thread.is_alive() and source.evicted == 1
    for sock in (idlest, newcomer, *others):
        sock.close()
