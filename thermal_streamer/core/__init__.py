"""What every part shares: the frame types, the hub that hands frames over, health reports,
rate limits, listening sockets and systemd notifications."""
