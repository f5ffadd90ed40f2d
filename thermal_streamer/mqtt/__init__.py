"""The broker: the link (connect, retry, publish), topic names, Home Assistant discovery and
the publisher of frames, statistics and state."""
