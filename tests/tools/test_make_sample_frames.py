"""tools/make_sample_frames.py still renders the committed sample frames."""

from __future__ import annotations

import importlib.util

import numpy as np
from PIL import Image

from tests.conftest import ROOT, TEST_DATA

TOOL = ROOT / "tools" / "make_sample_frames.py"


def load_tool():
    spec = importlib.util.spec_from_file_location("make_sample_frames", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rendered_frames_match_the_committed_ones(tmp_path):
    """Re-rendering gives 640x480 JPEGs that match thermal2/3/4.jpg (mean difference < 1 level)."""
    tool = load_tool()
    assert tool.DATA_DIR == TEST_DATA  # the BSD-licensed captures' copies, in the repository
    assert tool.main(["--out", str(tmp_path)]) == 0
    for name in tool.SAMPLES:
        fresh = Image.open(tmp_path / name)
        committed = Image.open(ROOT / name)
        assert fresh.size == committed.size == (640, 480)
        difference = np.abs(np.asarray(fresh, np.int16) - np.asarray(committed, np.int16))
        assert difference.mean() < 1.0, f"{name}: mean difference {difference.mean():.2f}"
