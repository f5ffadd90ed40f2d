"""The MQTT topics of one camera, shared by the publisher and the ``mqtt`` relay source.

Every topic is ``<Topic_Prefix>/<Camera_ID>/<name>``; the payloads are described in
docs/protocol.md (MQTT). Pure.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class CameraTopics:
    """The topics of the camera ``camera_id`` under ``prefix``.

    Attributes:
        frame: every frame, exactly the ``/stream`` binary message (retained).
        jpeg: the JPEG alone, every JPEG_Interval (Home Assistant's MQTT camera).
        stats: JSON statistics in degrees C, every Stats_Interval.
        state: the shared acquisition state, JSON, retained, on every change.
        availability: ``online`` / ``offline`` (the last will), retained.
        cmd: JSON commands, as on the WebSocket ``/stream``.
        cmd_result: the answer to each ``cmd`` message.

    Per region and alarm (names are ``[A-Za-z0-9_.-]``, so they are one topic level):
    :meth:`roi` (the region's values), :meth:`alarm_state` and :meth:`alarm_event`.
    """

    prefix: str
    camera_id: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.camera_id}"

    @property
    def frame(self) -> str:
        return f"{self.base}/frame"

    @property
    def jpeg(self) -> str:
        return f"{self.base}/jpeg"

    @property
    def stats(self) -> str:
        return f"{self.base}/stats"

    @property
    def state(self) -> str:
        return f"{self.base}/state"

    @property
    def availability(self) -> str:
        return f"{self.base}/availability"

    @property
    def signed(self) -> frozenset[str]:
        """What ``Signing_Key_File`` signs and an edge checks: frame, state, availability."""
        return frozenset((self.frame, self.state, self.availability))

    @property
    def cmd(self) -> str:
        return f"{self.base}/cmd"

    @property
    def cmd_result(self) -> str:
        return f"{self.base}/cmd/result"

    def roi(self, name: str) -> str:
        """Region ``name``'s newest min, max and mean, JSON, every Stats_Interval."""
        return f"{self.base}/roi/{name}"

    def alarm_state(self, name: str) -> str:
        """Alarm ``name``'s state, JSON, retained, on every change."""
        return f"{self.base}/alarm/{name}/state"

    def alarm_event(self, name: str) -> str:
        """Alarm ``name``'s transitions, JSON, one message each."""
        return f"{self.base}/alarm/{name}/event"
