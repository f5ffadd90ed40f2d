"""server.conf and the command line, read into one typed Config."""
