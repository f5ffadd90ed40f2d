"""Errors raised by the ``lepton`` package.

Every error the package raises on purpose derives from :class:`LeptonError`, so
``except LeptonError`` catches them all. Errors carry their facts as attributes
and build their message from them.

Bad bytes on the wire (CRC errors, packets out of order, lost sync) are *not*
exceptions: the VoSPI parser reports them as events and counters
(:mod:`lepton.vospi`). Exceptions are for bad arguments, a device that cannot
be used, or a stream that has ended.

The tree (open: other modules add their own subclasses)::

    LeptonError
     ├── ShapeError(ValueError)       name, expected, actual      an array of the wrong shape/dtype
     ├── UnitError(ValueError)        unit, operation             counts asked for as a temperature
     ├── ResolutionError(ValueError)  resolution_k                TLinear resolution not 0.01/0.1 K
     ├── RangeError(ValueError)       name, value, allowed        an argument out of its range
     ├── StreamEnded                  frames                      a finite transport ran dry
     ├── DeviceError(OSError)         device, reason, fix, os_errno   a /dev node cannot be used
     │    ├── SpiDeviceError          (in spidev.py, with its own subclasses)
     │    ├── PowerSwitchError        (in power.py)  the power line cannot be used
     │    └── CciBusError             (in i2cdev.py)
     └── CciError                     (in cci_protocol.py)
          ├── CciCommandError         (cci_protocol.py)  a non-zero response code
          ├── CciUnknownValueError    (cci_protocol.py)  an enum code the driver does not know
          ├── CciTimeoutError         (cci.py)           BUSY never cleared
          └── CciBusError             (i2cdev.py)        also a DeviceError

The ``ValueError`` subclasses are also ``ValueError`` so callers that only know
the standard library still catch them; for the same reason :class:`DeviceError` is
also an ``OSError`` (``IOError``), as pylepton's errors were (docs/vospi.md §11).
"""

from __future__ import annotations

__all__ = [
    "DeviceError",
    "LeptonError",
    "RangeError",
    "ResolutionError",
    "ShapeError",
    "StreamEnded",
    "UnitError",
]


class LeptonError(Exception):
    """Base class of every error the ``lepton`` package raises on purpose."""


class ShapeError(LeptonError, ValueError):
    """An array argument has the wrong shape or dtype.

    Attributes:
        name: what the argument is ("pixels", "telemetry rows").
        expected: the shape and dtype wanted, as text ("(60, 80) uint16").
        actual: what was given, as text.
    """

    def __init__(self, name: str, expected: str, actual: str):
        self.name = name
        self.expected = expected
        self.actual = actual
        super().__init__(f"{name} must be {expected}, got {actual}")


class UnitError(LeptonError, ValueError):
    """A temperature was asked of pixels that are not temperatures.

    Attributes:
        unit: the :class:`lepton.radiometry.PixelUnit` of the pixels.
        operation: the function that needs a temperature unit.
    """

    def __init__(self, unit: object, operation: str):
        self.unit = unit
        self.operation = operation
        name = getattr(unit, "name", repr(unit))
        super().__init__(
            f"{operation} needs pixels in CENTIKELVIN or DECIKELVIN (TLinear on), got {name}: "
            "counts are not temperatures"
        )


class ResolutionError(LeptonError, ValueError):
    """A TLinear resolution other than the two the Lepton has (IDD §4.8.10-11; docs/cci.md §5).

    Attributes:
        resolution_k: the resolution given, kelvin per count.
        allowed: the resolutions the Lepton supports, kelvin per count.
    """

    allowed = (0.01, 0.1)

    def __init__(self, resolution_k: object):
        self.resolution_k = resolution_k
        super().__init__(f"TLinear resolution must be 0.01 or 0.1 K, got {resolution_k!r}")


class RangeError(LeptonError, ValueError):
    """An argument is outside its allowed range.

    Attributes:
        name: the argument's name.
        value: the value given.
        allowed: the allowed range, as text ("0.0..1.0").
    """

    def __init__(self, name: str, value: object, allowed: str):
        self.name = name
        self.value = value
        self.allowed = allowed
        super().__init__(f"{name} must be {allowed}, got {value!r}")


class StreamEnded(LeptonError):
    """A finite transport (simulated or replayed frames) has no more bytes.

    Attributes:
        frames: unique frames delivered before the end.
    """

    def __init__(self, frames: int):
        self.frames = frames
        super().__init__(f"the VoSPI stream ended after {frames} unique frames")


class DeviceError(LeptonError, OSError):
    """A device node (spidev, i2c-dev, gpiochip) cannot be opened, configured or used.

    Also an ``OSError`` (so ``except IOError:`` written for pylepton catches it),
    whose ``errno`` is ``os_errno``; ``str()`` is the message below, not
    ``"[Errno N] ..."``.

    Attributes:
        device: the device path, e.g. ``"/dev/spidev0.0"``.
        reason: what went wrong, without the device name.
        fix: what the user can do about it (a sentence), or ``""``.
        os_errno: the ``errno`` of the underlying ``OSError``, or ``None``.
    """

    def __init__(self, device: str, reason: str, fix: str = "", os_errno: int | None = None):
        self.device = device
        self.reason = reason
        self.fix = fix
        self.os_errno = os_errno
        message = f"{device}: {reason}"
        if fix:
            message += f". {fix}"
        super().__init__(message)
        self.errno = os_errno
