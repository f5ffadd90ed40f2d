#!/bin/sh
# Install the thermal camera streamer as a systemd service (run as root from the repository).
# Creates the user `thermal` (groups spi, gpio, i2c), copies the code to /opt/thermal-camera,
# the config to /etc/thermal-camera/server.conf (kept if it exists), and starts the service.
set -eu
[ "$(id -u)" -eq 0 ] || { echo "run as root: sudo $0" >&2; exit 1; }
src=$(cd "$(dirname "$0")/.." && pwd)
dest=/opt/thermal-camera
id thermal >/dev/null 2>&1 || useradd --system --home-dir /var/lib/thermal-camera --shell /usr/sbin/nologin thermal
for group in spi gpio i2c; do
    getent group "$group" >/dev/null && usermod -aG "$group" thermal
done
mkdir -p "$dest" /etc/thermal-camera
cp -r "$src/websocket_http_server.py" "$src/server.conf" "$src/thermal_streamer" "$src/lepton" \
      "$src/requirements.txt" "$src/README.md" "$dest/"
[ -f /etc/thermal-camera/server.conf ] || cp "$src/server.conf" /etc/thermal-camera/server.conf
[ -x "$dest/.venv/bin/python" ] || python3 -m venv "$dest/.venv"
"$dest/.venv/bin/pip" install --quiet -r "$dest/requirements.txt"
cp "$src/systemd/thermal-camera.service" /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now thermal-camera
systemctl --no-pager status thermal-camera
