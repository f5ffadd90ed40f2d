"""Sources that run through the ``lepton`` package's VoSPI path: ``lepton``, ``simulated``, ``replay``.

All three read a byte stream with :class:`lepton.Lepton` and its real VoSPI parser;
they differ only in where the bytes come from: the SPI bus, the simulator fed by a
synthetic scene, or the simulator fed by a recording.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from lepton import Lepton
from lepton.radiometry import PixelUnit, guess_unit
from lepton.vospi import Model, TelemetryLocation

from ..config import Config, ConfigError
from ..frames import RawFrame
from ..scene import ThermalScene
from .base import Publish, Source

log = logging.getLogger(__name__)

NEXT_FRAME_TIMEOUT_S = 0.5  # also bounds how long stopping takes
SIMULATED_MODEL = Model.LEPTON3
TELEMETRY = {"off": TelemetryLocation.OFF, "header": TelemetryLocation.HEADER,
             "footer": TelemetryLocation.FOOTER}


def orient(pixels: np.ndarray, flip: str, rotate: int) -> np.ndarray:
    """Apply the camera mounting: flip ("none", "horizontal", "vertical", "both"), then
    rotate clockwise by 0, 90, 180 or 270 degrees. Returns a view when it can."""
    if flip in ("horizontal", "both"):
        pixels = pixels[:, ::-1]
    if flip in ("vertical", "both"):
        pixels = pixels[::-1, :]
    return np.rot90(pixels, -rotate // 90) if rotate else pixels


class LeptonSource(Source):
    """Unique frames from a :class:`lepton.Lepton`, oriented and labelled with their unit.

    Args:
        kind: "lepton", "simulated" or "replay".
        open_camera: returns an opened Lepton (called in the source thread).
        unit: what the pixels mean.
        flip, rotate: mounting correction, see :func:`orient`.
    """

    def __init__(self, kind: str, open_camera: Callable[[], Lepton], unit: PixelUnit,
                 flip: str = "none", rotate: int = 0):
        self.kind, self._open_camera, self.unit = kind, open_camera, unit
        self._flip, self._rotate = flip, rotate
        self._camera: Lepton | None = None

    def run(self, publish: Publish, stop: threading.Event) -> None:
        with self._open_camera() as camera:
            self._camera = camera
            while not stop.is_set():
                captured = camera.next_frame(NEXT_FRAME_TIMEOUT_S)
                if captured is None:
                    continue
                meta = {}
                if captured.telemetry is not None:
                    meta["fpa_temp_c"] = round(captured.telemetry.fpa_temp_c, 2)
                pixels = np.ascontiguousarray(orient(captured.pixels, self._flip, self._rotate))
                publish(RawFrame(pixels, self.unit, captured.timestamp, meta))

    def status(self) -> dict[str, Any]:
        camera = self._camera
        if camera is None:
            return {"state": "starting"}
        counters = camera.counters
        return {"state": camera.status.value, "model": camera.model and camera.model.name,
                "unit": self.unit.value,
                **{k: v for k, v in vars(counters).items() if isinstance(v, int)}}

    def run_ffc(self) -> None:
        camera = self._camera
        if camera is None or camera.cci is None:
            raise NotImplementedError("ffc needs the Lepton's I2C control interface, which is not open")
        camera.cci.run_ffc()


def _looped(frames: np.ndarray) -> Iterator[np.ndarray]:
    return itertools.cycle(list(frames))


def _scene_frames(model: Model) -> Iterator[np.ndarray]:
    scene = ThermalScene(model.rows, model.cols)
    start = time.monotonic()
    while True:
        yield scene.frame(time.monotonic() - start)


def make_lepton_source(kind: str, config: Config) -> LeptonSource:
    """The ``lepton``, ``simulated`` or ``replay`` source from the config.

    Raises:
        ConfigError: ``replay`` without a usable ``Replay`` path.
    """
    from lepton.simulator import VospiSimulator
    from lepton.transport import SimulatedTransport

    telemetry = TELEMETRY[config.telemetry]
    orientation = {"flip": config.flip, "rotate": int(config.rotate)}
    if kind == "lepton":
        model = None if config.model == "auto" else Model[f"LEPTON{config.model}"]

        def open_camera() -> Lepton:
            return Lepton(config.spi_device, model=model, telemetry=telemetry,
                          spi_speed_hz=config.spi_speed_hz)

        unit = PixelUnit.CENTIKELVIN if config.tlinear_resolution == "0.01" else PixelUnit.DECIKELVIN
        return LeptonSource(kind, open_camera, unit, **orientation)

    if kind == "simulated":
        model, frames, unit = SIMULATED_MODEL, _scene_frames(SIMULATED_MODEL), PixelUnit.CENTIKELVIN
    else:
        from lepton.errors import LeptonError
        from lepton.replay import load_recording

        if not config.replay:
            raise ConfigError(config.config_path or "command line", "Source", "Replay", "",
                              "--source replay needs a recording: --replay PATH or Replay = PATH")
        try:
            recording = load_recording(config.replay)
        except LeptonError as exc:
            raise ConfigError(config.config_path or "command line", "Source", "Replay",
                              config.replay, str(exc)) from None
        model = Model.LEPTON2 if recording.shape[1:] == (60, 80) else Model.LEPTON3
        frames = _looped(recording)
        unit = guess_unit(recording) if config.replay_unit == "auto" else PixelUnit(config.replay_unit)
        log.info("replaying %d frames of %dx%d from %s as %s", len(recording), recording.shape[2],
                 recording.shape[1], config.replay, unit.value)

    def open_simulated() -> Lepton:
        transport = SimulatedTransport(VospiSimulator(model, telemetry), frames, realtime=True)
        return Lepton(model=model, telemetry=telemetry, transport=transport)

    return LeptonSource(kind, open_simulated, unit, **orientation)
