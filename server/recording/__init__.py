"""Recording raw frames to disk, and getting them back (issue 11).

Modules, in data-flow order:

* ``policy``: the pure decisions (segment names, the trigger, motion, the pre-roll ring
  buffer, the disk budget); no threads, no files; tested value by value;
* ``formats``: the files (CPTV with its JSON Lines sidecar, HDF5), written append-only
  and readable after a crash, and read back;
* ``recorder``: the shell: the ``recorder`` thread (reads ``hub.raw``, decides) and the
  ``recorder-writer`` thread behind a bounded queue (the disk), its commands, health and
  the listing served over HTTP;
* ``playback``: a recording's index and frames for one viewer (``/playback/...``), as
  ``/stream`` messages rendered with the settings now; nothing live is touched.

Error tree::

    FormatError          (formats: a frame the chosen format cannot hold)
"""
