"""What the daemon reports about itself: /config.json for the page, /healthz for people and tools.

Both payloads are described in docs/protocol.md; ``/metrics`` is rendered from the
health payload (:mod:`thermal_streamer.outputs.metrics`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from thermal_streamer.control.render_settings import FIELDS
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.core.frames import RawFrame
from thermal_streamer.core.health import ReportsHealth
from thermal_streamer.core.hub import Hub
from thermal_streamer.core.source import Source

STALE_AFTER_S = 5.0  # no source frame for this long means the source is stuck


class Status:
    """Builds the /config.json and /healthz payloads from the running parts.

    Thread-safe (every part it reads is).

    Args:
        hub: frames and viewers.
        state: the shared acquisition state.
        source: the running source (its kind, counters and abilities).
        ws_port: the WebSocket port the page connects to.
        components: the parts that talk to the outside, by name ({"stats_log": ...}).
        reports: more /healthz fields, by name: callables returning a JSON value
            ({"rois": the regions' newest values, "alarms": the alarm rules' states}).
        clock: monotonic clock, seconds (injectable).
    """

    def __init__(self, hub: Hub, state: AcquisitionState, source: Source, ws_port: int,
                 components: Mapping[str, ReportsHealth] | None = None,
                 reports: Mapping[str, Callable[[], Any]] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self._hub, self._state, self._source, self._ws_port = hub, state, source, ws_port
        self._components = dict(components or {})
        self._reports = dict(reports or {})
        self._clock = clock
        self._started_at = clock()

    def frames_flowing(self) -> bool:
        """True if the source produced a frame within the last STALE_AFTER_S seconds."""
        age = self._hub.source_rate.age()
        return age is not None and age < STALE_AFTER_S

    def page_config(self) -> dict[str, Any]:
        """/config.json: what the viewer page needs to connect and to build its controls.

        ``width``/``height`` are the newest source frame's (None before the first);
        ``render_settings`` describes every ``set`` field (kind, default, bounds).
        """
        _, frame = self._hub.raw.latest()
        width = height = None
        if isinstance(frame, RawFrame):
            height, width = frame.pixels.shape
        elif frame is not None:
            width, height = frame.width, frame.height
        return {"version": 1, "ws_port": self._ws_port, "ws_path": "/stream",
                "source": self._source.kind, "width": width, "height": height,
                "scale": self._state.render_settings().scale, "raw": self._source.has_raw,
                "ffc": self._source.can_ffc,
                "render_settings": [field.describe() for field in FIELDS]}

    def health(self) -> dict[str, Any]:
        """/healthz: status, source, counters, rate, age of the newest frame, clients,
        components, and each of ``reports``.

        ``status`` is ``starting`` (no frame yet, within STALE_AFTER_S of start), ``ok``
        (frames flowing) or ``stale``; it follows the frames only (a failing component
        shows in ``components`` but the viewers still get their frames).
        """
        age = self._hub.source_rate.age()
        uptime = self._clock() - self._started_at
        if self.frames_flowing():
            status = "ok"
        else:
            status = "starting" if age is None and uptime < STALE_AFTER_S else "stale"
        return {
            "status": status,
            "source": self._source.kind,
            "source_status": self._source.status(),
            "frames_captured": self._hub.source_rate.count,
            "frames_published": self._hub.published,
            "fps": self._hub.source_rate.rate,
            "seconds_since_last_frame": None if age is None else round(age, 3),
            "uptime_s": round(uptime, 1),
            "clients": self._hub.viewer_counts(),
            "client_list": [v.as_dict() for v in self._hub.viewers()],
            "state": self._state.snapshot(),
            "components": {name: component.health().as_dict()
                           for name, component in self._components.items()},
            **{name: report() for name, report in self._reports.items()},
        }
