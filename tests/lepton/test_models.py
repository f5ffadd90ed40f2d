"""lepton.models: the models' geometry and the part-number table (docs/vospi.md §1)."""

import pytest

from lepton.models import MODEL_NAMES, PART_NUMBERS, LeptonPart, Model, lepton_part


def test_model_geometry():
    """Lepton 2 is 80x60 in one segment; Lepton 3 is 160x120 in four."""
    assert (Model.LEPTON2.rows, Model.LEPTON2.cols, Model.LEPTON2.segments) == (60, 80, 1)
    assert (Model.LEPTON3.rows, Model.LEPTON3.cols, Model.LEPTON3.segments) == (120, 160, 4)
    assert MODEL_NAMES == {Model.LEPTON2: "Lepton 2.x", Model.LEPTON3: "Lepton 3.x"}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("500-0771-01", LeptonPart("500-0771-01", "Lepton 3.5", Model.LEPTON3, True)),
        (" 500-0659-01 rev 2", LeptonPart("500-0659-01", "Lepton 2.0", Model.LEPTON2, False)),
        ("500-0690-00", None),
    ],
)
def test_lepton_part_reads_the_first_eleven_characters(text, expected):
    """A part number is looked up by its first 11 characters; an unknown one gives None."""
    assert lepton_part(text) == expected


def test_part_table_covers_both_models_with_and_without_radiometry():
    """The four parts of the datasheet's table: 2.0, 2.5, 3.0, 3.5."""
    assert sorted((p.model.value, p.radiometric) for p in PART_NUMBERS.values()) == [
        ("lepton2", False),
        ("lepton2", True),
        ("lepton3", False),
        ("lepton3", True),
    ]
