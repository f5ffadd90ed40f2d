"""Where frames and reports leave the daemon: WebSocket fan-out, HTTP (page, snapshots,
MJPEG, /healthz, /metrics), the stats log and webhooks."""
