"""The viewer page and its assets, read from disk once at start-up.

This is the one place that knows where they live (``ROOT``): to serve them from
elsewhere, change ``ROOT`` or pass another folder to :func:`load_assets`.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "page"  # index.html and static/: package data
ASSET_TYPES = {  # the only files on disk the server sends: static/*.js and static/*.css
    ".js": "text/javascript; charset=utf-8",  # the viewer page's ES modules
    ".css": "text/css; charset=utf-8",
}


def load_assets(root: Path = ROOT) -> dict[str, tuple[str, bytes]]:
    """Read the page and its assets once: {url path: (content type, body)}.

    The assets are the files directly in ``root/static`` whose suffix is in ASSET_TYPES
    (a new ES module needs no list to be edited); nothing else on disk is reachable.

    Raises:
        OSError: ``root/index.html`` or ``root/static`` cannot be read.
    """
    assets = {"/": ("text/html; charset=utf-8", (root / "index.html").read_bytes())}
    assets["/index.html"] = assets["/"]
    for path in sorted((root / "static").iterdir()):
        content_type = ASSET_TYPES.get(path.suffix)
        if content_type and path.is_file():
            assets[f"/static/{path.name}"] = (content_type, path.read_bytes())
    return assets
