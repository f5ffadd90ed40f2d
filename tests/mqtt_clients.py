"""Independent MQTT clients for tests: Mosquitto's own ``mosquitto_sub`` and ``mosquitto_pub``.

``Subscriber`` records every message (arrival time, retain flag, topic, payload) from a
``mosquitto_sub`` subprocess in a reader thread; tests wait on it with a timeout. It is
stopped by its PID. ``stalled_subscriber`` is a raw-socket subscriber that never reads.
"""

from __future__ import annotations

import dataclasses
import socket
import subprocess
import threading
from collections.abc import Callable

from tests.conftest import stop_process

STOP_TIMEOUT_S = 5.0


@dataclasses.dataclass(frozen=True)
class Message:
    """One message as mosquitto_sub printed it."""

    time: float  # arrival, Unix seconds (mosquitto_sub's clock)
    retained: bool  # sent because it was retained (the subscription is new)
    topic: str
    payload: bytes


class Subscriber:
    """``mosquitto_sub -t TOPIC ...`` on a broker at 127.0.0.1:``port``, recorded.

    Args:
        port: the broker's port.
        topics: topic filters to subscribe to.
        args: further mosquitto_sub options (``-u``, ``-P``, ...).
    """

    def __init__(self, port: int, *topics: str, args: tuple[str, ...] = ()):
        command = ["mosquitto_sub", "-h", "127.0.0.1", "-p", str(port), "-F", "%U %r %t %x",
                   *args]
        for topic in topics:
            command += ["-t", topic]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True)
        self.messages: list[Message] = []
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, name=f"mosquitto-sub-{port}")
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            stamp, retained, topic, *payload = line.rstrip("\n").split(" ", 3)
            message = Message(float(stamp), retained == "1", topic,
                              bytes.fromhex(payload[0] if payload else ""))
            with self._cond:
                self.messages.append(message)
                self._cond.notify_all()

    def on(self, topic: str) -> list[Message]:
        """The messages received on ``topic`` so far, in order."""
        with self._cond:
            return [m for m in self.messages if m.topic == topic]

    def wait_for(self, predicate: Callable[[list[Message]], object],
                 timeout_s: float = 10.0) -> bool:
        """Wait until ``predicate(messages)`` is true (False after ``timeout_s``)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self.messages), timeout_s)

    def wait_on(self, topic: str, predicate: Callable[[Message], object] = lambda m: True,
                timeout_s: float = 10.0) -> Message | None:
        """Wait for a message on ``topic`` that satisfies ``predicate``; None on timeout."""
        found: list[Message] = []

        def match(messages: list[Message]) -> bool:
            found[:] = [m for m in messages if m.topic == topic and predicate(m)]
            return bool(found)

        return found[0] if self.wait_for(match, timeout_s) else None

    def close(self) -> None:
        """Stop mosquitto_sub (by its PID) and its reader thread."""
        stop_process(self.process)
        self._reader.join(STOP_TIMEOUT_S)

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def publish(port: int, topic: str, payload: bytes | str, *args: str) -> None:
    """``mosquitto_pub`` one message (bounded by a 10 s timeout)."""
    data = payload.encode() if isinstance(payload, str) else payload
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic,
                    "-s" if data else "-n", *args], input=data, check=True, timeout=10)


def publish_lines(port: int, topic: str, lines: list[str], *args: str) -> None:
    """``mosquitto_pub -l``: each line one message, all on one connection, back to back."""
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-l",
                    *args], input="".join(f"{line}\n" for line in lines).encode(), check=True,
                   timeout=10)


def _packet(kind: int, body: bytes) -> bytes:
    """An MQTT 3.1.1 control packet: type/flags byte, remaining length (varint), body."""
    length, size = b"", len(body)
    while True:
        size, digit = divmod(size, 128)
        length += bytes([digit | (0x80 if size else 0)])
        if not size:
            return bytes([kind]) + length + body


def _string(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def stalled_subscriber(port: int, topic: str, keepalive_s: int = 60) -> socket.socket:
    """A subscriber (raw socket, MQTT 3.1.1) to ``topic`` that never reads again.

    CONNECT and SUBSCRIBE (QoS 0) are sent and their CONNACK and SUBACK read (MQTT
    3.1.1 §3.1, §3.2, §3.8, §3.9); after that the 4 KiB receive buffer fills and the
    broker must hold or drop what it sends. Close the socket when done.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    connect = (_string("MQTT") + bytes([4, 0x02]) + keepalive_s.to_bytes(2, "big")
               + _string(f"stalled-{port}"))
    sock.sendall(_packet(0x10, connect))
    assert _read_exactly(sock, 4) == b"\x20\x02\x00\x00", "CONNACK: not accepted"
    sock.sendall(_packet(0x82, b"\x00\x01" + _string(topic) + b"\x00"))
    assert _read_exactly(sock, 5) == b"\x90\x03\x00\x01\x00", "SUBACK: not granted"
    return sock


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        data += chunk
    return data
