"""The daemon's command line: exit statuses, error messages, clean shutdown."""

import base64
import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.conftest import ROOT, wait_until

SCRIPT = str(ROOT / "websocket_http_server.py")


def run(*args: str, timeout_s: float = 20) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          timeout=timeout_s, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("conf, message", [
    ("[Render]\nScale = 0\n", "[Render] Scale = '0': must be an integer from 1 to 8"),
    ("[Stream]\nSend_Timeot = 3\n", "[Stream] Send_Timeot = '3': unknown key"),
    ("[Source]\nSource = camera\n", "must be one of: auto, lepton, simulated, replay, file"),
])
def test_bad_config_exits_2_naming_the_key(tmp_path, conf, message):
    """A bad value or unknown key exits 2 and the message names file, section and key."""
    path = tmp_path / "bad.conf"
    path.write_text(conf)
    result = run("-c", str(path))
    assert result.returncode == 2
    assert result.stderr.startswith(f"configuration error: {path} [")
    assert message in result.stderr


def test_missing_config_file_exits_2(tmp_path):
    """An explicitly named config file that does not exist exits 2."""
    result = run("-c", str(tmp_path / "none.conf"))
    assert result.returncode == 2
    assert result.stderr == (f"configuration error: {tmp_path / 'none.conf'}: "
                             "config file not found (named with -c)\n")


def test_replay_without_recording_exits_2():
    """--source replay without --replay is a configuration error naming the key."""
    result = run("--source", "replay", "--http-port", "0", "--ws-port", "0")
    assert result.returncode == 2
    assert ("[Source] Replay = '': --source replay needs a recording: "
            "--replay PATH or Replay = PATH") in result.stderr


def test_busy_port_exits_1_with_reason_and_fix():
    """A port that cannot be bound exits 1 saying why and how to fix it."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run("--source", "simulated", "--http-host", "127.0.0.1", "--http-port", str(port),
                     "--ws-host", "127.0.0.1", "--ws-port", "0")
    assert result.returncode == 1
    assert (f"cannot listen for HTTP on 127.0.0.1:{port}: Address already in use; another "
            "program is using it: stop that program or choose another port with --http-port"
            in result.stderr)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_cleanly_within_2_s(start_daemon, sig):
    """SIGINT/SIGTERM with a client connected: exit 0 within 2 s, every thread joined."""
    from websockets.sync.client import connect

    daemon = start_daemon("--source", "simulated")
    with connect(daemon.ws_url + "/stream", open_timeout=5) as ws:
        ws.recv(timeout=5)
        started = time.monotonic()
        assert daemon.stop(sig) == 0
        elapsed = time.monotonic() - started
    assert elapsed < 2.0
    log = daemon.log()
    assert "client connected: 127.0.0.1:" in log and "/stream (1 clients)" in log
    assert f"received {sig.name}, shutting down" in log and "stopped in" in log
    assert "Traceback" not in log


def test_stats_log_bad_path_exits_2(tmp_path):
    """A Stats_Log path that cannot be opened is a configuration error at start."""
    conf = tmp_path / "log.conf"
    conf.write_text(f"[Logging]\nStats_Log = {tmp_path}/no/such/dir/stats.csv\n")
    result = run("-c", str(conf), "--source", "simulated", "--http-port", "0", "--ws-port", "0")
    assert result.returncode == 2
    assert (f"[Logging] Stats_Log = '{tmp_path}/no/such/dir/stats.csv': cannot append to "
            f"{tmp_path}/no/such/dir/stats.csv: No such file or directory") in result.stderr


def test_stats_log_gets_a_row_per_frame(start_daemon, tmp_path):
    """With Stats_Log the daemon writes one CSV row per unique frame, watched or not."""
    import csv

    path = tmp_path / "stats.csv"
    conf = tmp_path / "log.conf"
    conf.write_text(f"[Logging]\nStats_Log = {path}\n")
    daemon = start_daemon("-c", str(conf), "--source", "simulated")
    daemon.wait_for_frames(10)
    captured = daemon.health()["frames_captured"]
    assert daemon.stop() == 0
    rows = list(csv.reader(path.open()))
    assert rows[0][:3] == ["time", "seq", "min"]
    assert captured <= len(rows) - 1 <= captured + 3
    assert all(15 < float(row[2]) <= float(row[3]) < 50 and row[6] == "C" for row in rows[1:])
    assert rows[1][7] == "32.98"  # the simulated camera's FPA temperature from telemetry


def test_sighup_reopens_the_stats_log_and_healthz_reports_it(start_daemon, tmp_path):
    """SIGHUP (logrotate) reopens Stats_Log: rows go to a new file; /healthz and /metrics
    report the log as a component; the daemon keeps running."""
    path = tmp_path / "stats.csv"
    conf = tmp_path / "log.conf"
    conf.write_text(f"[Logging]\nStats_Log = {path}\n")
    daemon = start_daemon("-c", str(conf), "--source", "simulated")
    daemon.wait_for_frames(3)
    component = daemon.health()["components"]["stats_log"]
    assert component == {"state": "writing", "ok": True, "last_error": "",
                         "counters": {"errors": 0, "rows_dropped": 0}, "gauges": {}}
    assert wait_until(lambda: path.stat().st_size > 200, 10)  # a flush reached the disk
    path.rename(tmp_path / "stats.csv.1")
    daemon.process.send_signal(signal.SIGHUP)
    assert wait_until(lambda: path.exists() and path.stat().st_size > 100, 10)
    assert path.read_text().startswith("time,seq,min,")
    metrics = urllib.request.urlopen(daemon.http_url + "/metrics", timeout=5).read().decode()
    assert 'thermal_component_ok{component="stats_log",state="writing"} 1' in metrics
    assert daemon.process.poll() is None
    assert daemon.stop() == 0


def test_add_user_reads_the_password_from_stdin(tmp_path):
    """--add-user NAME --password-file PATH adds then replaces a user; no plain password
    lands on disk."""
    from thermal_streamer.security.passwords import read_password_file, verify_password

    path = tmp_path / "users"
    command = [sys.executable, str(ROOT / "websocket_http_server.py"), "--add-user", "alice",
               "--password-file", str(path)]
    first = subprocess.run(command, input="s3cret\n", capture_output=True, text=True, timeout=30)
    second = subprocess.run(command, input="n3w\n", capture_output=True, text=True, timeout=30)
    assert (first.returncode, first.stderr) == (0, f"added alice in {path}\n")
    assert (second.returncode, second.stderr) == (0, f"changed the password of alice in {path}\n")
    assert verify_password("n3w", read_password_file(path)["alice"])
    assert "n3w" not in path.read_text() and "s3cret" not in path.read_text()
    empty = subprocess.run(command, input="\n", capture_output=True, text=True, timeout=30)
    assert empty.returncode == 2 and empty.stderr == f"error: {path}: the password is empty\n"


def test_print_config_writes_the_default_config_and_exits_0():
    """--print-config prints -c's default, the checkout's ./server.conf, byte for byte."""
    result = run("--print-config")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "server.conf").read_text() and result.stderr == ""


def test_sighup_reloads_the_password_file_and_closes_a_revoked_users_websockets(
        start_daemon, tmp_path):
    """SIGHUP re-reads Password_File: a user taken out of it has their WebSocket closed
    with 1008 and is refused the next handshake (401); a user still in it streams on
    (was: the file was read only at start)."""
    from tests.tls import PASSWORD, USER, make_password_file
    from thermal_streamer.security.passwords import add_user, read_password_file

    users = make_password_file(tmp_path)
    add_user(users, "bob", "builder-of-things")
    conf = tmp_path / "users.conf"
    conf.write_text("[Security]\nPassword_File = users\n")
    daemon = start_daemon("-c", str(conf), "--source", "simulated")

    def basic(user: str, password: str) -> dict[str, str]:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    with connect(daemon.ws_url + "/stream", open_timeout=5,
                 additional_headers=basic(USER, PASSWORD)) as revoked, \
            connect(daemon.ws_url + "/stream", open_timeout=5,
                    additional_headers=basic("bob", "builder-of-things")) as kept:
        for ws in (revoked, kept):
            assert json.loads(ws.recv(timeout=5))["type"] == "hello"
        users.write_text(f"bob:{read_password_file(users)['bob']}\n")
        daemon.process.send_signal(signal.SIGHUP)
        with pytest.raises(ConnectionClosed):
            for _ in range(200):  # frames until the close (bounded: 200 frames)
                revoked.recv(timeout=5)
        assert revoked.close_code == 1008 and revoked.close_reason == "login revoked"
        assert kept.recv(timeout=5) is not None  # bob still streams
    with pytest.raises(InvalidStatus) as refused:
        connect(daemon.ws_url + "/stream", open_timeout=5,
                additional_headers=basic(USER, PASSWORD))
    assert refused.value.response.status_code == 401
    assert "SIGHUP: reloaded Password_File; revoked: " + USER in daemon.log()
    assert daemon.stop() == 0
