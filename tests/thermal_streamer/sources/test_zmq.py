"""thermal_streamer.sources.zmq: pixel conversion to counts, meta values, and the source over
ipc."""

import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import zmq

from lepton.radiometry import FluxLinearParams, PixelUnit, correct_frame
from tests.conftest import wait_until
from thermal_streamer.core.source import SourceError
from thermal_streamer.sources.zmq import ZmqSource, meta_value, to_counts

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))
from bsread_generator import build_message  # noqa: E402


def test_counts_that_fit_are_kept():
    """uint8, int32 and integral floats within 0..65535 are kept as counts, no meta."""
    for values in (np.array([[0, 255]], np.uint8), np.array([[3, 65535]], ">i4"),
                   np.array([[1.0, 2.0]])):
        pixels, meta = to_counts(values)
        assert pixels.dtype == np.uint16 and pixels.tolist() == values.tolist() and meta == {}


def test_other_values_are_rescaled_and_say_so():
    """Negative, large or fractional values are rescaled linearly; meta names the range."""
    pixels, meta = to_counts(np.array([[-1.0, 0.0], [np.nan, 1.0]]))
    assert pixels.tolist() == [[0, 32768], [0, 65535]]
    assert meta == {"rescaled_low": -1.0, "rescaled_high": 1.0}
    pixels, meta = to_counts(np.full((2, 2), 70000, np.int64))
    assert pixels.tolist() == [[0, 0], [0, 0]]
    assert meta == {"rescaled_low": 70000.0, "rescaled_high": 70000.0}


def test_meta_values_are_json_safe():
    """bools become ints, non-finite floats strings; numbers and strings pass."""
    assert [meta_value(v) for v in (True, float("nan"), 2.5, 7, "hi")] == [1, "nan", 2.5, 7, "hi"]


def run_source(tmp_path, wanted, messages, **options):
    """Bind a ZmqSource on ipc, push ``messages`` to it; returns (source, published)."""
    address = f"ipc://{tmp_path}/bsread"
    source = ZmqSource(address, "bind", "pull", wanted=wanted, **options)
    published, stop = [], threading.Event()
    thread = threading.Thread(target=source.run, args=(published.append, stop), name="zmq-test")
    thread.start()
    context = zmq.Context()
    push = context.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.setsockopt(zmq.SNDTIMEO, 5000)
    try:
        push.connect(address)
        for parts in messages:
            push.send_multipart(parts)
        assert wait_until(lambda: source.messages + source.skipped >= len(messages), 5)
    finally:
        stop.set()
        thread.join(5)
        push.close()
        context.term()
    assert not thread.is_alive()
    return source, published


IMAGE = np.arange(12, dtype=np.uint16).reshape(3, 4)


def message(pulse_id, **scalars):
    return build_message({"image": IMAGE, **scalars}, pulse_id, (1700000000, 500000000))


def test_bound_source_publishes_image_and_scalars(tmp_path):
    """ZMQ_Mode bind: the 2-D channel becomes a counts RawFrame, scalars and pulse_id meta."""
    source, published = run_source(tmp_path, lambda: True,
                                   [message(7, beam_energy=5.5, repetition_rate=np.int32(100))])
    assert published, source.status()
    frame = published[-1]
    assert frame.unit is PixelUnit.COUNTS and np.array_equal(frame.pixels, IMAGE)
    assert frame.meta == {"beam_energy": 5.5, "repetition_rate": 100, "pulse_id": 7}
    assert frame.timestamp == 1700000000.5
    assert source.status()["last_pulse_id"] == 7 and source.frames == len(published)


def test_unwatched_messages_are_dropped_and_bad_ones_counted(tmp_path):
    """Nobody watching: nothing is decoded or published; a bad message is still counted."""
    good = message(1)
    source, published = run_source(tmp_path, lambda: False, [good, good[:-1], message(2)])
    assert published == []
    status = source.status()
    assert (status["messages"], status["unwatched"], status["skipped"]) == (2, 2, 1)
    assert status["last_error"] == ("data header lists 1 channel, so the message needs 4 parts, "
                                    "not 3")


def test_unusable_address_is_a_source_error():
    """An address that cannot be bound raises SourceError naming ZMQ_Address."""
    source = ZmqSource("tcp://256.1.1.1:1", "bind", "pull")
    with pytest.raises(SourceError, match=r"^cannot bind ZMQ_Address tcp://256\.1\.1\.1:1: "):
        source.run(lambda frame: None, threading.Event())


def test_centikelvin_stream_is_corrected_for_emissivity(tmp_path):
    """ZMQ_Unit = centikelvin: frames are temperatures, corrected in software for the flux
    parameters (emissivity 0.9 here), value by value as lepton.radiometry.correct_frame."""
    kelvin = np.array([[29515, 31000, 37315, 27315]], np.uint16)
    flux = FluxLinearParams(emissivity=0.9)
    source, published = run_source(
        tmp_path, lambda: True, [build_message({"image": kelvin}, 1, (1700000000, 0))],
        unit=PixelUnit.CENTIKELVIN, flux=flux)
    [frame] = published
    assert frame.unit is PixelUnit.CENTIKELVIN
    assert frame.pixels.tolist() == correct_frame(kelvin, PixelUnit.CENTIKELVIN, flux).tolist()
    assert frame.pixels.tolist() == [[29515, 31152, 37930, 27035]]
    source.set_radiometry(FluxLinearParams())  # no error: the stream holds temperatures


def test_counts_stream_refuses_emissivity():
    """ZMQ_Unit = counts (the default): set_radiometry says why it cannot apply."""
    source = ZmqSource("ipc:///nowhere", "connect", "pull")
    with pytest.raises(NotImplementedError) as info:
        source.set_radiometry(FluxLinearParams(emissivity=0.9))
    assert str(info.value) == ("emissivity needs temperatures; these zmq frames are counts "
                               "(set [Source] ZMQ_Unit = centikelvin)")
