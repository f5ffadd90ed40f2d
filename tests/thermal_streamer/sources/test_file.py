"""thermal_streamer.sources.file: publishing a watched JPEG on change and every Resend_Interval."""

import contextlib
import io
import logging
import threading
import time

from PIL import Image

from tests.conftest import ROOT, wait_until
from thermal_streamer.sources.file import FileSource


@contextlib.contextmanager
def running(source: FileSource, publish):
    """Run the source in a thread; stop and join it on leaving."""
    stop = threading.Event()
    thread = threading.Thread(target=source.run, args=(publish, stop), name="file-source-test")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def test_slow_publishing_does_not_stretch_the_resend_interval(tmp_path):
    """Publishing that takes 40% of the interval still gives one frame per interval."""
    image = tmp_path / "thermal.jpg"
    image.write_bytes((ROOT / "thermal2.jpg").read_bytes())
    times: list[float] = []

    def slow_publish(frame) -> None:
        times.append(time.monotonic())
        time.sleep(0.02)  # the cost of handing the frame to clients

    with running(FileSource(str(image), resend_interval_s=0.05), slow_publish):
        assert wait_until(lambda: len(times) >= 20, 5.0)
    intervals = [b - a for a, b in zip(times[5:], times[6:], strict=False)]
    assert sum(intervals) / len(intervals) < 0.06  # 0.07 if the publish time added up


def test_a_changed_file_is_published_once_and_only_whole(tmp_path):
    """A new image is published after its change; a truncated one is skipped and counted."""
    image = tmp_path / "thermal.jpg"
    whole = [(ROOT / f"thermal{n}.jpg").read_bytes() for n in (2, 3)]
    image.write_bytes(whole[0])
    frames = []
    source = FileSource(str(image), resend_interval_s=3600)
    with running(source, lambda frame: frames.append(frame.jpeg)):
        assert wait_until(lambda: frames, 2.0)
        image.write_bytes(whole[1][: len(whole[1]) // 2])  # torn: no end-of-image marker
        assert wait_until(lambda: source.skipped, 2.0)
        image.write_bytes(whole[1])
        assert wait_until(lambda: len(frames) == 2, 2.0)
    assert frames == whole and source.skipped >= 1 and source.changes == 2


def test_an_image_over_max_frame_pixels_is_skipped_and_counted(tmp_path, caplog):
    """A picture over max_frame_pixels is skipped, counted and logged; the next one is published."""
    image = tmp_path / "thermal.jpg"
    image.write_bytes((ROOT / "thermal2.jpg").read_bytes())  # 640x480
    small = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(small, "JPEG")
    frames = []
    source = FileSource(str(image), resend_interval_s=3600, max_frame_pixels=640 * 480 - 1)
    with running(source, lambda frame: frames.append(frame.jpeg)):
        assert wait_until(lambda: source.too_large, 2.0)
        image.write_bytes(small.getvalue())
        assert wait_until(lambda: frames, 2.0)
    assert frames == [small.getvalue()]
    assert (source.too_large, source.skipped, source.changes) == (1, 1, 1)
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"skipped the image in {image}: 640x480 is 307200 pixels, over Max_Frame_Pixels = "
        "307199 (1 too large so far)"]
