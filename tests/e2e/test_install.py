"""``pip install .`` into a fresh venv: the console scripts, run from another folder, serve the
page, its assets and frames from the installed package alone (docs/install.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import urllib.request
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.conftest import ROOT, Daemon

PIP_TIMEOUT_S = 240  # builds the wheel; setuptools comes from pip's configured index
RUN_TIMEOUT_S = 30
FRAME_TIMEOUT_S = 10
SITE_PACKAGES = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
# What a clone holds that the build must not see (or write into the checkout: pip builds
# in the source folder, leaving build/ and *.egg-info/ there).
NOT_IN_A_CLONE = shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                        ".pytest_cache", ".hypothesis", "recordings", "tests")


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A venv with this tree pip-installed (not editable); returns its bin folder.

    The runtime dependencies are the ones this test run already has: a ``.pth`` file puts
    the running interpreter's site-packages after the venv's own, so pip finds them
    satisfied and installs only the project, offline but for the build backend.
    """
    base = tmp_path_factory.mktemp("install")
    source = base / "clone"
    shutil.copytree(ROOT, source, symlinks=True, ignore=NOT_IN_A_CLONE)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=RUN_TIMEOUT_S)
    python = venv / "bin" / "python"
    site = subprocess.run([python, "-c", SITE_PACKAGES], capture_output=True, text=True,
                          check=True, timeout=RUN_TIMEOUT_S)
    shared = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site.stdout.strip()) / "test-run-packages.pth").write_text("\n".join(sorted(shared)))
    result = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                             "--quiet", str(source)], capture_output=True, text=True,
                            timeout=PIP_TIMEOUT_S)
    assert result.returncode == 0, result.stdout + result.stderr
    return venv / "bin"


def test_the_installed_package_is_the_one_imported(installed, tmp_path):
    """From another folder, thermal_streamer and lepton come from the venv, not the checkout."""
    result = subprocess.run(
        [installed / "python", "-c", "import json, lepton, thermal_streamer; "
         "print(json.dumps([lepton.__file__, thermal_streamer.__file__]))"],
        cwd=tmp_path, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, env={})
    assert result.returncode == 0, result.stderr
    venv = installed.parent.resolve()
    for path in json.loads(result.stdout):
        assert Path(path).resolve().is_relative_to(venv), path


def test_print_config_writes_the_shipped_server_conf(installed, tmp_path):
    """thermal-streamer --print-config prints the repository's server.conf and exits 0."""
    result = subprocess.run([installed / "thermal-streamer", "--print-config"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "server.conf").read_text()


def test_the_default_config_is_the_packaged_one(installed, tmp_path):
    """Without -c the installed daemon reads the server.conf inside the package (its errors
    name that file)."""
    result = subprocess.run([installed / "thermal-streamer", "--source", "replay"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    site = subprocess.run([installed / "python", "-c", SITE_PACKAGES], capture_output=True,
                          text=True, check=True, timeout=RUN_TIMEOUT_S).stdout.strip()
    packaged = Path(site).resolve() / "thermal_streamer" / "config" / "server.conf"
    assert result.returncode == 2, result.stderr
    assert f"configuration error: {packaged} [Source] Replay = ''" in result.stderr


def test_console_script_serves_page_assets_and_frames(installed, tmp_path):
    """thermal-streamer run from another folder serves /, a page asset, /config.json and
    frames over the WebSocket /stream; stopped by its PID, it exits 0."""
    daemon = Daemon(["--source", "simulated"], cwd=tmp_path,
                    program=(str(installed / "thermal-streamer"),))
    try:
        assert daemon.http_port, daemon.log()
        with urllib.request.urlopen(daemon.http_url + "/", timeout=RUN_TIMEOUT_S) as response:
            page = response.read()
        assert page == (ROOT / "thermal_streamer" / "page" / "index.html").read_bytes()
        assert b'src="static/main.js"' in page
        with urllib.request.urlopen(daemon.http_url + "/static/main.js",
                                    timeout=RUN_TIMEOUT_S) as response:
            assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
            assert response.read() == (ROOT / "thermal_streamer" / "page" / "static"
                                       / "main.js").read_bytes()
        with urllib.request.urlopen(daemon.http_url + "/config.json",
                                    timeout=RUN_TIMEOUT_S) as response:
            config = json.load(response)
        assert config["source"] == "simulated" and config["ws_port"] == daemon.ws_port
        with connect(daemon.ws_url + "/stream", open_timeout=FRAME_TIMEOUT_S) as ws:
            message = ws.recv(timeout=FRAME_TIMEOUT_S)
            while not isinstance(message, bytes):  # hello, then state, then frames
                message = ws.recv(timeout=FRAME_TIMEOUT_S)
        assert len(message) > 100
    finally:
        status = daemon.stop()
    assert status == 0, daemon.log()


def test_lepton_check_help_runs(installed, tmp_path):
    """lepton-check --help (the lepton wiring diagnostics) exits 0 and prints its usage."""
    result = subprocess.run([installed / "lepton-check", "--help"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert result.returncode == 0, result.stderr
    assert "Check a FLIR Lepton's wiring" in result.stdout
