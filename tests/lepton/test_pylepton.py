"""lepton.Lepton as a pylepton drop-in: pylepton's own example code, only the import changed.

The examples are copied as groupgets/pylepton writes them (``pylepton_capture``'s
``capture()``, ``pylepton_overlay``'s loop, docs/lepton.md's snippet), as functions that take
the ``Lepton`` class. They run against our real class; the only substitution is the
simulated transport standing in for the SPI bus (``functools.partial``).
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pytest

from lepton import DETECTED_MODELS, Lepton, Model, SimulatedTransport, VospiSimulator
from lepton.spidev import SPI_MODE_3

FRAMES = [np.arange(4800, dtype=np.uint16).reshape(60, 80) + 100 * k for k in range(3)]


def pylepton_capture(Lepton, device="/dev/spidev0.0"):  # noqa: N803 (pylepton's code)
    with Lepton(device) as l:  # noqa: E741
        a, _ = l.capture()
    return a


def pylepton_overlay_loop(Lepton, lepton_buf, frames, device="/dev/spidev0.0"):  # noqa: N803
    seen = []
    with Lepton(device) as l:  # noqa: E741
        last_nr = 0
        while len(seen) < frames:
            _, nr = l.capture(lepton_buf)
            if nr == last_nr:
                # no need to redo this frame
                continue
            last_nr = nr
            seen.append(lepton_buf.copy())
    return seen


def simulated(device: str | None = None, model_cache: dict | None = None):
    """Our Lepton class with a simulated Lepton 2 standing in for the SPI bus."""
    transport = SimulatedTransport(VospiSimulator(Model.LEPTON2), itertools.cycle(FRAMES),
                                   device=device)
    options = {} if model_cache is None else {"model_cache": model_cache}
    return functools.partial(Lepton, transport=transport, resync_pause_s=0, **options)


def test_pylepton_capture_example():
    """pylepton_capture's capture(): a (60, 80, 1) uint16 frame from `with Lepton(device) as l`."""
    a = pylepton_capture(simulated())
    assert a.shape == (60, 80, 1) and a.dtype == np.uint16
    assert np.array_equal(a[:, :, 0], FRAMES[0])


@pytest.mark.parametrize("dtype", [np.uint16, np.int32, np.float32, np.float64])
def test_overlay_loop_fills_any_numeric_buffer(dtype):
    """pylepton_overlay's loop fills the caller's buffer of uint16, int32 or float32."""
    buffer = np.zeros((60, 80, 1), dtype=dtype)
    seen = pylepton_overlay_loop(simulated(), buffer, 3)
    assert [s.dtype for s in seen] == [np.dtype(dtype)] * 3
    assert all(np.array_equal(s[:, :, 0], f) for s, f in zip(seen, FRAMES, strict=True))


def test_spi_dev_keyword():
    """Lepton(spi_dev=...) works as in pylepton; both keywords at once must agree."""
    with simulated()(spi_dev="/dev/spidev0.1") as l:  # noqa: E741
        assert l.capture()[0].shape == (60, 80, 1)
    with pytest.raises(TypeError) as caught:
        Lepton("/dev/spidev0.0x", spi_dev="/dev/spidev0.1")
    assert str(caught.value) == (
        "give spi_device or spi_dev, not both ('/dev/spidev0.0x' and '/dev/spidev0.1')")


def test_class_constants_are_pylepton_s():
    """ROWS, COLS, VOSPI_FRAME_SIZE(_BYTES), MODE, BITS, SPEED, SPIDEV_MESSAGE_LIMIT as pylepton."""
    assert (Lepton.ROWS, Lepton.COLS, Lepton.VOSPI_FRAME_SIZE, Lepton.VOSPI_FRAME_SIZE_BYTES,
            Lepton.MODE, Lepton.BITS, Lepton.SPEED, Lepton.SPIDEV_MESSAGE_LIMIT) == (
        60, 80, 82, 164, SPI_MODE_3, 8, 18000000, 24)


def test_missing_device_is_an_ioerror(tmp_path):
    """`except IOError:` written for pylepton catches a missing device, with its errno."""
    device = str(tmp_path / "spidev9.9")
    try:
        pylepton_capture(Lepton, device)
    except IOError as exc:  # noqa: UP024 (written as pylepton users write it)
        assert isinstance(exc, FileNotFoundError) and exc.errno == 2
        assert str(exc).startswith(f"{device}: no such device. Enable SPI")
    else:
        pytest.fail("no IOError")


def test_reopening_remembers_the_model():
    """A Lepton re-opened on the same device starts with the model detected the first time."""
    cache: dict[str, Model] = {}
    with simulated("sim0", cache)() as first:
        assert first.model is None
        first.capture()
        assert first.model is Model.LEPTON2
    assert cache == {"sim0": Model.LEPTON2}
    with simulated("sim0", cache)() as again:
        assert again.model is Model.LEPTON2  # known before any byte was read
    with simulated("sim1", cache)() as other:
        assert other.model is None
    assert "sim0" not in DETECTED_MODELS  # the process-wide cache was not touched


def test_model_from_cci_when_it_answers():
    """With a CCI that answers, the model comes from the part number, not the stream."""
    from lepton import Cci, SimulatedCciDevice

    cci = Cci(SimulatedCciDevice(part_number="500-0763-01"))  # a Lepton 2.5
    with simulated()(cci=cci) as camera:
        assert camera.model is Model.LEPTON2
