"""Pure codecs: bytes in, values out (the wire forms, byte ranges, bsread, pictures); no I/O."""
