"""A stand-in for the origin daemon's MQTT side, for the relay's tests and ``bench/edge.py``.

It sends what docs/protocol.md ("Relaying") says an origin sends, made by the real parts:
``frame`` (the real Renderer's ``/stream?raw=1`` message of a real Lepton 3 capture,
retained), ``state`` (the real AcquisitionState's snapshot, retained, on every change),
``availability`` (``online``, retained; ``offline`` as the will), and it answers ``cmd``
with the real CommandRunner, on ``cmd/result`` with the command's ``id``. Used until
the origin daemon's publisher is in the tree; the relay does not know the difference.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from lepton import load_recording
from lepton.radiometry import PixelUnit
from thermal_streamer.config.values import BrokerUrl
from thermal_streamer.control.commands import CommandError, CommandRunner
from thermal_streamer.control.render_settings import RenderSettings
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.core.hub import Hub
from thermal_streamer.mqtt.link import BrokerSettings, MqttLink, Will
from thermal_streamer.mqtt.topics import CameraTopics
from thermal_streamer.protocols.signing import Signer
from thermal_streamer.render.renderer import Renderer

DATA = Path(__file__).resolve().parent / "data"
CAPTURES = [DATA / f"Jkillelea_Lepton-3-Module__raw{n}.npy" for n in (1, 3, 6)]
JOIN_TIMEOUT_S = 5.0


def real_frames() -> list[RawFrame]:
    """Three real Lepton 3 captures, 120x160 centikelvin (about 20-36 C)."""
    return [RawFrame(load_recording(path)[0], PixelUnit.CENTIKELVIN, 0.0, {"fpa_temp_c": 30.5})
            for path in CAPTURES]


def no_ffc() -> concurrent.futures.Future[None]:
    future: concurrent.futures.Future[None] = concurrent.futures.Future()
    future.set_exception(NotImplementedError("ffc is only available with a Lepton camera "
                                             "(source is simulated)"))
    return future


class StandInOrigin:
    """The origin camera ``camera_id`` on the broker at 127.0.0.1:``port``.

    With ``signing_key`` it signs frame, state and availability as the publisher does.

    Attributes:
        signer: its Signer (None without a key).
        state: its shared state (commands change it; every change is published).
        topics: its topics.
        commands_seen: every ``cmd`` payload received, in order (run without a token,
            as the publisher runs them).
        port: the broker's port.
        link: its broker connection (run it with :func:`running`).
    """

    def __init__(self, port: int, camera_id: str = "origin", prefix: str = "thermal",
                 signing_key: bytes = b""):
        self.port = port
        self.state = AcquisitionState(RenderSettings())
        self.restart()
        self.topics = CameraTopics(prefix, camera_id)
        self._runner = CommandRunner(self.state, no_ffc)
        self.commands_seen: list[bytes] = []
        self.connected = threading.Event()
        self.signer = Signer(signing_key, self.topics.signed) if signing_key else None
        self.link = MqttLink(
            BrokerSettings(BrokerUrl("127.0.0.1", port, False), f"thermal-{camera_id}"),
            "origin", will=Will(self.topics.availability, b"offline"),
            on_connected=self._announce, subscriptions={self.topics.cmd: self._on_cmd},
            signer=self.signer)
        self.state.add_listener(self._publish_state)

    def restart(self) -> None:
        """Start numbering frames again at 1, as a restarted origin process does."""
        self.hub = Hub()
        self.renderer = Renderer(self.hub, self.state, "simulated")

    def publish(self, frame: RawFrame) -> bytes:
        """Render ``frame`` as the origin would (its next seq, time now) and publish it.

        Returns:
            The message sent: exactly the origin's ``/stream?raw=1`` binary message.
        """
        frame = RawFrame(frame.pixels, frame.unit, time.time(), frame.meta)
        seq = self.hub.publish_source_frame(frame)
        message = self.renderer.encode(seq, frame).stream_message_raw
        self.link.publish(self.topics.frame, message, retain=True)
        return message

    def _announce(self) -> None:
        self.link.publish(self.topics.availability, b"online", retain=True, qos=1)
        self._publish_state(self.state.snapshot())
        self.connected.set()

    def _publish_state(self, snapshot: dict) -> None:
        self.link.publish(self.topics.state, json.dumps(snapshot), retain=True, qos=1)

    def _on_cmd(self, _topic: str, payload: bytes) -> None:
        self.commands_seen.append(payload)
        try:
            command_id = json.loads(payload).get("id")
        except (ValueError, AttributeError):
            command_id = None
        error = None
        try:
            self._runner.execute_trusted(payload).result(JOIN_TIMEOUT_S)  # as the publisher
        except (CommandError, NotImplementedError) as exc:
            error = str(exc)
        self.link.publish(self.topics.cmd_result,
                          json.dumps({"id": command_id, "ok": error is None, "error": error}),
                          qos=1)


@contextlib.contextmanager
def running(link: MqttLink, name: str) -> Iterator[MqttLink]:
    """Run ``link`` in a named thread; stop and join it when the block ends."""
    thread = threading.Thread(target=link.run, name=name)
    thread.start()
    try:
        yield link
    finally:
        link.stop()
        thread.join(JOIN_TIMEOUT_S)
        assert not thread.is_alive(), f"{name} did not stop"
