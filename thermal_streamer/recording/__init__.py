"""Raw frames to disk and back: triggers and disk budget (pure), file formats, the recorder
threads and playback.

Error tree::

    FormatError          (formats: a frame the chosen format cannot hold)
"""
