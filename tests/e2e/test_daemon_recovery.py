"""A simulated camera that hangs heals itself: viewers see no signal, then frames, on one socket."""

import time
import urllib.request

from websockets.sync.client import connect

from tests.conftest import wait_until

NO_SIGNAL_S = 3.0  # the page shows "No signal" after this long without a frame (docs/viewer.md)


def test_hung_camera_is_rebooted_then_power_cycled(start_daemon, tmp_path):
    """needs_power_cycle: resync, CCI reboot (unanswered), power cycle; frames resume, counted."""
    conf = tmp_path / "heal.conf"
    conf.write_text("[Lepton]\nRecover_After_Seconds = 1\nPower_Off_Seconds = 0.3\n"
                    "Simulated_Fault = needs_power_cycle\nSimulated_Fault_Frame = 10\n")
    daemon = start_daemon("-c", str(conf), "--source", "simulated")
    arrivals: list[float] = []
    with connect(daemon.ws_url + "/stream", open_timeout=5) as ws:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                message = ws.recv(timeout=0.5)
            except TimeoutError:
                continue
            if isinstance(message, bytes):
                arrivals.append(time.monotonic())
            gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
            if any(g >= NO_SIGNAL_S for g in gaps) and gaps[-1] < NO_SIGNAL_S \
                    and len(arrivals) - 1 - max(range(len(gaps)), key=gaps.__getitem__) >= 5:
                break
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:], strict=False)]
    longest = max(range(len(gaps)), key=gaps.__getitem__)
    assert gaps[longest] >= NO_SIGNAL_S, daemon.log()  # long enough for "No signal"
    assert len(arrivals) - 1 - longest >= 5, daemon.log()  # frames again, same connection
    # frames flow as soon as the power is back; the camera counts as recovered once it has
    # booted (boot_s) and been configured again
    status = wait_until(lambda: (s := daemon.health()["source_status"])["recovery"] == "streaming"
                        and s, 5.0)
    assert status, daemon.log()
    assert (status["recovery_resyncs"], status["recovery_reboots"],
            status["recovery_power_cycles"], status["recoveries"]) == (1, 1, 1, 1)
    assert status["recovery_errors"] == 2  # the hung CCI answered neither reboot nor configure
    with urllib.request.urlopen(daemon.http_url + "/metrics", timeout=5) as response:
        metrics = response.read().decode()
    assert ('thermal_source_events_total{source="simulated",event="recovery_power_cycles"} 1'
            in metrics)
    # the state turns to streaming just before its log line is written, and the line
    # reaches daemon.log() through a pipe and a reader thread: wait for it (bounded)
    assert wait_until(lambda: "camera recovered: frames again" in daemon.log(), 5.0), \
        daemon.log()
    log = daemon.log()
    order = ["resynchronising VoSPI", "rebooting the camera over CCI",
             "power-cycling the camera (0.3 s off)", "power back on",
             "camera recovered: frames again"]
    positions = [log.find(step) for step in order]
    assert -1 not in positions and positions == sorted(positions), log
    assert log.count("power-cycling the camera") == 1
