"""How a part that talks to the outside (a disk, later a broker or a webhook) reports its health.

Each such part has a ``health()`` method returning a :class:`ComponentHealth`; the app
hands them to :class:`thermal_streamer.outputs.reports.Status` by name, which puts them in /healthz
(``components``) and /metrics (``thermal_component_ok``,
``thermal_component_events_total``). A failing component never stops the frames.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol


@dataclasses.dataclass(frozen=True)
class ComponentHealth:
    """One component's state now.

    Attributes:
        state: its state's name ("writing", "failing", "connected", ...).
        ok: False while it is failing (it retries by itself).
        counters: monotonic event counts since start ({"errors": 2, "rows_dropped": 0}).
        last_error: the text of its newest error, "" before any.
        gauges: values that go up and down, each its own metric
            ``thermal_<component>_<name>`` ({"connected": 1.0} -> thermal_mqtt_connected).
    """

    state: str
    ok: bool
    counters: Mapping[str, int]
    last_error: str = ""
    gauges: Mapping[str, float] = dataclasses.field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The /healthz form: state, ok, last_error, counters and gauges."""
        return {"state": self.state, "ok": self.ok, "last_error": self.last_error,
                "counters": dict(self.counters), "gauges": dict(self.gauges)}


class ReportsHealth(Protocol):
    """Anything whose health /healthz and /metrics report."""

    def health(self) -> ComponentHealth:
        """Its state now (thread-safe, never blocks for long)."""
        ...
