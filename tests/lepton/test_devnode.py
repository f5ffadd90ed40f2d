"""lepton.devnode: the device-node lifecycle and errno ladder that spidev and i2c-dev share."""

import errno
import os

import pytest

from lepton.devnode import DeviceKind, DeviceNode, device_error_from_oserror, group_fix
from lepton.errors import DeviceError


class NodeError(DeviceError):
    """Anything else."""


class Missing(NodeError):
    """ENOENT."""


class Denied(NodeError):
    """EACCES / EPERM."""


class WrongNode(NodeError):
    """EISDIR / ENOTTY."""


KIND = DeviceKind(
    node="gadget",
    what="a gadget",
    missing="no such gadget",
    enable_fix="Enable gadgets",
    group="gadgets",
    wrong_node_fix="Give a gadget node",
    error=NodeError,
    not_found_error=Missing,
    permission_error=Denied,
    wrong_node_error=WrongNode,
)


@pytest.mark.parametrize(
    "code, cls, message",
    [
        (errno.ENOENT, Missing, "/dev/g0: no such gadget. Enable gadgets"),
        (
            errno.EACCES,
            Denied,
            "/dev/g0: op: permission denied. Add your user to the gadgets group with "
            "`sudo usermod -aG gadgets $USER`, then log out and in again",
        ),
        (
            errno.EPERM,
            Denied,
            f"/dev/g0: op: permission denied. {group_fix('gadgets')}",
        ),
        (errno.EISDIR, WrongNode, "/dev/g0: not a gadget (it is a directory). Give a gadget node"),
        (
            errno.ENOTTY,
            WrongNode,
            "/dev/g0: not a gadget (op failed: Inappropriate ioctl for device). Give a gadget node",
        ),
        (errno.EBUSY, NodeError, "/dev/g0: op failed: Device or resource busy"),
    ],
)
def test_errno_ladder(code, cls, message):
    """Each errno maps to the kind's error class and message, keeping the errno."""
    error = device_error_from_oserror(KIND, "/dev/g0", OSError(code, "x"), "op")
    assert type(error) is cls
    assert error.os_errno == code
    assert str(error) == message


def test_open_failure_is_explained(tmp_path):
    """A missing node raises the kind's not-found error, naming the path."""
    path = str(tmp_path / "g9")
    with pytest.raises(Missing) as info:
        DeviceNode(path, KIND)
    assert str(info.value) == f"{path}: no such gadget. Enable gadgets"


def test_failed_setup_closes_the_node_and_propagates(tmp_path):
    """When setup raises, the descriptor is closed again and the error escapes."""
    path = tmp_path / "file"
    path.write_bytes(b"")
    seen = []

    def setup(node):
        seen.append(node)
        node.call("ioctl X", _fail_with, errno.ENOTTY)

    with pytest.raises(WrongNode) as info:
        DeviceNode(str(path), KIND, setup=setup)
    assert str(info.value).startswith(f"{path}: not a gadget (ioctl X failed: ")
    assert seen[0].closed


def _fail_with(fd, code):
    raise OSError(code, os.strerror(code))


def test_call_passes_the_descriptor_and_close_is_idempotent(tmp_path):
    """call() runs the system call on the node's fd; after close() it raises 'closed'."""
    path = tmp_path / "file"
    path.write_bytes(b"abc")
    node = DeviceNode(str(path), KIND)
    assert node.call("read", os.read, 2) == b"ab"
    node.close()
    node.close()
    assert node.closed
    with pytest.raises(NodeError) as info:
        node.call("read", os.read, 1)
    assert str(info.value) == f"{path}: the gadget is closed"


def test_custom_explain_runs_before_the_ladder(tmp_path):
    """A bus's own errno cases (e.g. EMSGSIZE) come from its explain function."""
    path = tmp_path / "file"
    path.write_bytes(b"")

    def explain(exc, operation):
        if exc.errno == errno.EMSGSIZE:
            return NodeError(str(path), f"{operation} too long")
        return device_error_from_oserror(KIND, str(path), exc, operation)

    node = DeviceNode(str(path), KIND, explain=explain)
    with pytest.raises(NodeError) as info:
        node.call("read of 9 bytes", _fail_with, errno.EMSGSIZE)
    assert str(info.value) == f"{path}: read of 9 bytes too long"
    node.close()
