"""What every source provides: the contract the app, the renderer and the reports rely on."""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable
from typing import Any

from lepton.radiometry import FluxLinearParams
from thermal_streamer.core.frames import SourceFrame

Publish = Callable[[SourceFrame], Any]


class SourceError(Exception):
    """A source cannot run (device missing, file unusable); the message says why and what to do."""


class Source(abc.ABC):
    """A producer of frames, run in a thread of its own by the app.

    ``run`` calls ``publish`` from that one thread only, so frames keep their order (for
    image sources, ``publish`` also hands the frame to clients).

    Attributes:
        kind: the ``--source`` name it answers to ("simulated", "file", ...).
        has_raw: True if it publishes RawFrames (pixel values), False for ready JPEGs.
    """

    kind: str = ""
    has_raw: bool = False

    @property
    def can_ffc(self) -> bool:
        """True if :meth:`run_ffc` can work (a Lepton with its control interface)."""
        return False

    @abc.abstractmethod
    def run(self, publish: Publish, stop: threading.Event) -> None:
        """Publish frames until ``stop`` is set; return within about 0.5 s of it.

        Bad input (a torn file, a corrupt frame) is skipped, counted and logged
        (rate-limited), never raised.

        Raises:
            SourceError: the source cannot run at all.
        """

    def status(self) -> dict[str, Any]:
        """Counters and state for /healthz (e.g. {"state": "streaming", "skipped": 3})."""
        return {}

    def run_ffc(self) -> None:
        """Run a flat-field correction.

        Raises:
            NotImplementedError: the source has no shutter to run (only the Lepton does).
        """
        raise NotImplementedError(
            f"ffc is only available with a Lepton camera (source is {self.kind})")

    def set_radiometry(self, params: FluxLinearParams) -> None:
        """Measure with new emissivity, reflected temperature and window (docs/cci.md §7).

        May block briefly (a CCI command); call it from a worker thread.

        Raises:
            NotImplementedError: the source has no temperatures to correct.
            LeptonError: the camera refused or did not answer.
        """
        raise NotImplementedError(
            f"emissivity needs temperatures, which {self.kind} frames are not")
