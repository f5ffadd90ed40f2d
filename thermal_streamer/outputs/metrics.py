"""``/metrics``: the daemon's counters and gauges in the Prometheus text format (0.0.4).

Pure: a health snapshot in, text out. Names follow Prometheus conventions
(``_total`` for counters, base units: seconds, bytes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from thermal_streamer.measure.regions import STATS

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "thermal_"
SKIP_COUNTERS = ("skipped", "crc_errors", "sync_losses")  # source counters that mean a lost frame


def _label_value(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _metric(name: str, kind: str, help_text: str,
            samples: Iterable[tuple[Mapping[str, Any], float]]) -> list[str]:
    lines = [f"# HELP {PREFIX}{name} {help_text}", f"# TYPE {PREFIX}{name} {kind}"]
    for labels, value in samples:
        label_text = ",".join(f'{k}="{_label_value(v)}"' for k, v in labels.items())
        lines.append(f"{PREFIX}{name}{{{label_text}}} {value:g}" if label_text
                     else f"{PREFIX}{name} {value:g}")
    return lines


def render_metrics(health: Mapping[str, Any], totals: Mapping[str, Mapping[str, int]]) -> str:
    """Format the daemon's state for Prometheus.

    Args:
        health: the /healthz payload (Status.health()).
        totals: per-protocol frames_sent, frames_skipped and bytes_sent (Hub.totals()).

    Returns:
        The exposition text, ending with a newline.
    """
    source = health["source"]
    status = health["source_status"]
    counters = {k: v for k, v in status.items() if isinstance(v, int) and not isinstance(v, bool)}
    age = health["seconds_since_last_frame"]
    components = health.get("components", {})
    protocols = sorted(set(totals) | set(health["clients"]) | {"stream", "legacy", "mjpeg"})
    lines = [
        *_metric("up", "gauge", "1 while the source produces frames, 0 when it is stale",
                 [({"source": source}, 1 if health["status"] == "ok" else 0)]),
        *_metric("frames_captured_total", "counter", "Frames received from the source",
                 [({"source": source}, health["frames_captured"])]),
        *_metric("frames_published_total", "counter", "Frames rendered and published to clients",
                 [({}, health["frames_published"])]),
        *_metric("frames_skipped_total", "counter",
                 "Source input that was not a usable frame (torn files, bad CRC, bad TCP frames)",
                 [({"source": source, "reason": k}, v) for k, v in counters.items()
                  if k in SKIP_COUNTERS]),
        *_metric("source_events_total", "counter",
                 "Source counters (VoSPI packets, discard packets, resyncs, file changes, ...)",
                 [({"source": source, "event": k}, v) for k, v in sorted(counters.items())]),
        *_metric("source_fps", "gauge", "Frames per second from the source",
                 [({"source": source}, health["fps"])]),
        *_metric("last_frame_age_seconds", "gauge", "Seconds since the newest source frame",
                 [({"source": source}, age)] if age is not None else []),
        *_metric("clients", "gauge", "Connected clients per protocol",
                 [({"protocol": p}, health["clients"].get(p, 0)) for p in protocols]),
        *_metric("client_frames_sent_total", "counter", "Frames sent to clients",
                 [({"protocol": p}, totals.get(p, {}).get("frames_sent", 0)) for p in protocols]),
        *_metric("client_frames_dropped_total", "counter",
                 "Frames a client was too busy to take (it got a newer one instead)",
                 [({"protocol": p}, totals.get(p, {}).get("frames_skipped", 0))
                  for p in protocols]),
        *_metric("bytes_sent_total", "counter", "Frame bytes written to clients",
                 [({"protocol": p}, totals.get(p, {}).get("bytes_sent", 0)) for p in protocols]),
        *_metric("uptime_seconds", "gauge", "Seconds since the daemon started",
                 [({}, health["uptime_s"])]),
        *_metric("component_ok", "gauge",
                 "1 while a component that talks to the outside works, 0 while it fails",
                 [({"component": name, "state": c["state"]}, 1 if c["ok"] else 0)
                  for name, c in components.items()]),
        *_metric("component_events_total", "counter",
                 "Component counters (write errors, rows dropped, messages per topic, ...)",
                 [({"component": name, "event": k}, v) for name, c in components.items()
                  for k, v in c["counters"].items()]),
    ]
    for name, component in components.items():
        for gauge, value in component["gauges"].items():
            lines += _metric(f"{name}_{gauge}", "gauge", f"{name}: {gauge}", [({}, value)])
    return "\n".join(lines + _measurement_metrics(health)) + "\n"


def _measurement_metrics(health: Mapping[str, Any]) -> list[str]:
    """The regions' newest statistics (health ``rois``: Meter.latest_json) and the
    alarm rules' states (health ``alarms``: AlarmEvaluator.report), when present."""
    lines = []
    rois = health.get("rois")
    if "rois" in health:
        values = rois["values"] if rois else {}
        lines += _metric("roi_temperature", "gauge",
                         "A measurement region's statistic in the newest measured frame "
                         "(degrees C; counts for sources without temperatures)",
                         [({"roi": name, "stat": stat}, stats[stat])
                          for name, stats in values.items() if stats is not None
                          for stat in STATS])
    if "alarms" in health:
        rules = health["alarms"]["alarms"]
        lines += [
            *_metric("alarm_active", "gauge", "1 while an alarm rule is in alarm, else 0",
                     [({"alarm": r["name"], "roi": r["roi"], "stat": r["stat"]},
                       1 if r["state"] == "alarm" else 0) for r in rules]),
            *_metric("alarm_raised_total", "counter", "Times an alarm rule went to alarm",
                     [({"alarm": r["name"]}, r["raised"]) for r in rules]),
            *_metric("alarm_value", "gauge", "The value an alarm rule watches, newest frame",
                     [({"alarm": r["name"]}, r["current"]) for r in rules
                      if r["current"] is not None]),
        ]
    return lines
