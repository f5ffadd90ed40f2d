"""Fan-out benchmark: our daemon against the original project's approach, in one run.

Usage::

    python bench/fanout.py [--quick] [--json PATH] [--image JPEG] [--interval S]

What runs (each case with a fresh server process and fresh client processes):

- **ours**: ``websocket_http_server.py --source file`` on 127.0.0.1, port 0, with a
  conf file holding only ``[Source] Resend_Interval``; clients on ``/stream`` (one
  row also on ``/``, the base64 protocol the original spoke).
- **original**: ``bench/original_server.py``: ``websocket-server==0.6.4``, a loop
  that reads the JPEG, base64-encodes it and calls ``send_message_to_all`` (blocking
  sends, one client after the other), as the seed project did.
- **clients**: ``bench/clients.py``, asyncio ``websockets`` clients, in processes of
  their own (at most ``--clients-per-proc`` per process) so their CPU is not the
  server's. Their CPU is measured and shown: a client column near 100 % (one core)
  means the clients, not the server, limited that row.
- **stalled client**: a raw socket with SO_RCVBUF = 4 KiB that completes the
  WebSocket handshake and never reads again, connected before the other clients.

Rates. "source rate" is ``--interval`` (default 0.1 s, 10 Hz, a little faster than
the Lepton's 8.7 Hz). Resend_Interval = 0.115 would be the Lepton's period, but the
``file`` source re-publishes only on its 50 ms poll tick (``thermal_streamer/sources/file.py``,
``POLL_S``), so 0.115 gives one frame per 0.15 s, 6.7 Hz; 0.1 gives 10 Hz, and the
pass at 10 Hz implies the pass at 8.7 Hz. "flat out" is 0.05 s, the fastest the
daemon's config allows (20 Hz); the original runs at the same interval, so both serve
the same frame rate. The image is the repository's ``thermal2.jpg`` resized to the
Lepton 3.x's native 160x120 (what the daemon sends a Lepton viewer by default), except
in the stalled-client runs: they serve the seed project's own 640x480 ``thermal2.jpg``
(44 KB). The original freezes only once the stalled socket's buffers are full; on
loopback the kernel grows that socket's send buffer to about 2.8 MB, which 160x120
frames (6 KB of base64) fill in about 45 s and 640x480 frames in about 5 s.

Metrics, over a window of ``window`` seconds that starts after every client has
connected and a warm-up; "clients that keep up" are all clients but the stalled one:

- ``pub Hz``: frames the server published during the window, from the first and last
  seq any client received in it: (last - first + 1) / window (within one frame per
  window); it drops when the original's loop is blocked.
- ``fps mean/min``: frames each client received in the window / window.
- ``max gap s``: the longest time any client went without a frame in the window
  (window edges included); a frozen server shows here.
- ``lost``: frames missing between the first and the last seq a client received in
  the window (sum over clients). For ours a seq is a source frame, so a frame the
  renderer or the fan-out skipped counts. For the original a seq is a turn of its
  loop; while the loop is blocked no seqs exist, so its loss shows as low ``pub Hz``
  and fps instead.
- latency ``p50/p99/max``: receipt time minus publish time, both ``time.time()`` on
  this one machine. Ours: ``header.timestamp`` (when the file source published the
  frame). Original: the time the loop read the file, carried in a JPEG comment
  segment that ``original_server.py`` inserts after SOI (46 bytes; decoders ignore
  it); clients decode only the first 64 base64 characters. Same point in the
  pipeline for both, and it is exact per message (no matching by arrival order). The
  receipt time includes the client process's own delay (the N-th client is handled
  after N-1 others), so at large N it is an upper bound for the server's part.
- ``srv CPU``: CPU time of the whole server process from ``/proc/<pid>/task/*/schedstat``
  over the window, % of one core (from per-thread schedstat, ns resolution);
  ``srv µs/frame``: that CPU time divided by the frames all clients received;
  ``RSS``: VmRSS at the window's end.

Then the viewer capacity search: ours at the source rate with 200, 300, 500, 750,
1000, ... clients, stopping at the first failure or when the next step would pass
the time cap. A step passes when every client connected, ``pub Hz`` >= 8.7, no frame
was lost and p99 < 50 ms.

Every server, client process and socket is closed at the end of its case; every wait
has a deadline; the original server also ends itself (watchdog) even when blocked.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from base64 import b64encode

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
from bench.clients import raise_fd_limit  # noqa: E402

BENCH = os.path.join(REPO, "bench")
LEPTON_HZ = 8.7
FLAT_OUT_INTERVAL_S = 0.05  # the smallest Resend_Interval the daemon accepts
P99_GOAL_MS = 50.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_START_TIMEOUT_S = 20.0
STALLED_RCVBUF = 4096
OTHER_LOAD_WARN_PCT = 25.0  # CPU % of other processes that makes a run unreliable


@dataclasses.dataclass
class Case:
    """One measurement: a server, a protocol, N clients, a rate."""

    group: str  # "source rate", "flat out", "stalled", "capacity"
    server: str  # "ours" or "original"
    path: str  # "/stream" or "/" (ours); "/" (original)
    n: int
    interval_s: float
    window_s: float
    warmup_s: float
    stalled: bool = False
    image: str | None = None  # None: the default benchmark image

    @property
    def kind(self) -> str:
        if self.server == "original":
            return "original"
        return "stream" if self.path == "/stream" else "legacy"


# ---------------------------------------------------------------- processes


def proc_cpu_s(pid: int) -> float:
    """CPU time of a process (all its threads), seconds; 0.0 if it is gone.

    Sums the nanosecond run times of ``/proc/<pid>/task/*/schedstat``; falls back to
    utime + stime of ``/proc/<pid>/stat`` (clock ticks, 10 ms) without schedstat.
    Neither counts threads that ended before the call; no server ends a thread while
    measured here (the original's per-client reader threads live as long as the client).
    """
    try:
        total_ns = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total_ns += int(f.read().split()[0])
        return total_ns / 1e9
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14, 15 of proc(5)


def machine_busy_s() -> float:
    """CPU seconds all CPUs spent busy since boot (``/proc/stat``: all but idle, iowait)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / CLK_TCK


def proc_rss_mb(pid: int) -> float:
    """Resident set size (VmRSS) in MB; nan if the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def stop_process(proc: subprocess.Popen, timeout_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``timeout_s``; always reaps."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)


class ServerProcess:
    """Ours or the original as a subprocess; stderr goes to a file we poll for the port."""

    def __init__(self, case: Case, image: str, tmpdir: str, duration_s: float):
        self.case, self.image, self.tmpdir, self.duration_s = case, image, tmpdir, duration_s
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log_path = os.path.join(tmpdir, f"server-{os.getpid()}-{time.monotonic_ns()}.log")

    def __enter__(self) -> ServerProcess:
        c = self.case
        if c.server == "ours":
            conf = os.path.join(self.tmpdir, "bench.conf")
            with open(conf, "w") as f:
                f.write(f"[Source]\nResend_Interval = {c.interval_s}\n")
                if c.stalled:  # keep the stalled client connected for the whole window
                    f.write("\n[Stream]\nSend_Timeout = 60\n")
            argv = [sys.executable, os.path.join(REPO, "websocket_http_server.py"),
                    "-c", conf, "--source", "file", "--image", self.image,
                    "--http-host", "127.0.0.1", "--http-port", "0",
                    "--ws-host", "127.0.0.1", "--ws-port", "0"]
            marker = "WebSocket on 127.0.0.1:"
        else:
            argv = [sys.executable, os.path.join(BENCH, "original_server.py"),
                    "--image", self.image, "--interval", str(c.interval_s),
                    "--duration", f"{self.duration_s:.1f}"]
            marker = "original serving WebSocket on 127.0.0.1:"
        log = open(self.log_path, "w")
        self.proc = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline and self.proc.poll() is None:
            with open(self.log_path) as f:
                text = f.read()
            if marker in text:
                self.port = int(text.split(marker, 1)[1].split()[0].rstrip(")."))
                return self
            time.sleep(0.05)
        self.__exit__()
        with open(self.log_path) as f:
            raise RuntimeError(f"{c.server} server did not start:\n{f.read()[-2000:]}")

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            stop_process(self.proc)

    def log_tail(self, chars: int = 1500) -> str:
        with open(self.log_path) as f:
            return f.read()[-chars:]


class StalledClient:
    """A WebSocket client that completes the handshake and then never reads."""

    def __init__(self, port: int, path: str, timeout_s: float = 5.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_RCVBUF)
        self.sock.settimeout(timeout_s)
        self.sock.connect(("127.0.0.1", port))
        key = b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode())
        response = b""
        while b"\r\n\r\n" not in response and len(response) < 4096:
            chunk = self.sock.recv(1)  # byte by byte: read nothing past the headers
            if not chunk:
                break
            response += chunk
        if not response.startswith(b"HTTP/1.1 101"):
            self.close()
            raise RuntimeError(f"stalled client's handshake failed: {response[:200]!r}")

    def close(self) -> None:
        self.sock.close()


# ---------------------------------------------------------------- one case


def run_case(case: Case, image: str, tmpdir: str, per_proc: int) -> dict:
    """Run one case; returns its metrics (see the module docstring)."""
    image = case.image or image
    nprocs = max(1, math.ceil(case.n / per_proc))
    connect_allowance_s = 10.0 + 0.05 * case.n
    duration_s = connect_allowance_s + case.warmup_s + case.window_s + 5.0
    started = time.monotonic()
    clients: list[tuple[subprocess.Popen, str]] = []
    stalled = None
    url_path = case.path
    with ServerProcess(case, image, tmpdir, duration_s) as server:
        try:
            if case.stalled:
                stalled = StalledClient(server.port, url_path)
            shares = [case.n // nprocs + (i < case.n % nprocs) for i in range(nprocs)]
            for i, share in enumerate(shares):
                out = os.path.join(tmpdir, f"clients-{i}.json")
                with open(os.path.join(tmpdir, f"clients-{i}.err"), "w") as err:
                    proc = subprocess.Popen(
                        [sys.executable, os.path.join(BENCH, "clients.py"),
                         "--url", f"ws://127.0.0.1:{server.port}{url_path}", "--kind", case.kind,
                         "--n", str(share), "--out", out,
                         "--connect-concurrency", "8" if case.server == "original" else "32"],
                        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                        text=True)
                clients.append((proc, out))
            connected = failed = 0
            deadline = time.monotonic() + connect_allowance_s
            for proc, _ in clients:
                ready, _, _ = select.select([proc.stdout], [], [],
                                            max(0.0, deadline - time.monotonic()))
                line = proc.stdout.readline() if ready else ""
                if not line.startswith("READY"):
                    raise RuntimeError(f"client process not ready in time: {line!r}")
                _, ok, bad = line.split()
                connected, failed = connected + int(ok), failed + int(bad)
            t0 = time.time() + case.warmup_s
            t1 = t0 + case.window_s
            for proc, _ in clients:
                proc.stdin.write(f"{t0} {t1}\n")
                proc.stdin.flush()
            time.sleep(max(0.0, t0 - time.time()))
            srv_cpu0 = proc_cpu_s(server.proc.pid)
            cli_cpu0 = sum(proc_cpu_s(p.pid) for p, _ in clients)
            busy0 = machine_busy_s()
            time.sleep(max(0.0, t1 - time.time()))
            srv_cpu1 = proc_cpu_s(server.proc.pid)
            cli_cpu1 = sum(proc_cpu_s(p.pid) for p, _ in clients)
            busy1 = machine_busy_s()
            rss_mb = proc_rss_mb(server.proc.pid)
            results = []
            for proc, out in clients:
                proc.wait(30.0)
                with open(out) as f:
                    results.append(json.load(f))
        finally:
            for proc, _ in clients:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(5.0)
                proc.stdin.close()
                proc.stdout.close()
            if stalled is not None:
                stalled.close()
    metrics = summarize(case, results, connected, failed, image)
    metrics.update(
        srv_cpu_pct=100.0 * (srv_cpu1 - srv_cpu0) / case.window_s,
        srv_us_per_frame=(1e6 * (srv_cpu1 - srv_cpu0) / metrics["frames_received"]
                          if metrics["frames_received"] else math.nan),
        rss_mb=rss_mb,
        client_cpu_pct=100.0 * (cli_cpu1 - cli_cpu0) / case.window_s,
        client_procs=nprocs,
        others_cpu_pct=max(0.0, 100.0 * ((busy1 - busy0) - (srv_cpu1 - srv_cpu0)
                                         - (cli_cpu1 - cli_cpu0)) / case.window_s),
        case_s=time.monotonic() - started,
    )
    return metrics


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (nan if empty)."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def summarize(case: Case, results: list[dict], connected: int, failed: int,
              image: str) -> dict:
    """Per-case metrics from the client processes' results."""
    viewers = [c for r in results for c in r["clients"]]
    keeping = [c for c in viewers if c["error"] is None or c["frames"]]
    errors = sorted({c["error"] for c in viewers if c["error"]})
    fps = [c["frames"] / case.window_s for c in keeping]
    lost = clients_with_loss = 0
    edges: list[tuple[int, float]] = []
    latencies = []
    for c in keeping:
        seqs = sorted(c["seqs"])
        gaps = sum(b - a - 1 for a, b in itertools.pairwise(seqs) if b > a + 1)
        lost += gaps
        clients_with_loss += gaps > 0
        edges.extend(tuple(e) for e in (c["first"], c["last"]) if e)
        latencies.extend(c["latencies_us"])
    latencies.sort()
    has_seq = case.kind != "legacy"
    pub_hz = math.nan
    if has_seq and edges:
        pub_hz = (max(edges)[0] - min(edges)[0] + 1) / case.window_s
    frames = sum(c["frames"] for c in keeping)
    ms = [x / 1000.0 for x in (percentile(latencies, 50), percentile(latencies, 99),
                               latencies[-1] if latencies else math.nan)]
    return dict(
        group=case.group, server=case.server, path=case.path, n=case.n,
        stalled=case.stalled, interval_s=case.interval_s, window_s=case.window_s,
        connected=connected, connect_failed=failed, errors=errors[:3],
        pub_hz=pub_hz,
        fps_mean=sum(fps) / len(fps) if fps else 0.0, fps_min=min(fps) if fps else 0.0,
        lost=lost if has_seq else None, clients_with_loss=clients_with_loss if has_seq else None,
        p50_ms=ms[0], p99_ms=ms[1], max_ms=ms[2], samples=len(latencies),
        max_gap_s=max((c["max_gap_s"] for c in keeping), default=math.nan),
        frames_received=frames, image=os.path.basename(image),
    )


# ---------------------------------------------------------------- report


def fmt(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(rows: list[dict]) -> str:
    head = ("| run | server | path | N | pub Hz | fps mean | fps min | lost | max gap s "
            "| p50 ms | p99 ms | max ms | srv CPU % | srv µs/frame | RSS MB "
            "| client CPU % (procs) | others CPU % |")
    lines = [head, "|---|---|---|---:|" + "---:|" * 13]
    for r in rows:
        n = f"{r['n']}+1 stalled" if r["stalled"] else str(r["n"])
        group = r["group"] + (f" ({r['image']})" if "stall" in r["group"] else "")
        if r["connect_failed"]:
            n += f" ({r['connect_failed']} failed to connect)"
        lines.append(
            f"| {group} | {r['server']} | {r['path']} | {n} | {fmt(r['pub_hz'])} "
            f"| {fmt(r['fps_mean'])} | {fmt(r['fps_min'])} | {fmt(r['lost'])} "
            f"| {fmt(r['max_gap_s'], 2)} "
            f"| {fmt(r['p50_ms'])} | {fmt(r['p99_ms'])} | {fmt(r['max_ms'])} "
            f"| {fmt(r['srv_cpu_pct'], 2)} | {fmt(r['srv_us_per_frame'])} | {fmt(r['rss_mb'])} "
            f"| {fmt(r['client_cpu_pct'], 0)} ({r['client_procs']}) "
            f"| {fmt(r['others_cpu_pct'], 0)} |")
    return "\n".join(lines)


def find(rows: list[dict], **match) -> dict | None:
    for r in rows:
        if all(r.get(k) == v for k, v in match.items()):
            return r
    return None


def ratio(a: float, b: float) -> float:
    if b == 0 or math.isnan(a) or math.isnan(b):
        return math.nan if a == 0 or math.isnan(a) or math.isnan(b) else math.inf
    return a / b


def ratios(rows: list[dict], ns: tuple[int, ...], flat_ns: tuple[int, ...],
           stall_n: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for group, label, group_ns in (("source rate", "", ns), ("flat out", "_flat", flat_ns)):
        for n in group_ns:
            ours = find(rows, group=group, server="ours", path="/stream", n=n, stalled=False)
            orig = find(rows, group=group, server="original", n=n, stalled=False)
            if ours and orig:
                out[f"cpu_ratio_vs_original{label}@{n}"] = ratio(ours["srv_cpu_pct"],
                                                                 orig["srv_cpu_pct"])
                out[f"p99_ratio_vs_original{label}@{n}"] = ratio(ours["p99_ms"], orig["p99_ms"])
                out[f"rss_ratio_vs_original{label}@{n}"] = ratio(ours["rss_mb"], orig["rss_mb"])
    legacy = find(rows, group="source rate", server="ours", path="/")
    orig = legacy and find(rows, group="source rate", server="original", n=legacy["n"],
                           stalled=False)
    if legacy and orig:
        out[f"cpu_ratio_vs_original_same_protocol@{legacy['n']}"] = ratio(
            legacy["srv_cpu_pct"], orig["srv_cpu_pct"])
    ours = find(rows, group="stalled", server="ours")
    orig = find(rows, group="stalled", server="original")
    if ours and orig:
        out[f"fps_min_with_stalled_client_ours@{stall_n}"] = ours["fps_min"]
        out[f"fps_min_with_stalled_client_original@{stall_n}"] = orig["fps_min"]
        out[f"fps_ratio_vs_original_with_stalled_client@{stall_n}"] = ratio(
            ours["fps_mean"], orig["fps_mean"])
        for name, r in (("ours", ours), ("original", orig)):
            calm = find(rows, group="no stall", server=name)
            if calm:
                out[f"fps_with_vs_without_stalled_client_{name}@{stall_n}"] = ratio(
                    r["fps_mean"], calm["fps_mean"])
                out[f"max_gap_s_with_stalled_client_{name}@{stall_n}"] = r["max_gap_s"]
    return out


def capacity_pass(r: dict) -> bool:
    return (r["connect_failed"] == 0 and r["pub_hz"] >= LEPTON_HZ and r["lost"] == 0
            and r["p99_ms"] < P99_GOAL_MS)


# ---------------------------------------------------------------- main


def make_image(tmpdir: str, source: str | None) -> str:
    """The benchmark JPEG: ``source`` as is, or thermal2.jpg resized to 160x120."""
    if source:
        return os.path.abspath(source)
    from PIL import Image

    path = os.path.join(tmpdir, "lepton-160x120.jpg")
    with Image.open(os.path.join(REPO, "thermal2.jpg")) as im:
        im.convert("RGB").resize((160, 120), Image.LANCZOS).save(path, quality=90)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="about one minute")
    parser.add_argument("--json", metavar="PATH", help="also write all results as JSON")
    parser.add_argument("--image", help="JPEG to serve (default: thermal2.jpg at 160x120)")
    parser.add_argument("--interval", type=float, default=0.1,
                        help="source-rate period, s (default 0.1; see the docstring)")
    parser.add_argument("--stall-image", default=os.path.join(REPO, "thermal2.jpg"),
                        help="JPEG for the stalled-client runs (default: the seed project's "
                             "640x480 thermal2.jpg, so the original's socket buffers fill "
                             "within the window)")
    parser.add_argument("--clients-per-proc", type=int, default=250)
    parser.add_argument("--capacity-cap", type=float, help="time cap of the search, s")
    args = parser.parse_args()

    if args.quick:
        ns, flat_ns, stall_n, legacy_n = (1, 10, 100), (100,), 10, None
        window, warmup, stall_window, cap_window = 2.5, 0.5, 8.0, 3.0
        capacity_ns, cap_s = (200,), 30.0
    else:
        ns, flat_ns, stall_n, legacy_n = (1, 10, 50, 100), (1, 10, 50, 100), 100, 100
        window, warmup, stall_window, cap_window = 6.0, 1.0, 12.0, 8.0
        capacity_ns, cap_s = (200, 300, 500, 750, 1000, 1500, 2000, 3000), 240.0
    if args.capacity_cap is not None:
        cap_s = args.capacity_cap
    fd_limit = raise_fd_limit()  # inherited by the servers and the client processes

    cases = []
    for n in ns:
        for server in ("ours", "original"):
            cases.append(Case("source rate", server, "/stream" if server == "ours" else "/",
                              n, args.interval, window, warmup))
    if legacy_n:
        cases.append(Case("source rate", "ours", "/", legacy_n, args.interval, window, warmup))
    for n in flat_ns:
        for server in ("ours", "original"):
            cases.append(Case("flat out", server, "/stream" if server == "ours" else "/",
                              n, FLAT_OUT_INTERVAL_S, window, warmup))
    stall_image = os.path.abspath(args.stall_image)
    # the same clients and image without a stall (full mode), then with one
    for stalled in (True,) if args.quick else (False, True):
        for server in ("ours", "original"):
            cases.append(Case("stalled" if stalled else "no stall", server,
                              "/stream" if server == "ours" else "/", stall_n, args.interval,
                              stall_window, warmup, stalled=stalled, image=stall_image))

    began = time.monotonic()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="fanout-bench-") as tmpdir:
        image = make_image(tmpdir, args.image)
        print(f"# fan-out benchmark: image {os.path.basename(image)} "
              f"({os.path.getsize(image)} bytes), source interval {args.interval} s, "
              f"flat out {FLAT_OUT_INTERVAL_S} s, fd limit {fd_limit}, "
              f"{os.cpu_count()} CPUs", file=sys.stderr)
        failures = []
        for case in cases:
            print(f"# {case.group}: {case.server} {case.path} N={case.n}"
                  f"{' +1 stalled' if case.stalled else ''}", file=sys.stderr, flush=True)
            try:
                rows.append(run_case(case, image, tmpdir, args.clients_per_proc))
            except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
                failures.append(f"{case.group} {case.server} {case.path} N={case.n}: {exc}")
                print(f"#   failed to run: {exc}", file=sys.stderr, flush=True)
                continue
            print(f"#   {rows[-1]['case_s']:.1f} s", file=sys.stderr, flush=True)

        capacity: list[dict] = []
        search_start = time.monotonic()
        last_s, last_n = None, None
        retry = True  # one retry of a failed step in the whole search
        for n in capacity_ns:
            if last_s is not None:
                estimate = last_s * max(1.0, n / last_n)
                if time.monotonic() - search_start + estimate > cap_s:
                    print(f"# capacity: N={n} would pass the {cap_s:.0f} s cap; stop",
                          file=sys.stderr)
                    break
            print(f"# capacity: ours /stream N={n}", file=sys.stderr, flush=True)
            case = Case("capacity", "ours", "/stream", n, args.interval, cap_window, warmup)
            try:
                r = run_case(case, image, tmpdir, args.clients_per_proc)
            except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
                print(f"# capacity: N={n} failed to run: {exc}", file=sys.stderr)
                break
            r["pass"] = capacity_pass(r)
            capacity.append(r)
            last_s, last_n = r["case_s"], n
            if not r["pass"] and retry:  # other load on the machine can spoil one attempt
                retry = False
                print(f"# capacity: N={n} failed; one retry", file=sys.stderr, flush=True)
                try:
                    r = run_case(case, image, tmpdir, args.clients_per_proc)
                except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
                    print(f"# capacity: N={n} failed to run: {exc}", file=sys.stderr)
                    break
                r["pass"] = capacity_pass(r)
                r["group"] = "capacity (retry)"
                capacity.append(r)
            if not r["pass"]:
                break

    passed = [r["n"] for r in capacity if r["pass"]]
    exhausted = bool(capacity) and capacity[-1]["pass"]  # stopped by the cap or the list
    summary = ratios(rows, ns, flat_ns, stall_n)
    if passed:
        summary["max_viewers_at_source_rate"] = max(passed)
    print(table(rows))
    print()
    print(f"Capacity search (ours, /stream, {1 / args.interval:.1f} Hz source, pass = all "
          f"connected, pub Hz >= {LEPTON_HZ}, no frame lost, p99 < {P99_GOAL_MS:.0f} ms; "
          f"{args.clients_per_proc} clients per client process):")
    print()
    print(table(capacity))
    print()
    for failure in failures:
        print(f"failed to run: {failure}")
    for r in capacity:
        print(f"capacity@{r['n']}={'pass' if r['pass'] else 'FAIL'}")
    if passed:
        print(f"max_viewers_at_source_rate={'>=' if exhausted else ''}{max(passed)}")
    else:
        print("max_viewers_at_source_rate=<" + str(capacity_ns[0]))
    for key, value in summary.items():
        if key != "max_viewers_at_source_rate":
            print(f"{key}={fmt(value, 3) if isinstance(value, float) else value}")

    goal = find(rows, group="source rate", server="ours", path="/stream", n=max(ns),
                stalled=False)
    orig = find(rows, group="source rate", server="original", n=max(ns), stalled=False)
    goals = {}
    if goal and orig:
        goals[f"goal_no_loss@{max(ns)}"] = goal["lost"] == 0 and goal["connect_failed"] == 0
        goals[f"goal_p99_lt_{P99_GOAL_MS:.0f}ms@{max(ns)}"] = goal["p99_ms"] < P99_GOAL_MS
        goals[f"goal_cpu_le_original@{max(ns)}"] = goal["srv_cpu_pct"] <= orig["srv_cpu_pct"]
    stall = find(rows, group="stalled", server="ours")
    if stall:
        ref = stall["pub_hz"]
        goals[f"goal_stalled_client_costs_nothing@{stall_n}"] = (
            stall["lost"] == 0 and stall["fps_min"] >= 0.9 * ref)
    for key, ok in goals.items():
        print(f"{key}={'PASS' if ok else 'FAIL'}")
    busiest = max((r["others_cpu_pct"] for r in rows + capacity), default=0.0)
    print(f"others_cpu_pct_max={busiest:.0f}")
    if busiest > OTHER_LOAD_WARN_PCT:
        print(f"WARNING: other processes used up to {busiest:.0f} % CPU (of "
              f"{100 * (os.cpu_count() or 1)} %) during the windows; latency, loss and "
              "capacity are not reliable: run again on a quiet machine")
    print(f"total_run_s={time.monotonic() - began:.0f}")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": vars(args), "rows": rows, "capacity": capacity,
                       "ratios": summary, "goals": goals}, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
