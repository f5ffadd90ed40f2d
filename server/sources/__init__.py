"""Frame sources. Each runs in a thread of its own and publishes SourceFrames.

``make_source(config)`` picks one by the ``Source`` setting (``auto``: the Lepton
when its SPI device exists, else the simulated Lepton).
"""

from __future__ import annotations

import logging
import os

from ..config import Config
from .base import Source

log = logging.getLogger(__name__)


def make_source(config: Config) -> Source:
    """Build the configured source (not started).

    Raises:
        ConfigError: a setting the source needs is missing or unusable.
    """
    kind = config.source
    if kind == "auto":
        kind = "lepton" if os.path.exists(config.spi_device) else "simulated"
        log.info("source auto: %s (%s %s)", kind, config.spi_device,
                 "exists" if kind == "lepton" else "not found, using the simulated Lepton")
    if kind == "file":
        from .file import FileSource

        return FileSource(config.image, config.resend_interval_s)
    from .lepton import make_lepton_source

    return make_lepton_source(kind, config)
