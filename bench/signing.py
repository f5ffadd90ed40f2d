"""Cost of [MQTT] Signing_Key_File per message: sign at the origin, verify at an edge.

The message is a real one: the Renderer's ``/stream?raw=1`` message of the real Lepton 3
capture raw1 (160x120: the JPEG and 38,400 bytes of raw pixels), the ``frame`` topic's
payload; plus a ``state`` message (about 250 bytes). Each line is the median of
``--repeat`` runs of ``--batch`` calls: :meth:`Signer.sign` (the counter and the
HMAC-SHA256) and :meth:`Verifier.check` (parse, HMAC-SHA256, compare_digest, the replay
rule), and, for scale, one ``bytes`` copy of the same payload.

Usage: python bench/signing.py [--repeat N] [--batch N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.mqtt_origin import real_frames  # noqa: E402
from thermal_streamer.control.render_settings import RenderSettings  # noqa: E402
from thermal_streamer.control.state import AcquisitionState  # noqa: E402
from thermal_streamer.core.hub import Hub  # noqa: E402
from thermal_streamer.mqtt.topics import CameraTopics  # noqa: E402
from thermal_streamer.protocols.signing import Signer, Verifier  # noqa: E402
from thermal_streamer.render.renderer import Renderer  # noqa: E402


def median_us(run, repeat: int, batch: int) -> float:
    """Median over ``repeat`` of the mean time of one call in ``batch`` calls, microseconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(batch):
            run()
        times.append((time.perf_counter() - start) / batch * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    key = bytes(range(32))
    topics = CameraTopics("thermal", "origin")
    state = AcquisitionState(RenderSettings())
    hub = Hub()
    frame = real_frames()[0]
    seq = hub.publish_source_frame(frame)
    messages = {"frame": (topics.frame, Renderer(hub, state, "lepton").encode(
        seq, frame).stream_message_raw),
        "state": (topics.state, json.dumps(state.snapshot()).encode())}
    print(f"{'message':<8} {'bytes':>7} {'sign':>9} {'verify':>9} {'copy':>9}")
    for name, (topic, payload) in messages.items():
        sign_us, verify_us, copy_us = measure(key, topics, topic, payload, args.repeat,
                                              args.batch)
        print(f"{name:<8} {len(payload):>7} {sign_us:>7.1f}us {verify_us:>7.1f}us "
              f"{copy_us:>7.1f}us")


def measure(key: bytes, topics: CameraTopics, topic: str, payload: bytes, repeat: int,
            batch: int) -> tuple[float, float, float]:
    """Sign, verify (each a new, higher counter) and copy one message: microseconds each."""
    signer = Signer(key, topics.signed)
    signer.new_connection()
    values = [signer.sign(topic, payload) for _ in range(repeat * batch)]
    verifier = Verifier(key, topics.signed)
    pending = iter(values)
    return (median_us(lambda: signer.sign(topic, payload), repeat, batch),
            median_us(lambda: verifier.check(topic, payload, next(pending)), repeat, batch),
            median_us(lambda: bytes(bytearray(payload)), repeat, batch))

if __name__ == "__main__":
    main()
