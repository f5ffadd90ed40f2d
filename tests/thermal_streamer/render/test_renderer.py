"""thermal_streamer.render.renderer: one render per frame and settings; image frames pass
through."""

import threading

import numpy as np

from lepton.radiometry import PixelUnit
from thermal_streamer.control.render_settings import RenderSettings
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.core.frames import ImageFrame, RawFrame
from thermal_streamer.core.hub import Hub
from thermal_streamer.protocols.wire import parse_frame_message
from thermal_streamer.render.renderer import Renderer


def setup():
    hub = Hub()
    state = AcquisitionState(RenderSettings())
    return hub, state, Renderer(hub, state, "simulated")


def raw_frame() -> RawFrame:
    pixels = (np.arange(19200, dtype=np.uint16) % 500 + 29500).reshape(120, 160)
    return RawFrame(pixels, PixelUnit.CENTIKELVIN, 1.5e9, {"fpa_temp_c": 31.0})


def test_encode_is_cached_per_frame_and_settings():
    """The same frame with the same settings is rendered once; a new colormap renders again."""
    hub, state, renderer = setup()
    frame = raw_frame()
    first = renderer.encode(5, frame)
    assert renderer.encode(5, frame) is first
    state.change_settings(colormap="gray")
    second = renderer.encode(5, frame)
    assert second is not first and second.jpeg != first.jpeg
    header, jpeg, raw = parse_frame_message(second.stream_message_raw)
    assert header["seq"] == 5 and header["meta"] == {"fpa_temp_c": 31.0}
    assert header["raw"] == {"rows": 120, "cols": 160, "dtype": "<u2", "unit": "centikelvin"}
    assert np.array_equal(np.frombuffer(raw, "<u2").reshape(120, 160), frame.pixels)


def test_image_frames_pass_through():
    """A JPEG from an image source is published untouched, without stats."""
    hub, state, renderer = setup()
    encoded = renderer.encode(1, ImageFrame(b"\xff\xd8jpeg\xff\xd9", 32, 24, 1.5e9))
    assert encoded.jpeg == b"\xff\xd8jpeg\xff\xd9"
    assert encoded.header["width"] == 32 and "stats" not in encoded.header
    assert encoded.stream_message_raw == encoded.stream_message


def test_renders_only_while_someone_watches():
    """The loop publishes encoded frames only with a viewer and while running."""
    hub, state, renderer = setup()
    stop = threading.Event()
    thread = threading.Thread(target=renderer.run, args=(stop,))
    thread.start()
    try:
        renderer.receive(raw_frame())
        assert hub.encoded.wait_newer(0, 0.3) is None  # nobody watches
        viewer = hub.join("stream", "test")
        renderer.receive(raw_frame())
        assert hub.encoded.wait_newer(0, 5.0)[0] == 2
        state.set_running(False)
        renderer.receive(raw_frame())
        assert hub.encoded.wait_newer(2, 0.3) is None  # paused
        hub.leave(viewer)
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_receive_publishes_image_frames_from_the_calling_thread():
    """A ready-made JPEG is published to clients inside receive(); a raw frame waits for run()."""
    hub, state, renderer = setup()
    hub.join("stream", "test")
    renderer.receive(raw_frame())
    assert hub.encoded.latest() == (0, None)  # left for the renderer thread
    renderer.receive(ImageFrame(b"\xff\xd8jpeg\xff\xd9", 32, 24, 1.5e9))
    seq, encoded = hub.encoded.latest()
    assert seq == 2 and encoded.jpeg == b"\xff\xd8jpeg\xff\xd9"
    assert hub.raw.latest()[0] == 2


def test_header_parts_add_fields_to_raw_frames():
    """A component's header part adds its fields to each raw frame's header."""
    hub = Hub()
    state = AcquisitionState(RenderSettings())
    renderer = Renderer(hub, state, "simulated",
                        header_parts=[lambda seq, frame: {"rois": {"door": seq}}])
    assert renderer.encode(7, raw_frame()).header["rois"] == {"door": 7}
