#!/usr/bin/env python3
"""Stream a thermal camera to browsers: HTTP viewer page plus WebSocket frames.

Usage: python websocket_http_server.py [-c server.conf] [--http-port N] ... (see --help)
       python websocket_http_server.py --add-user NAME --password-file PATH
The same program as the ``thermal-streamer`` console script (:mod:`thermal_streamer.cli`).
"""

import sys

from thermal_streamer.cli import main

if __name__ == "__main__":
    sys.exit(main())
