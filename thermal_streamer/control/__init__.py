"""What clients may change: the shared acquisition state, the commands that change it, the
render settings' schema and the colormaps."""
