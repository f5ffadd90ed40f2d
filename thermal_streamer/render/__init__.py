"""Raw pixels to pictures: the pure pipeline (AGC, colormap, enlarge, JPEG) and the renderer
thread that feeds it from the hub."""
