"""Data for the lepton tests: recorded frames in tests/data, tCam files in ../shared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
SHARED_LEPTON_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "lepton"
# The permissively licensed recordings copied into tests/data (see its README).
RECORDED_PATTERNS = ("Jkillelea_*.npy", "brandoncurtis_*.npy", "TheCacophonyProject_*.npy")


def _recorded_frames() -> list[tuple[str, np.ndarray]]:
    frames = []
    for pattern in RECORDED_PATTERNS:
        for path in sorted(DATA_DIR.glob(pattern)):
            array = np.load(path)
            if array.ndim == 2:
                frames.append((path.stem, array))
            else:
                frames += [(f"{path.stem}[{i}]", frame) for i, frame in enumerate(array)]
    return frames


RECORDED_FRAMES = _recorded_frames()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``recorded_frame`` over every real frame in tests/data."""
    if "recorded_frame" in metafunc.fixturenames:
        metafunc.parametrize(
            "recorded_frame", [f for _, f in RECORDED_FRAMES], ids=[n for n, _ in RECORDED_FRAMES]
        )


@pytest.fixture
def load_data():
    """Load a .npy file from tests/data by name."""
    return lambda name: np.load(DATA_DIR / name)


@pytest.fixture
def shared_lepton():
    """Path of a file in ../shared/data/lepton; skips the test when ../shared is absent."""

    def get(name: str) -> Path:
        path = SHARED_LEPTON_DIR / name
        if not path.exists():
            pytest.skip(
                f"needs {path} (GPL-3.0 tCam data, kept outside the repository in ../shared)"
            )
        return path

    return get
