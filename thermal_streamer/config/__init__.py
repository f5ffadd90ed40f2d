"""server.conf and the command line, read into one typed Config: the value parsers
(``values``), the named sections (``sections``), the table of keys (``keys``) and the loader
with its rules across keys (``loader``); every error is a ``ConfigError`` (``errors``)."""
