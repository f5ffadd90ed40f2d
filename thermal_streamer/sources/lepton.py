"""Sources that use the ``lepton`` package's VoSPI path: ``lepton``, ``simulated``, ``replay``.

All three read a byte stream with :class:`lepton.Lepton` and its real VoSPI parser;
they differ only in where the bytes come from: the SPI bus, the simulator fed by a
synthetic scene, or the simulator fed by a recording. Each runs a :class:`lepton.Recovery`
that heals a camera that stays out of sync (resync, CCI reboot, power cycle; docs/cci.md
§6); its state and counters are part of :meth:`LeptonSource.status`. Emissivity,
reflected temperature and window (:class:`CameraRadiometry`) are set on the camera over
its CCI, or applied to the frames in software when there is none (docs/cci.md §7).

A replay keeps the recording's pace when the file has times (CPTV version 2, HDF5), loops
when ``Replay_Loop`` says so, and reports where it is (:class:`ReplayPosition`): in each
frame's ``meta`` (``replay_position_s``, and the recorded ``fpa_temp_c``) and in
:meth:`LeptonSource.status`.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from lepton import (
    BOOT_S,
    MIN_BOOT_S,
    Cci,
    CciError,
    FluxLinearParams,
    GainMode,
    GpiodPowerSwitch,
    Hang,
    I2cBus,
    Lepton,
    LeptonError,
    Model,
    PixelUnit,
    PowerSwitch,
    Recovery,
    RecoveryPolicy,
    SimulatedBoard,
    SimulatedCciDevice,
    SimulatedTransport,
    TelemetryLocation,
    TimedRecording,
    VospiSimulator,
    correct_frame,
    guess_unit,
    load_timed_recording,
)
from lepton.camera import CapturedFrame
from thermal_streamer.config.errors import ConfigError
from thermal_streamer.config.loader import Config
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.core.source import Publish, Source
from thermal_streamer.sources.scene import ThermalScene

log = logging.getLogger(__name__)

NEXT_FRAME_TIMEOUT_S = 0.5  # also bounds how long stopping takes
SIMULATED_MODEL = Model.LEPTON3
TELEMETRY = {"off": TelemetryLocation.OFF, "header": TelemetryLocation.HEADER,
             "footer": TelemetryLocation.FOOTER}
# The simulated room's true parameters: black bodies, 22 C surroundings, no window. The
# simulated camera reads exactly the scene's temperatures when it is set to these.
SIMULATED_SCENE = FluxLinearParams()


def orient(pixels: np.ndarray, flip: str, rotate: int) -> np.ndarray:
    """Apply the camera mounting: flip ("none", "horizontal", "vertical", "both"), then
    rotate clockwise by 0, 90, 180 or 270 degrees. Returns a view when it can."""
    if flip in ("horizontal", "both"):
        pixels = pixels[:, ::-1]
    if flip in ("vertical", "both"):
        pixels = pixels[::-1, :]
    return np.rot90(pixels, -rotate // 90) if rotate else pixels


@dataclasses.dataclass(frozen=True)
class CameraSetup:
    """What the camera was configured to send, as the VoSPI parser must expect it.

    Attributes:
        model: the model, or None to detect it from the stream.
        telemetry: where telemetry rows are (OFF if they could not be enabled).
        unit: the pixel unit, or None to guess it from the first frame.
    """

    model: Model | None
    telemetry: TelemetryLocation
    unit: PixelUnit | None


class CameraRadiometry:
    """The flux linear parameters in force for one camera (docs/cci.md §7).

    With a CCI the camera applies them (:meth:`apply_to_camera` after each boot); without
    one the frames, read at the camera's defaults (emissivity 1), are corrected in
    software (:meth:`correct`). Thread-safe: :attr:`params` is replaced whole.

    Args:
        params: the parameters at start ([Lepton] Emissivity, Reflected_Temp_C, ...).
        cci: the camera's control interface, or None.
    """

    def __init__(self, params: FluxLinearParams, cci: Cci | None):
        self.params, self._cci = params, cci

    @property
    def in_software(self) -> bool:
        """True when the frames are corrected here (no CCI), not by the camera."""
        return self._cci is None

    def set(self, params: FluxLinearParams) -> None:
        """Use ``params`` from now on (blocks for the CCI command, about a millisecond).

        Raises:
            LeptonError: the camera refused (e.g. a Lepton 2.0/3.0) or did not answer;
                nothing changed.
        """
        if self._cci is not None:
            self._cci.set_flux_linear_params(params)
        self.params = params

    def apply_to_camera(self) -> None:
        """Set :attr:`params` on the camera (after power-on it is back at its defaults).

        Raises:
            CciError: the camera refused or did not answer.
        """
        if self._cci is not None:
            self._cci.set_flux_linear_params(self.params)

    def correct(self, pixels: np.ndarray, unit: PixelUnit) -> np.ndarray:
        """The frame corrected in software when there is no CCI and it holds temperatures;
        else ``pixels`` itself. ndarray uint16 (rows, cols) in ``unit``."""
        if self._cci is not None or not unit.is_temperature:
            return pixels
        return correct_frame(pixels, unit, self.params)


def configure_camera(cci: Cci | None, config: Config,
                     radiometry: CameraRadiometry | None = None) -> CameraSetup:
    """Set up a Lepton over CCI from the [Lepton] settings, as far as the part supports.

    Enables telemetry (needed for FPA temperature and exact repeat detection),
    TLinear at the configured resolution, the gain mode and the flux linear parameters
    (emissivity, reflected temperature, window: ``radiometry``) on radiometric parts
    (FLIR Lepton Engineering Datasheet §3.5, IDD §4.5.7-8, §4.8.9-10; docs/vospi.md
    §7, §9; docs/cci.md §5, §7); then reads back the pixel unit. Without CCI nothing can
    be set: the camera's power-on defaults apply (telemetry off) and the unit is guessed.

    Raises:
        CciError: the camera answered a command with an error or not at all.
    """
    model = None if config.model == "auto" else Model[f"LEPTON{config.model}"]
    if cci is None:
        return CameraSetup(model, TelemetryLocation.OFF, None)
    part = cci.model()
    if part is not None:
        log.info("camera: FLIR %s (part %s)", part.name, part.part_number)
        model = model or part.model
        if part.radiometric:
            cci.set_tlinear(True, float(config.tlinear_resolution))
            cci.set_gain_mode(GainMode[config.gain_mode.upper()])
            if radiometry is not None:
                radiometry.apply_to_camera()
    telemetry = TELEMETRY[config.telemetry]
    cci.set_telemetry(telemetry is not TelemetryLocation.OFF, telemetry)
    return CameraSetup(model, telemetry, cci.pixel_unit())


class ReplayPosition:
    """Where a replay is, found from each frame's number in the replayed stream.

    The simulator numbers the unique frames it sends (telemetry ``frame_counter``,
    1, 2, ...; docs/vospi.md §7.2), so the index in the recording stays right even
    when frames are lost on the way; without telemetry the delivered frame's number
    is used. Thread-safe enough for /healthz (plain attribute reads).

    Args:
        recording: the frames and, when the file has them, times and FPA temperatures.
        loop: whether the replay starts again after the last frame.
    """

    def __init__(self, recording: TimedRecording, loop: bool):
        self.recording, self.loop = recording, loop
        self.index = -1  # of the newest frame in the recording, -1 before the first
        self.passes = 0

    def locate(self, captured: CapturedFrame) -> dict[str, Any]:
        """Note a delivered frame; returns the meta it gets (position, recorded FPA).

        Returns:
            ``{"replay_position_s": seconds from the first frame, rounded to ms}`` plus
            ``"fpa_temp_c"`` (degrees C, 2 decimals) when the recording has it.
        """
        number = (captured.telemetry.frame_counter if captured.telemetry is not None
                  else captured.frame_number)
        self.passes, self.index = divmod(number - 1, len(self.recording.frames))
        meta: dict[str, Any] = {
            "replay_position_s": round(self.recording.schedule_s(self.index), 3)}
        fpa = self.recording.fpa_temp_c
        if fpa is not None and np.isfinite(fpa[self.index]):
            meta["fpa_temp_c"] = round(float(fpa[self.index]), 2)
        return meta

    @property
    def finished(self) -> bool:
        """True once a replay that does not loop delivered its last frame."""
        return not self.loop and self.index == len(self.recording.frames) - 1

    def status(self) -> dict[str, Any]:
        """``replay_frame`` (1-based, 0 before the first), ``replay_frames``,
        ``replay_position_s``, ``replay_length_s``, ``replay_passes``, ``replay_loop``."""
        index = max(self.index, 0)
        return {"replay_frame": self.index + 1, "replay_frames": len(self.recording.frames),
                "replay_position_s": round(self.recording.schedule_s(index), 3),
                "replay_length_s": round(self.recording.length_s, 3),
                "replay_passes": self.passes, "replay_loop": self.loop}


class LeptonSource(Source):
    """Unique frames from a :class:`lepton.Lepton`, oriented and labelled with their unit.

    Args:
        kind: "lepton", "simulated" or "replay".
        open_camera: configures and opens the camera (called in the source thread);
            returns the Lepton and the pixel unit (None: guess from the first frame).
        make_recovery: builds the camera's :class:`lepton.Recovery` (called in the
            source thread with the open Lepton); the source feeds it every frame and
            every empty read, and closes it when it stops.
        cci: the camera's control interface, for FFC; None if there is none.
        flip, rotate: mounting correction, see :func:`orient`.
        radiometry: the flux linear parameters in force (set on the camera, or applied
            to the frames here when there is no CCI); None: the camera's defaults.
        replay: the replay's position (the ``replay`` source), else None. A replay that
            does not loop stops publishing after its last frame (status ``ended``).
    """

    has_raw = True

    def __init__(self, kind: str,
                 open_camera: Callable[[], tuple[Lepton, PixelUnit | None]],
                 make_recovery: Callable[[Lepton], Recovery],
                 cci: Cci | None = None, flip: str = "none", rotate: int = 0,
                 radiometry: CameraRadiometry | None = None,
                 replay: ReplayPosition | None = None):
        self.kind, self._open_camera, self._cci = kind, open_camera, cci
        self._radiometry = radiometry or CameraRadiometry(FluxLinearParams(), cci)
        self._replay = replay
        self._make_recovery = make_recovery
        self._flip, self._rotate = flip, rotate
        self._camera: Lepton | None = None
        self._recovery: Recovery | None = None
        self._ended = False
        self.unit: PixelUnit | None = None

    def run(self, publish: Publish, stop: threading.Event) -> None:
        camera, self.unit = self._open_camera()
        recovery = self._recovery = self._make_recovery(camera)
        with camera:
            self._camera = camera
            try:
                self._stream(camera, recovery, publish, stop)
            finally:
                recovery.close()

    def _stream(self, camera: Lepton, recovery: Recovery, publish: Publish,
                stop: threading.Event) -> None:
        while not stop.is_set():
            captured = camera.next_frame(NEXT_FRAME_TIMEOUT_S)
            if captured is not None:
                recovery.frame()
            recovery.tick()
            if captured is None:
                continue
            if self.unit is None:
                self.unit = guess_unit(captured.pixels)
                log.info("pixel unit guessed from the first frame: %s", self.unit.value)
            meta = {}
            if captured.telemetry is not None:
                meta["fpa_temp_c"] = round(captured.telemetry.fpa_temp_c, 2)
            if self._replay is not None:
                meta.update(self._replay.locate(captured))
            pixels = self._radiometry.correct(captured.pixels, self.unit)
            pixels = np.ascontiguousarray(orient(pixels, self._flip, self._rotate))
            publish(RawFrame(pixels, self.unit, captured.timestamp, meta))
            if self._replay is not None and self._replay.finished:
                log.info("replay finished after %d frames (Replay_Loop = no)",
                         len(self._replay.recording.frames))
                self._ended = True
                stop.wait()

    def status(self) -> dict[str, Any]:
        """The link state, model, unit, capture counters and the recovery's state and counters."""
        camera, recovery = self._camera, self._recovery
        if camera is None or recovery is None:
            return {"state": "starting"}
        counters = camera.counters
        return {"state": "ended" if self._ended else camera.status.value,
                "model": camera.model and camera.model.name,
                "unit": self.unit and self.unit.value,
                **{k: v for k, v in vars(counters).items() if isinstance(v, int)},
                **recovery.status(), **(self._replay.status() if self._replay else {})}

    @property
    def can_ffc(self) -> bool:
        return self._cci is not None

    def run_ffc(self) -> None:
        if self._cci is None:
            raise NotImplementedError(
                f"ffc needs the Lepton's I2C control interface, which {self.kind} does not have")
        self._cci.run_ffc()

    def set_radiometry(self, params: FluxLinearParams) -> None:
        """Set emissivity, reflected temperature and window: on the camera over CCI (it
        corrects its own output), else for the software correction of the frames.

        Raises:
            NotImplementedError: no CCI and the frames are counts, not temperatures.
            LeptonError: the camera refused (a Lepton 2.0/3.0) or did not answer.
        """
        if self._radiometry.in_software and self.unit is not None and (
                not self.unit.is_temperature):
            raise NotImplementedError(f"emissivity needs temperatures; these {self.kind} "
                                      "frames are counts")
        self._radiometry.set(params)


def _replayed(frames: np.ndarray, loop: bool) -> Iterator[np.ndarray]:
    return itertools.cycle(list(frames)) if loop else iter(list(frames))


def _scene_frames(model: Model, device: SimulatedCciDevice) -> Iterator[np.ndarray]:
    """The synthetic room as the simulated camera reports it: "measured" as a black-body
    camera sees :data:`SIMULATED_SCENE`, then corrected with the flux linear parameters
    the camera holds now (``device.flux_params``), so the true temperatures come out only
    when those match the scene (docs/cci.md §7). ndarray uint16 (rows, cols), centikelvin.
    """
    scene = ThermalScene(model.rows, model.cols)
    start = time.monotonic()
    while True:
        yield correct_frame(scene.frame(time.monotonic() - start), PixelUnit.CENTIKELVIN,
                            device.flux_params, scene=SIMULATED_SCENE)


def _open_cci(config: Config) -> Cci | None:
    """The real camera's CCI on /dev/i2c-N, or None (logged) when the bus cannot be opened."""
    try:
        return Cci(I2cBus(config.i2c_bus))
    except CciError as exc:
        log.warning("no CCI control (%s): telemetry and TLinear stay as the camera has them, "
                    "ffc is unavailable", exc)
        return None


def recovery_maker(config: Config, cci: Cci | None, power: PowerSwitch | None,
                   boot_s: float = BOOT_S, radiometry: CameraRadiometry | None = None
                   ) -> Callable[[Lepton], Recovery]:
    """What builds a camera's :class:`lepton.Recovery` from the [Lepton] settings.

    The reboot step uses ``cci`` (none without it); the power cycle ``power``
    (none without it); after either, the camera is configured again with
    :func:`configure_camera` (with the flux linear parameters in force, ``radiometry``)
    and resynchronised. ``boot_s``: the wait for the camera to boot (IDD §2.1.1,
    docs/cci.md §1).
    """
    policy = RecoveryPolicy(config.recover_after_s, config.power_off_s,
                            config.power_cycle_min_interval_s, boot_s)

    def configure() -> None:
        if cci is not None:
            configure_camera(cci, config, radiometry)

    def make(camera: Lepton) -> Recovery:
        return Recovery(policy, resync=camera.resync, configure=configure,
                        reboot=cci.oem_reboot if cci is not None else None, power=power, log=log)

    return make


def _open_power(config: Config) -> GpiodPowerSwitch | None:
    """The camera's power line from ``Power_GPIO``, or None when it is empty.

    Raises:
        ConfigError: the line cannot be used (no gpiod package, no chip, no permission).
    """
    if not config.power_gpio:
        return None
    try:
        power = GpiodPowerSwitch(config.power_gpio)
    except LeptonError as exc:
        raise ConfigError(config.config_path or "command line", "Lepton", "Power_GPIO",
                          config.power_gpio, str(exc)) from None
    log.info("camera power line: %s (power cycle when a CCI reboot does not help)", power.line)
    return power


def make_lepton_source(kind: str, config: Config) -> LeptonSource:
    """The ``lepton``, ``simulated`` or ``replay`` source from the config.

    ``lepton`` reads the SPI device and configures the camera over I2C, and switches its
    power through ``Power_GPIO`` when set; ``simulated`` feeds a synthetic room through
    the VoSPI simulator, with a simulated CCI device (a Lepton 3.5) configured the same
    way, on a :class:`lepton.SimulatedBoard` that is its power line and can hang it
    (``Simulated_Fault``); ``replay`` feeds a recording through the simulator. The
    [Lepton] emissivity settings go to the camera over CCI, or (replay, a camera without
    I2C) correct the frames in software.

    Raises:
        ConfigError: ``replay`` without a usable ``Replay`` path; a ``Power_GPIO`` line
            that cannot be used.
    """
    flip, rotate = config.flip, int(config.rotate)
    flux = config.radiometry.flux_params()
    if kind == "lepton":
        cci = _open_cci(config)
        power = _open_power(config)
        radiometry = CameraRadiometry(flux, cci)

        def open_camera() -> tuple[Lepton, PixelUnit | None]:
            setup = configure_camera(cci, config, radiometry)
            camera = Lepton(config.spi_device, model=setup.model, telemetry=setup.telemetry,
                            spi_speed_hz=config.spi_speed_hz, cci=cci)
            return camera, setup.unit

        return LeptonSource(kind, open_camera,
                            recovery_maker(config, cci, power, radiometry=radiometry), cci,
                            flip=flip, rotate=rotate, radiometry=radiometry)

    if kind == "simulated":
        hang = Hang(config.simulated_fault)
        board = SimulatedBoard(hang, config.simulated_fault_frame)
        device = SimulatedCciDevice(board=board)
        cci = Cci(device)
        radiometry = CameraRadiometry(flux, cci)
        if hang is not Hang.NONE:
            log.info("simulated camera: it will hang (%s) at unique frame %d", hang.value,
                     config.simulated_fault_frame)

        def open_camera() -> tuple[Lepton, PixelUnit | None]:
            setup = configure_camera(cci, config, radiometry)
            return _simulated(setup.model or SIMULATED_MODEL, setup.telemetry,
                              _scene_frames(SIMULATED_MODEL, device), cci, board), setup.unit

        # the simulated camera boots at once; wait the IDD's minimum all the same
        return LeptonSource(kind, open_camera,
                            recovery_maker(config, cci, board, MIN_BOOT_S, radiometry),
                            cci, flip=flip, rotate=rotate, radiometry=radiometry)

    recording = _load_replay(config)
    frames = recording.frames
    model = Model.LEPTON2 if frames.shape[1:] == (60, 80) else Model.LEPTON3
    telemetry = TELEMETRY[config.telemetry]
    unit = guess_unit(frames) if config.replay_unit == "auto" else PixelUnit(config.replay_unit)
    paced = "its recorded pace" if recording.timestamps_s is not None else "8.7 Hz"
    log.info("replaying %d frames of %dx%d (%.1f s) from %s as %s at %s%s", len(frames),
             frames.shape[2], frames.shape[1], recording.length_s, config.replay, unit.value,
             paced, ", looping" if config.replay_loop else "")

    def open_replay() -> tuple[Lepton, PixelUnit | None]:
        return _simulated(model, telemetry, _replayed(frames, config.replay_loop),
                          schedule_s=recording.schedule_s), unit

    return LeptonSource(kind, open_replay, recovery_maker(config, None, None), flip=flip,
                        rotate=rotate, radiometry=CameraRadiometry(flux, None),
                        replay=ReplayPosition(recording, config.replay_loop))


def _simulated(model: Model, telemetry: TelemetryLocation, frames: Iterator[np.ndarray],
               cci: Cci | None = None, board: SimulatedBoard | None = None,
               schedule_s: Callable[[int], float] | None = None) -> Lepton:
    """A Lepton reading the simulator's VoSPI stream of ``frames`` at the camera's rate
    (or at ``schedule_s``, see :class:`lepton.SimulatedTransport`)."""
    transport = SimulatedTransport(VospiSimulator(model, telemetry), frames, realtime=True,
                                   board=board, schedule_s=schedule_s)
    return Lepton(model=model, telemetry=telemetry, transport=transport, cci=cci)


def _load_replay(config: Config) -> TimedRecording:
    """The recording named by ``Replay``: frames ndarray uint16 (n, rows, cols), with times.

    Raises:
        ConfigError: no path, or the recording cannot be used (the reason is given).
    """
    where = config.config_path or "command line"
    if not config.replay:
        raise ConfigError(where, "Source", "Replay", "",
                          "--source replay needs a recording: --replay PATH or Replay = PATH")
    try:
        return load_timed_recording(config.replay)
    except LeptonError as exc:
        raise ConfigError(where, "Source", "Replay", config.replay, str(exc)) from None
