"""thermal_streamer.config.keys: the one table of server.conf keys, the shipped file and the
docs' tables agree with it."""

import concurrent.futures
from pathlib import Path

import pytest

from thermal_streamer.config.errors import ConfigError
from thermal_streamer.config.keys import SETTINGS, sections_table
from thermal_streamer.config.loader import DEFAULT_CONFIG_PATH, load_config
from thermal_streamer.control.commands import CommandError
from thermal_streamer.control.render_settings import RenderSettings
from thermal_streamer.control.state import AcquisitionState
from thermal_streamer.measure import object_parameters
from thermal_streamer.measure.object_parameters import RadiometryCommand, RadiometrySettings


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "server.conf"
    path.write_text(text)
    return str(path)


def test_shipped_config_matches_defaults(tmp_path):
    """Every key in the shipped server.conf is valid and shows the built-in default, and
    the shipped file names every key there is."""
    shipped = load_config(["-c", str(DEFAULT_CONFIG_PATH)])
    defaults = load_config(["-c", write(tmp_path, "")])
    for name, value in vars(shipped).items():
        if name not in ("config_path", "image", "replay", "recordings_dir"):  # paths
            assert value == getattr(defaults, name), name
    assert shipped.http_port == 80 and shipped.send_timeout_s == 10.0
    text = DEFAULT_CONFIG_PATH.read_text()
    for setting in SETTINGS:
        assert f"\n{setting.key} =" in text, f"server.conf does not show {setting.key}"


def test_protocol_doc_holds_the_sections_table_the_settings_print():
    """docs/protocol.md §2 lists every section, key and option: the table config prints."""
    text = (DEFAULT_CONFIG_PATH.parent / "docs" / "protocol.md").read_text()
    assert "\n".join(sections_table()) in text


def test_configuration_doc_documents_every_key():
    """Every server.conf key has its row in docs/configuration.md's tables."""
    doc = (DEFAULT_CONFIG_PATH.parent / "docs" / "configuration.md").read_text()
    assert [s.key for s in SETTINGS if f"| `{s.key}` |" not in doc] == []


@pytest.mark.parametrize("field", object_parameters.FIELDS, ids=lambda f: f.name)
def test_object_parameters_are_lepton_keys_and_set_radiometry_fields_alike(tmp_path, field):
    """Each object parameter is a [Lepton] row made from its field (key, default), and
    server.conf and set_radiometry refuse a value beyond it with the same words."""
    row = next(s for s in SETTINGS if s.name == field.name)
    assert (row.section, row.key, row.default) == ("Lepton", field.key, f"{field.default:g}")
    too_high = field.high + 1
    path = write(tmp_path, f"[Lepton]\n{field.key} = {too_high:g}\n")
    with pytest.raises(ConfigError) as in_file:
        load_config(["-c", path])
    assert str(in_file.value) == f"{path} [Lepton] {field.key} = '{too_high:g}': must be " \
                                 f"{field.allowed}"
    state = AcquisitionState(RenderSettings())
    command = RadiometryCommand(state, lambda _params: concurrent.futures.Future(),
                                RadiometrySettings())
    with pytest.raises(CommandError) as by_command:
        command.validate({field.name: too_high})
    assert str(by_command.value) == f"{field.name} must be {field.allowed}"
