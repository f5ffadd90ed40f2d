"""Edge benchmark: 100 viewers on the origin directly against 100 viewers on an edge, one run.

Usage::

    python bench/edge.py [--viewers 100] [--window 20]

What runs, all on 127.0.0.1 (a Debian ``mosquitto`` per run, ``tests/mosquitto.py``):

- **origin**: ``websocket_http_server.py --source simulated`` (the simulated Lepton at
  its 8.7 Hz) with ``[MQTT] Broker`` set and ``Camera_ID = origin``: it publishes every
  frame on ``thermal/origin/frame`` (the origin daemon's MQTT publisher).
- **edge**: ``websocket_http_server.py --source mqtt --mqtt-camera origin`` on the same
  broker.
- **viewers**: ``bench/clients.py`` processes (50 ``/stream`` clients each), as in
  ``bench/fanout.py``; each records, per frame, receipt time minus the header's
  ``timestamp`` (the origin's capture time: the edge keeps the origin's header) and
  the header's ``seq`` (the origin's: gaps are frames lost anywhere on the way).

Cases: ``direct`` (the viewers on the origin) and ``edge`` (the same number on the
edge; the origin has no local viewer). Per case: latency p50 / p99 / max (ms), frames
lost, the source rate seen (Hz), and the origin's CPU (% of one core) over the window.
Goals (issue 10): the broker hop adds at most 10 ms at p99 (``edge p99 - direct
p99``), no frame is lost at the source rate, and the origin's CPU with one edge stays
below its CPU with 100 local viewers.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.fanout import percentile, proc_cpu_s, stop_process  # noqa: E402
from tests.conftest import Daemon, wait_until  # noqa: E402
from tests.mosquitto import Mosquitto  # noqa: E402

PER_PROCESS = 50  # viewers per client process
WARMUP_S = 3.0
READY_TIMEOUT_S = 60.0
FIRST_FRAME_TIMEOUT_S = 15.0


def measure(url: str, viewers: int, window_s: float, origin_pid: int | None) -> dict:
    """Connect ``viewers`` /stream clients to ``url``; measure over a window.

    Returns:
        {"p50_ms", "p99_ms", "max_ms", "lost", "source_hz", "fps_min", "origin_cpu_pct"
        (None without ``origin_pid``), "connected"}.
    """
    procs: list[tuple[subprocess.Popen, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-edge-") as tmp:
        try:
            for i in range(0, viewers, PER_PROCESS):
                out = os.path.join(tmp, f"clients-{i}.json")
                procs.append((subprocess.Popen(
                    [sys.executable, str(REPO / "bench" / "clients.py"), "--url",
                     f"{url}/stream", "--kind", "stream", "--n",
                     str(min(PER_PROCESS, viewers - i)), "--out", out],
                    cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True), out))
            connected = 0
            for proc, _ in procs:
                assert proc.stdout is not None and proc.stdin is not None
                ready, _, _ = select.select([proc.stdout], [], [], READY_TIMEOUT_S)
                line = proc.stdout.readline() if ready else ""
                if not line.startswith("READY"):
                    raise RuntimeError(f"viewers not ready: {line!r}")
                connected += int(line.split()[1])
            t0 = time.time() + WARMUP_S
            t1 = t0 + window_s
            for proc, _ in procs:
                proc.stdin.write(f"{t0} {t1}\n")  # type: ignore[union-attr]
                proc.stdin.flush()  # type: ignore[union-attr]
            time.sleep(max(0.0, t0 - time.time()))  # pacing: the window is wall-clock time
            cpu0 = proc_cpu_s(origin_pid) if origin_pid else 0.0
            time.sleep(max(0.0, t1 - time.time()))
            cpu1 = proc_cpu_s(origin_pid) if origin_pid else 0.0
            clients = []
            for proc, out in procs:
                proc.wait(30.0)
                with open(out) as f:
                    clients += json.load(f)["clients"]
        finally:
            for proc, _ in procs:
                stop_process(proc)
    latencies = sorted(x for c in clients for x in c["latencies_us"])
    lost = sum(b - a - 1 for c in clients
               for a, b in itertools.pairwise(sorted(c["seqs"])) if b > a + 1)
    edges = [tuple(e) for c in clients for e in (c["first"], c["last"]) if e]
    return {"p50_ms": percentile(latencies, 50) / 1e3, "p99_ms": percentile(latencies, 99) / 1e3,
            "max_ms": latencies[-1] / 1e3 if latencies else float("nan"), "lost": lost,
            "source_hz": (max(edges)[0] - min(edges)[0] + 1) / window_s if edges else 0.0,
            "fps_min": min(c["frames"] for c in clients) / window_s,
            "origin_cpu_pct": 100 * (cpu1 - cpu0) / window_s if origin_pid else None,
            "connected": connected}


@contextlib.contextmanager
def daemon(*args: str, conf: str) -> Iterator[Daemon]:
    """A daemon with ``conf`` as its config file; stopped by its PID at the end."""
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
        f.write(conf)
        f.flush()
        process = Daemon(["-c", f.name, *args])
        try:
            yield process
        finally:
            process.stop()


def mqtt_conf(broker: Mosquitto, camera_id: str) -> str:
    return f"[MQTT]\nBroker = {broker.url}\nCamera_ID = {camera_id}\n"


def edge_frames(edge: Daemon) -> int:
    return edge.health()["source_status"]["frames"]


def run(args: argparse.Namespace) -> dict:
    results: dict = {"viewers": args.viewers, "window_s": args.window}
    broker = Mosquitto()
    try:
        with daemon("--source", "simulated", conf=mqtt_conf(broker, "origin")) as origin:
            origin_pid = origin.process.pid
            results["direct"] = measure(origin.ws_url, args.viewers, args.window, origin_pid)
            with daemon("--source", "mqtt", "--mqtt-camera", "origin",
                        conf=mqtt_conf(broker, "edge")) as edge:
                if not wait_until(lambda: edge_frames(edge) > 0, FIRST_FRAME_TIMEOUT_S):
                    raise RuntimeError("the origin daemon published no frame on "
                                       "thermal/origin/frame")
                results["edge"] = measure(edge.ws_url, args.viewers, args.window, origin_pid)
        results["hop_p99_ms"] = results["edge"]["p99_ms"] - results["direct"]["p99_ms"]
        return results
    finally:
        broker.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured per case")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    results = run(args)
    print("| case | viewers | source Hz | fps min | lost | p50 ms | p99 ms | max ms "
          "| origin CPU % |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for case in ("direct", "edge"):
        if case in results:
            r = results[case]
            cpu = "n/a" if r["origin_cpu_pct"] is None else f"{r['origin_cpu_pct']:.2f}"
            print(f"| {case} | {r['connected']} | {r['source_hz']:.2f} | {r['fps_min']:.2f} | "
                  f"{r['lost']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['max_ms']:.1f} | "
                  f"{cpu} |")
    if "hop_p99_ms" in results:
        print(f"broker hop at p99: {results['hop_p99_ms']:.1f} ms (goal <= 10)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
