#!/bin/sh
# Set up a virtual environment (first run only) and start the daemon.
# Extra arguments go to the daemon, e.g. ./run.sh --http-port 8080 --source simulated
set -eu
cd "$(dirname "$0")"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
fi
.venv/bin/pip install --quiet -r requirements.txt
exec .venv/bin/python websocket_http_server.py "$@"
