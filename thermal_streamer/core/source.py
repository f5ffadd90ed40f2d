"""What every source provides: the contract the app, the renderer and the reports rely on.

A source also declares what it can do, so that the app builds the same daemon around
every source without asking which one it is (docs/architecture.md §4, "A new source"):

- ``has_raw``: its frames carry pixel values, not only pictures: the recorder and
  ``set_radiometry`` use them (and, unless relayed, the renderer and the alarms);
  /config.json ``raw`` and Home Assistant's temperature sensors follow it (lepton,
  simulated, replay, zmq; mqtt while the origin's frames carry raw pixels).
- ``can_ffc``: the ``ffc`` command works; /config.json ``ffc`` and Home Assistant's FFC
  button follow it (a Lepton with its control interface).
- ``relayed``: its frames come rendered and measured by another daemon, so no
  ``renderer`` and no ``alarms`` thread runs here (mqtt).
- ``commands``: when not None, every channel hands its commands to these instead of the
  app's :class:`~thermal_streamer.control.commands.CommandRunner` (mqtt: an edge forwards
  them to the origin).
- ``companions``: parts that run beside the source in threads of their own, which the
  app starts, reports in /healthz ``components`` and stops (mqtt: its broker link).
"""

from __future__ import annotations

import abc
import concurrent.futures
import dataclasses
import threading
from collections.abc import Callable
from typing import Any, Protocol

from lepton.radiometry import FluxLinearParams
from thermal_streamer.core.frames import SourceFrame
from thermal_streamer.core.health import ReportsHealth

Publish = Callable[[SourceFrame], Any]


class SourceError(Exception):
    """A source cannot run (device missing, file unusable); the message says why and what to do."""


class Commands(Protocol):
    """What a channel (the WebSocket server, MQTT ``cmd``) hands its clients' command
    messages to: the app's CommandRunner, or a source's own (:attr:`Source.commands`)."""

    def execute(self, message: str | bytes, connection_token: str | None = None,
                sender: str = "") -> concurrent.futures.Future[None]:
        """See :meth:`thermal_streamer.control.commands.CommandRunner.execute`."""
        ...

    def execute_trusted(self, message: str | bytes,
                        sender: str = "") -> concurrent.futures.Future[None]:
        """See :meth:`thermal_streamer.control.commands.CommandRunner.execute_trusted`."""
        ...


class Service(ReportsHealth, Protocol):
    """A part with a thread of its own that talks to the outside (a broker link)."""

    def run(self) -> None:
        """Serve until :meth:`stop` (blocks the calling thread)."""
        ...

    def stop(self) -> None:
        """Make :meth:`run` return soon (within about 1 s); callable from any thread,
        before or after :meth:`run` started."""
        ...


@dataclasses.dataclass(frozen=True)
class Companion:
    """A part a source needs running beside it (:attr:`Source.companions`).

    Attributes:
        thread: the name of the thread the app runs ``service.run`` in ("mqtt-relay").
        component: its name in /healthz ``components`` and /metrics ("mqtt_relay").
        service: what runs, stops and reports its health.
    """

    thread: str
    component: str
    service: Service


class Source(abc.ABC):
    """A producer of frames, run in a thread of its own by the app.

    ``run`` calls ``publish`` from that one thread only, so frames keep their order (for
    image sources, ``publish`` also hands the frame to clients).

    Attributes (what the source declares; see the module docstring for their effects):
        kind: the ``--source`` name it answers to ("simulated", "file", ...).
        has_raw: True if it publishes RawFrames (pixel values), False for ready JPEGs.
        relayed: True if its frames come rendered and measured by another daemon.
        commands: what runs the viewers' commands instead of the app (None: the app).
        companions: parts the app runs, reports and stops beside it.
    """

    kind: str = ""
    has_raw: bool = False
    relayed: bool = False
    commands: Commands | None = None
    companions: tuple[Companion, ...] = ()

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
