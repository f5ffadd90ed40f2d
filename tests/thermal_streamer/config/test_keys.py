"""thermal_streamer.config.keys: the one table of server.conf keys, the shipped file and the
docs' tables agree with it."""

from pathlib import Path

from thermal_streamer.config.keys import SETTINGS, sections_table
from thermal_streamer.config.loader import DEFAULT_CONFIG_PATH, load_config


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


def test_readme_documents_every_key():
    """Every server.conf key has its row in the README's configuration tables."""
    readme = (DEFAULT_CONFIG_PATH.parent / "README.md").read_text()
    assert [s.key for s in SETTINGS if f"| `{s.key}` |" not in readme] == []
