"""FLIR Lepton thermal camera over VoSPI: the package's public API.

The camera is :class:`Lepton` (a drop-in for ``pylepton.Lepton``); the VoSPI
parsing underneath is pure (:class:`VospiParser`: bytes in, events out) and
is tested against :class:`VospiSimulator` and real recorded frames.

Modules, in data-flow order: ``transport`` (where bytes come from; ``spidev``
is the only module that opens ``/dev/spidev*``), ``crc``, ``vospi`` (packets
to frames), ``telemetry``, ``radiometry`` (pixel values to temperatures),
``simulator`` (frames to the bytes a camera sends), ``camera`` (the read
loop), ``errors``.
"""

from .camera import CaptureCounters, CapturedFrame, Lepton, LinkStatus
from .crc import crc16, packet_crcs
from .errors import LeptonError, RangeError, ResolutionError, ShapeError, StreamEnded, UnitError
from .radiometry import (
    PixelUnit,
    celsius_to_pixels,
    guess_unit,
    to_celsius,
    to_fahrenheit,
    to_kelvin,
    unit_for_tlinear_resolution,
)
from .simulator import FaultConfig, FaultKind, VospiSimulator
from .telemetry import FfcState, Telemetry, encode_telemetry, parse_telemetry
from .transport import SimulatedTransport, Transport
from .vospi import (
    Event,
    FrameParsed,
    Model,
    ModelDetected,
    NoSignal,
    SyncLossReason,
    SyncLost,
    TelemetryLocation,
    VospiCounters,
    VospiParser,
)

# --- Added by the engineers of spidev.py / cci.py / replay.py (keep this block) ---
from .cci import (
    Cci,
    CciBus,
    CciBusError,
    CciCommandError,
    CciError,
    CciTimeoutError,
    FfcStatus,
    GainMode,
    I2cBus,
    LeptonPart,
    SimulatedCciDevice,
)
from .replay import ReplayError, load_recording
from .spidev import (
    NotASpiDeviceError,
    SpiBufferSizeError,
    SpiDeviceError,
    SpiDeviceNotFoundError,
    SpidevTransport,
    SpiPermissionError,
)

# --- end of the block -------------------------------------------------------------

__all__ = [
    "CaptureCounters",
    "CapturedFrame",
    "Cci",
    "CciBus",
    "CciBusError",
    "CciCommandError",
    "CciError",
    "CciTimeoutError",
    "Event",
    "FaultConfig",
    "FaultKind",
    "FfcState",
    "FfcStatus",
    "FrameParsed",
    "GainMode",
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
    "RangeError",
    "ReplayError",
    "ResolutionError",
    "ShapeError",
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
    "TelemetryLocation",
    "Transport",
    "UnitError",
    "VospiCounters",
    "VospiParser",
    "VospiSimulator",
    "celsius_to_pixels",
    "crc16",
    "encode_telemetry",
    "guess_unit",
    "load_recording",
    "packet_crcs",
    "parse_telemetry",
    "to_celsius",
    "to_fahrenheit",
    "to_kelvin",
    "unit_for_tlinear_resolution",
]
