"""The thermal streaming daemon, in data-flow order:

config -> sources/ -> hub.raw -> renderer (pipeline: stats, AGC, colormap, JPEG;
passes ready-made JPEGs through) -> hub.encoded -> ws_server (WebSocket fan-out) and
http_server (page, snapshots, MJPEG, health, metrics); stats_log and alarms (with
region_meter: the regions, measured once per frame; webhook) read hub.raw too;
commands carry client requests into the shared acquisition state; app starts, wires and
stops it all.
"""
