"""thermal_streamer.sources.scene: the simulated room is believable radiometric data."""

import numpy as np

from thermal_streamer.sources.scene import ThermalScene


def celsius(frame: np.ndarray) -> np.ndarray:
    return frame / 100 - 273.15


def test_room_people_and_noise():
    """~22 C background, warm bodies near 34 C, sensor noise, uint16 centikelvin 160x120."""
    scene = ThermalScene()
    frame = scene.frame(0.0)
    assert frame.dtype == np.uint16 and frame.shape == (120, 160)
    c = celsius(frame)
    assert 21.0 < np.median(c) < 23.0  # most of the picture is the room
    faces = c[(c > 32) & (c < 36)]
    assert faces.size > 30  # warm skin
    again = celsius(ThermalScene().frame(0.0))
    assert np.array_equal(c, again)  # seeded: repeatable
    noise = celsius(scene.frame(0.0)) - c  # same moment, new noise
    assert 0.02 < noise.std() < 0.1


def test_people_move():
    """The warm bodies are somewhere else a few seconds later."""
    scene = ThermalScene(60, 80)
    hot_then = celsius(scene.frame(0.0)) > 30
    hot_later = celsius(scene.frame(4.0)) > 30
    assert (hot_then != hot_later).sum() > 50
