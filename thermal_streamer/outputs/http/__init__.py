"""The HTTP server, as a frame's way through it: ``server`` (the connection loop and the
shell that answers one request) asks ``routes`` (the table of paths) for an answer
(``answers``), made by ``assets``, ``snapshots`` or ``mjpeg`` or handed in by a component."""
