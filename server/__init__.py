"""The thermal streaming daemon, in data-flow order:

config -> sources/ -> (hub.raw) -> renderer (pipeline: stats, AGC, colormap, JPEG)
-> (hub.encoded) -> ws_server (WebSocket fan-out) and http_server (page, snapshot, health);
commands carry client requests into the shared acquisition state; app wires it all.
"""
