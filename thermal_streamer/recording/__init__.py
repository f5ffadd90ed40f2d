"""Raw frames to disk and back: triggers and disk budget (pure), file formats, the recorder
thread, the writer thread, the recordings on disk (the library) and playback.

Error tree::

    FormatError          (formats: a frame the chosen format cannot hold)
"""
