"""thermal_streamer.core.source: what a source that declares nothing can do (the defaults)."""

import threading

import pytest

from lepton.radiometry import FluxLinearParams
from thermal_streamer.core.source import Publish, Source


class Pictures(Source):
    """A source that says nothing about itself: only ``kind`` and ``run``."""

    kind = "pictures"

    def run(self, publish: Publish, stop: threading.Event) -> None:
        stop.wait()


def test_a_source_declares_no_ability_unless_it_says_so():
    """No raw frames, no FFC, not relayed, the app runs its commands, no companions."""
    source = Pictures()
    assert (source.has_raw, source.can_ffc, source.relayed) == (False, False, False)
    assert source.commands is None and source.companions == ()
    assert source.status() == {}


def test_ffc_and_radiometry_refuse_with_the_reason():
    """run_ffc and set_radiometry raise NotImplementedError naming the source kind."""
    source = Pictures()
    with pytest.raises(NotImplementedError) as info:
        source.run_ffc()
    assert str(info.value) == "ffc is only available with a Lepton camera (source is pictures)"
    with pytest.raises(NotImplementedError) as info:
        source.set_radiometry(FluxLinearParams())
    assert str(info.value) == "emissivity needs temperatures, which pictures frames are not"
