"""Open a Linux device node and explain its failures: shared by spidev and i2c-dev.

:class:`DeviceNode` owns one file descriptor opened ``O_RDWR | O_CLOEXEC``:
it runs the caller's setup (ioctls) and closes the descriptor again when
setup fails, turns every ``OSError`` of a system call on it into the node's
:class:`~lepton.errors.DeviceError` subclass, and closes idempotently.
:func:`device_error_from_oserror` is the errno ladder both buses share: the
node is missing (bus not enabled), the user may not open it (not in the
bus's group), it is not that kind of node, or something else (the system's
text). Each bus describes itself once in a :class:`DeviceKind`.

Only :mod:`lepton.spidev` and :mod:`lepton.i2cdev` use this module; they are
the only modules that open ``/dev/spidev*`` and ``/dev/i2c-*``.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar, TypeVarTuple

from .errors import DeviceError

__all__ = ["DeviceKind", "DeviceNode", "device_error_from_oserror", "group_fix"]

E = TypeVar("E", bound=DeviceError)
R = TypeVar("R")
Ts = TypeVarTuple("Ts")


def group_fix(group: str) -> str:
    """The fix for EACCES/EPERM on a node owned by ``group`` (``spi``, ``i2c``)."""
    return (
        f"Add your user to the {group} group with `sudo usermod -aG {group} $USER`, "
        "then log out and in again"
    )


@dataclass(frozen=True)
class DeviceKind(Generic[E]):
    """How one kind of device node is named, and which error explains which failure.

    Attributes:
        node: what a node is called in "the bus is closed" (``"device"``, ``"bus"``).
        what: with its article, in "not a SPI device (...)" (``"a SPI device"``).
        missing: the reason for ENOENT (``"no such device"``).
        enable_fix: the fix for ENOENT (how to enable the bus).
        group: the group that may open the nodes, for EACCES/EPERM.
        wrong_node_fix: the fix for a node of the wrong kind, or ``""``.
        error: the error for anything else, and the base of the three below.
        not_found_error, permission_error, wrong_node_error: the error for
            ENOENT, EACCES/EPERM, and EISDIR/ENOTTY.
    """

    node: str
    what: str
    missing: str
    enable_fix: str
    group: str
    wrong_node_fix: str
    error: type[E]
    not_found_error: type[E]
    permission_error: type[E]
    wrong_node_error: type[E]


def device_error_from_oserror(kind: DeviceKind[E], device: str, exc: OSError, operation: str) -> E:
    """Translate an ``OSError`` from a system call on a device node into an actionable error.

    Args:
        kind: the kind of node.
        device: the device path, named in the message.
        exc: the error raised by ``os.open``, ``fcntl.ioctl``, ``os.read`` or ``os.write``.
        operation: what was being done, e.g. ``"open"`` or ``"ioctl SPI_IOC_WR_MODE"``;
            named in the message when it helps.

    Returns:
        ENOENT -> ``kind.not_found_error`` with ``kind.enable_fix``; EACCES/EPERM
        -> ``kind.permission_error`` with :func:`group_fix`; EISDIR, ENOTTY ->
        ``kind.wrong_node_error``; anything else -> ``kind.error`` with the
        system's error text. ``os_errno`` is ``exc.errno``.
    """
    code = exc.errno
    text = os.strerror(code) if code is not None else str(exc)
    if code == errno.ENOENT:
        return kind.not_found_error(device, kind.missing, kind.enable_fix, code)
    if code in (errno.EACCES, errno.EPERM):
        return kind.permission_error(
            device, f"{operation}: permission denied", group_fix(kind.group), code
        )
    if code == errno.EISDIR:
        reason = f"not {kind.what} (it is a directory)"
        return kind.wrong_node_error(device, reason, kind.wrong_node_fix, code)
    if code == errno.ENOTTY:
        reason = f"not {kind.what} ({operation} failed: {text})"
        return kind.wrong_node_error(device, reason, kind.wrong_node_fix, code)
    return kind.error(device, f"{operation} failed: {text}", "", code)


class DeviceNode(Generic[E]):
    """One open device node: its descriptor, its setup, its errors, its closing.

    Not thread-safe: the transport that owns it serialises its use.

    Args:
        device: the path, e.g. ``"/dev/spidev0.0"``.
        kind: the kind of node; its ``error`` is raised by :meth:`call` after
            :meth:`close`.
        explain: turns ``(OSError, operation)`` into the error to raise: the
            bus's own errno cases, then :func:`device_error_from_oserror` (the
            default, without own cases).
        setup: run once with the open node (the bus's ioctls); when it raises,
            the node is closed and the error propagates.

    Raises:
        E: from ``explain``, when ``os.open`` fails; whatever ``setup`` raises.
    """

    def __init__(
        self,
        device: str,
        kind: DeviceKind[E],
        *,
        explain: Callable[[OSError, str], E] | None = None,
        setup: Callable[[DeviceNode[E]], None] | None = None,
    ):
        self.device = device
        self.kind = kind
        self._explain = explain or (
            lambda exc, operation: device_error_from_oserror(kind, device, exc, operation)
        )
        self._fd: int | None = None
        try:
            self._fd = os.open(device, os.O_RDWR | os.O_CLOEXEC)
        except OSError as exc:
            raise self._explain(exc, "open") from exc
        if setup is not None:
            try:
                setup(self)
            except BaseException:
                self.close()
                raise

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._fd is None

    def call(self, operation: str, syscall: Callable[[int, *Ts], R], *args: *Ts) -> R:
        """Run ``syscall(fd, *args)``; an ``OSError`` becomes the node's error naming ``operation``.

        Returns:
            What ``syscall`` returns. Blocks as long as the system call does.

        Raises:
            E: the system call failed (from ``explain``), or the node is closed
                ("the <node> is closed").
        """
        fd = self._fd
        if fd is None:
            raise self.kind.error(self.device, f"the {self.kind.node} is closed")
        try:
            return syscall(fd, *args)
        except OSError as exc:
            raise self._explain(exc, operation) from exc

    def close(self) -> None:
        """Close the descriptor. Idempotent."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
