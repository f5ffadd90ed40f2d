"""Thermal camera streamer: a daemon that reads a thermal camera and serves it to browsers.

Its packages, in import order (each imports only those before it; ``tests/test_layout.py``
checks it, and ``docs/architecture.md`` has one row per module): ``protocols``, ``core``,
``security``, ``control``, ``measure``, ``render``, ``outputs``, ``config``, ``mqtt``,
``sources``, ``recording``; ``app`` wires them together and ``cli`` runs it. The camera
itself is the separate ``lepton`` package.
"""
