"""thermal_streamer.outputs.metrics: Prometheus text from a health snapshot."""

from prometheus_client.parser import text_string_to_metric_families

from thermal_streamer.outputs.metrics import render_metrics

HEALTH = {"status": "ok", "source": "simulated", "frames_captured": 100, "frames_published": 40,
          "fps": 8.7, "seconds_since_last_frame": 0.05, "uptime_s": 12.5,
          "clients": {"stream": 2}, "source_status": {"state": "streaming", "crc_errors": 3,
                                                      "packets": 9000, "model": "LEPTON3"}}


def test_exposition_parses_with_the_right_values():
    """Every family parses; counters carry the snapshot's numbers and labels."""
    text = render_metrics(HEALTH, {"stream": {"frames_sent": 80, "frames_skipped": 1,
                                              "bytes_sent": 400000}})
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("thermal_frames_captured_total", (("source", "simulated"),))] == 100
    assert samples[("thermal_frames_skipped_total",
                    (("reason", "crc_errors"), ("source", "simulated")))] == 3
    assert samples[("thermal_clients", (("protocol", "stream"),))] == 2
    assert samples[("thermal_clients", (("protocol", "mjpeg"),))] == 0
    assert samples[("thermal_bytes_sent_total", (("protocol", "stream"),))] == 400000
    assert samples[("thermal_up", (("source", "simulated"),))] == 1
    assert "model" not in text  # strings are not metrics


def test_region_and_alarm_metrics():
    """thermal_roi_temperature{roi,stat} per region inside the frame; alarm_active,
    alarm_raised_total and alarm_value per rule."""
    health = {**HEALTH,
              "rois": {"seq": 9, "timestamp": 1.0, "unit": "C", "values": {
                  "breaker": {"min": 20.5, "max": 61.25, "mean": 30.0, "min_pos": [0, 0],
                              "max_pos": [1, 1]}, "far": None}},
              "alarms": {"alarms": [{"name": "hot", "roi": "breaker", "stat": "max",
                                     "state": "alarm", "raised": 2, "current": 61.25},
                                    {"name": "cold", "roi": "frame", "stat": "min",
                                     "state": "ok", "raised": 0, "current": None}],
                         "recent": []}}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(render_metrics(health, {}))
               for s in family.samples}
    assert {k[1]: v for k, v in samples.items() if k[0] == "thermal_roi_temperature"} == {
        (("roi", "breaker"), ("stat", "min")): 20.5, (("roi", "breaker"), ("stat", "max")): 61.25,
        (("roi", "breaker"), ("stat", "mean")): 30.0}
    assert samples[("thermal_alarm_active", (("alarm", "hot"), ("roi", "breaker"),
                                             ("stat", "max")))] == 1
    assert samples[("thermal_alarm_active", (("alarm", "cold"), ("roi", "frame"),
                                             ("stat", "min")))] == 0
    assert samples[("thermal_alarm_raised_total", (("alarm", "hot"),))] == 2
    assert samples[("thermal_alarm_value", (("alarm", "hot"),))] == 61.25
    assert ("thermal_alarm_value", (("alarm", "cold"),)) not in samples
