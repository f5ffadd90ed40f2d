"""A real Mosquitto broker for tests: Debian's package, started per test on a free 127.0.0.1 port.

``./test.sh`` installs ``mosquitto`` and ``mosquitto-clients`` when missing. The broker
runs in the foreground as a subprocess with a generated config file (anonymous, or with
a password file made by ``mosquitto_passwd``), and is stopped by its PID.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import stop_process

START_TIMEOUT_S = 10.0


def mosquitto_binary() -> str:
    """The broker's path (Debian puts it in /usr/sbin, which may not be on PATH)."""
    path = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.access(path, os.X_OK):
        if os.environ.get("CI") == "true":
            pytest.fail("mosquitto is missing on CI: test.sh installs it")
        pytest.skip("needs Debian's mosquitto package (./test.sh installs it)")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Mosquitto:
    """One running broker.

    Attributes:
        port: its port on 127.0.0.1.
        url: ``mqtt://127.0.0.1:PORT`` for ``[MQTT] Broker``.
        folder: its temporary folder (config, password file, log).
    """

    def __init__(self, users: dict[str, str] | None = None, port: int | None = None,
                 extra_config: str = ""):
        self.folder = Path(tempfile.mkdtemp(prefix="mosquitto-"))
        os.chmod(self.folder, 0o777)  # as root, mosquitto drops to its own user, which logs here
        self.port = port or free_port()
        self.url = f"mqtt://127.0.0.1:{self.port}"
        lines = [f"listener {self.port} 127.0.0.1", "persistence false",
                 f"log_dest file {self.folder / 'mosquitto.log'}", "log_type all"]
        if users:
            passwords = self.folder / "passwords"
            for index, (user, password) in enumerate(users.items()):
                subprocess.run(["mosquitto_passwd", "-b", *(["-c"] if index == 0 else []),
                                str(passwords), user, password], check=True, timeout=10)
            os.chmod(passwords, 0o644)
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            lines.append("allow_anonymous true")
        config = self.folder / "mosquitto.conf"
        config.write_text("\n".join([*lines, extra_config, ""]))
        os.chmod(self.folder / "mosquitto.conf", 0o644)
        self.process = subprocess.Popen([mosquitto_binary(), "-c", str(config)],
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._accepting():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not start:\n{self.log()}")
            time.sleep(0.02)

    def _accepting(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port),
                                                                    timeout=0.5):
            return True
        return False

    def log(self) -> str:
        """What the broker logged so far."""
        path = self.folder / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Stop the broker (SIGTERM, then SIGKILL) and remove its folder. Idempotent."""
        stop_process(self.process)
        shutil.rmtree(self.folder, ignore_errors=True)


@contextlib.contextmanager
def mosquitto(users: dict[str, str] | None = None, port: int | None = None,
              extra_config: str = "") -> Iterator[Mosquitto]:
    """A broker for the ``with`` block; stopped by its PID when the block ends."""
    broker = Mosquitto(users, port, extra_config)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def broker() -> Iterator[Mosquitto]:
    """An anonymous broker on a free 127.0.0.1 port."""
    with mosquitto() as running:
        yield running
