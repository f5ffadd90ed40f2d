#!/usr/bin/env python3
"""Stream a thermal camera to browsers: HTTP viewer page plus WebSocket frames.

Usage: python websocket_http_server.py [-c server.conf] [--http-port N] ... (see --help)
Exit status: 0 after a clean shutdown, 1 if a port cannot be bound or the source
fails, 2 for a bad configuration.
"""

import logging
import sys

from server.app import run
from server.config import ConfigError, configure_logging, load_config
from server.listening import BindError


def main(argv: list[str] | None = None) -> int:
    try:
        config = load_config(argv)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_level)
    for warning in config.warnings:
        logging.getLogger("server").warning("%s", warning)
    try:
        return run(config)
    except ConfigError as exc:
        logging.getLogger("server").error("configuration error: %s", exc)
        return 2
    except BindError as exc:
        logging.getLogger("server").error("%s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
