"""FLIR Lepton thermal camera over VoSPI: the package's public API.

The camera is :class:`Lepton` (a drop-in for ``pylepton.Lepton``); the VoSPI
parsing underneath is pure (:class:`VospiParser`: bytes in, events out) and
is tested against :class:`VospiSimulator` and real recorded frames.

Modules, in data-flow order:

* video: ``transport`` (where bytes come from; ``spidev`` is the only module
  that opens ``/dev/spidev*``), ``crc``, ``vospi`` (packets to frames, pure),
  ``telemetry``, ``radiometry`` (pixel values to temperatures), ``simulator``
  (frames to the bytes a camera sends), ``replay`` (recordings to frames),
  ``camera`` (the read loop);
* healing: ``recovery`` (the escalation: a pure state machine and its shell),
  ``power`` (the camera's power line; the only module that opens
  ``/dev/gpiochip*``), ``simulated_board`` (a simulated camera's power and hangs);
* control: ``cci_protocol`` (registers, command words, codes; pure),
  ``i2cdev`` (the only module that opens ``/dev/i2c-*``), ``cci`` (the
  client, :class:`Cci`), ``cci_simulator`` (a simulated camera's registers);
* shared: ``models`` (models, part numbers, telemetry location), ``devnode``
  (opening a device node and explaining its errors), ``errors``.

Protocol facts are documented, with their FLIR sources, in docs/vospi.md and
docs/cci.md.
"""

from .camera import DETECTED_MODELS, CaptureCounters, CapturedFrame, Lepton, LinkStatus
from .cci import Cci, CciBus, CciTimeoutError
from .cci_protocol import CciCommandError, CciError, CciUnknownValueError, FfcStatus, GainMode
from .cci_simulator import SimulatedCciDevice
from .crc import crc16, packet_crcs
from .errors import LeptonError, RangeError, ResolutionError, ShapeError, StreamEnded, UnitError
from .i2cdev import CciBusError, I2cBus
from .models import LeptonPart, Model, TelemetryLocation
from .power import GpiodPowerSwitch, GpioLine, PowerSwitch, PowerSwitchError, parse_gpio_line
from .radiometry import (
    FluxLinearParams,
    PixelUnit,
    celsius_to_pixels,
    correct_frame,
    guess_unit,
    to_celsius,
    to_fahrenheit,
    to_kelvin,
    unit_for_tlinear_resolution,
)
from .recovery import (
    BOOT_S,
    MIN_BOOT_S,
    Recovery,
    RecoveryAction,
    RecoveryCounters,
    RecoveryMachine,
    RecoveryPolicy,
    RecoveryState,
)
from .replay import ReplayError, TimedRecording, load_recording, load_timed_recording
from .simulated_board import Hang, SimulatedBoard
from .simulator import FaultConfig, FaultKind, VospiSimulator
from .spidev import (
    DEFAULT_SPI_SPEED_HZ,
    NotASpiDeviceError,
    SpiBufferSizeError,
    SpiDeviceError,
    SpiDeviceNotFoundError,
    SpidevTransport,
    SpiPermissionError,
)
from .telemetry import FfcState, Telemetry, encode_telemetry, parse_telemetry
from .transport import SimulatedTransport, Transport
from .vospi import (
    Event,
    FrameParsed,
    ModelDetected,
    NoSignal,
    SyncLossReason,
    SyncLost,
    VospiCounters,
    VospiParser,
)

__all__ = [
    "BOOT_S",
    "DEFAULT_SPI_SPEED_HZ",
    "DETECTED_MODELS",
    "MIN_BOOT_S",
    "CaptureCounters",
    "CapturedFrame",
    "Cci",
    "CciBus",
    "CciBusError",
    "CciCommandError",
    "CciError",
    "CciTimeoutError",
    "CciUnknownValueError",
    "Event",
    "FaultConfig",
    "FaultKind",
    "FfcState",
    "FfcStatus",
    "FluxLinearParams",
    "FrameParsed",
    "GainMode",
    "GpioLine",
    "GpiodPowerSwitch",
    "Hang",
    "I2cBus",
    "Lepton",
    "LeptonError",
    "LeptonPart",
    "LinkStatus",
    "Model",
    "ModelDetected",
    "NoSignal",
    "NotASpiDeviceError",
    "PixelUnit",
    "PowerSwitch",
    "PowerSwitchError",
    "RangeError",
    "Recovery",
    "RecoveryAction",
    "RecoveryCounters",
    "RecoveryMachine",
    "RecoveryPolicy",
    "RecoveryState",
    "ReplayError",
    "ResolutionError",
    "ShapeError",
    "SimulatedBoard",
    "SimulatedCciDevice",
    "SimulatedTransport",
    "SpiBufferSizeError",
    "SpiDeviceError",
    "SpiDeviceNotFoundError",
    "SpiPermissionError",
    "SpidevTransport",
    "StreamEnded",
    "SyncLossReason",
    "SyncLost",
    "Telemetry",
    "TimedRecording",
    "TelemetryLocation",
    "Transport",
    "UnitError",
    "VospiCounters",
    "VospiParser",
    "VospiSimulator",
    "celsius_to_pixels",
    "correct_frame",
    "crc16",
    "encode_telemetry",
    "guess_unit",
    "load_recording",
    "load_timed_recording",
    "packet_crcs",
    "parse_gpio_line",
    "parse_telemetry",
    "to_celsius",
    "to_fahrenheit",
    "to_kelvin",
    "unit_for_tlinear_resolution",
]
