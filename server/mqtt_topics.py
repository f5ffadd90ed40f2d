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
    def cmd(self) -> str:
        return f"{self.base}/cmd"

    @property
    def cmd_result(self) -> str:
        return f"{self.base}/cmd/result"
