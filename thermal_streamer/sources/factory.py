"""Frame sources. Each runs in a thread of its own and publishes SourceFrames.

``make_source(config)`` picks one by the ``Source`` setting (``auto``: the Lepton
when its SPI device exists, else the simulated Lepton).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from thermal_streamer.config.loader import Config
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.core.source import Source

log = logging.getLogger(__name__)


def make_source(config: Config, wanted: Callable[[], bool] | None = None,
                state: AcquisitionState | None = None) -> Source:
    """Build the configured source (not started).

    Args:
        config: the settings.
        wanted: returns True while someone watches (e.g. ``hub.has_viewers``); sources
            that can skip work for nobody use it (``zmq``). None: always True.
        state: the daemon's shared state; the ``mqtt`` source mirrors the origin's state
            into it (None: a state of its own that nobody reads, e.g. in tests).

    Raises:
        ConfigError: a setting the source needs is missing or unusable.
        BindError: the ``tcp`` source's port cannot be bound (it binds when made).
    """
    kind = config.source
    if kind == "auto":
        kind = "lepton" if os.path.exists(config.spi_device) else "simulated"
        log.info("source auto: %s (%s %s)", kind, config.spi_device,
                 "exists" if kind == "lepton" else "not found, using the simulated Lepton")
    if kind == "file":
        from thermal_streamer.sources.file import FileSource

        return FileSource(config.image, config.resend_interval_s, config.max_frame_pixels)
    if kind == "tcp":
        from thermal_streamer.sources.tcp import TcpSource

        return TcpSource(config.tcp_host, config.tcp_port, config.max_frame_bytes,
                         config.producer_timeout_s, config.max_frame_pixels)
    if kind == "zmq":
        from lepton.radiometry import PixelUnit
        from thermal_streamer.sources.zmq import ZmqSource

        return ZmqSource(config.zmq_address, config.zmq_mode, config.zmq_socket,
                         config.zmq_channel, wanted or (lambda: True),
                         unit=PixelUnit(config.zmq_unit), flux=config.radiometry.flux_params())
    if kind == "mqtt":
        from thermal_streamer.sources.mqtt_relay import make_mqtt_source

        return make_mqtt_source(config, state or AcquisitionState(config.render))
    from thermal_streamer.sources.lepton import make_lepton_source

    return make_lepton_source(kind, config)
