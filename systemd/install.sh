#!/bin/sh
# Install the thermal camera streamer as a systemd service (run as root from the repository).
# Creates the user `thermal` (groups spi, gpio, i2c), pip-installs the package into
# /opt/thermal-camera/.venv (with README.md and docs/ beside it),
# copies the config to /etc/thermal-camera/server.conf (kept if it exists), and starts the service.
set -eu
[ "$(id -u)" -eq 0 ] || { echo "run as root: sudo $0" >&2; exit 1; }
src=$(cd "$(dirname "$0")/.." && pwd)
dest=/opt/thermal-camera
id thermal >/dev/null 2>&1 || useradd --system --home-dir /var/lib/thermal-camera --shell /usr/sbin/nologin thermal
for group in spi gpio i2c; do
    getent group "$group" >/dev/null && usermod -aG "$group" thermal
done
mkdir -p "$dest" /etc/thermal-camera
[ -f /etc/thermal-camera/server.conf ] || cp "$src/server.conf" /etc/thermal-camera/server.conf
[ -x "$dest/.venv/bin/python" ] || python3 -m venv "$dest/.venv"
# the package (the page and the default server.conf inside it) and its console script
"$dest/.venv/bin/pip" install --quiet "$src"
rm -rf "$dest/docs" && cp -r "$src/README.md" "$src/docs" "$dest/"
cp "$src/systemd/thermal-camera.service" /etc/systemd/system/
systemctl daemon-reload
systemctl enable --now thermal-camera
systemctl --no-pager status thermal-camera
