#!/bin/sh
# Install what the tests need (Python packages in .venv; Debian's chromium, ffmpeg,
# mosquitto and nginx when missing, which needs root or sudo), check the code with ruff and mypy (settings in
# pyproject.toml; both must report nothing), then run the whole test suite.
# Extra arguments go to pytest, e.g. ./test.sh tests/server -x
set -eu
cd "$(dirname "$0")"
if ! command -v chromium >/dev/null 2>&1 || ! command -v ffmpeg >/dev/null 2>&1 ||
        [ ! -x /usr/sbin/mosquitto ] || ! command -v mosquitto_passwd >/dev/null 2>&1 ||
        [ ! -x /usr/sbin/nginx ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO env DEBIAN_FRONTEND=noninteractive timeout 600 apt-get update -qq
    $SUDO env DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq \
        --no-install-recommends -o DPkg::Lock::Timeout=300 chromium ffmpeg mosquitto \
        mosquitto-clients nginx
fi
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    timeout 300 .venv/bin/pip install --quiet --upgrade pip
fi
timeout 900 .venv/bin/pip install --quiet -r requirements-test.txt
.venv/bin/ruff check .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
