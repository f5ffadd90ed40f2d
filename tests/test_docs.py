"""The README stays a front door and every relative link in it and in docs/ leads somewhere.

Anchors are checked against GitHub's heading slugs: the heading's text in lower case,
with every character that is not a letter, a digit, a space, ``-`` or ``_`` removed and
spaces turned into ``-``; a repeated heading gets ``-1``, ``-2``, ...
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

README_MAX_BYTES = 20_000  # issue 16: the README is the front door, reference lives in docs/
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```.*?^```[ \t]*$", re.M | re.S)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"\]\(([^()\s]+)\)")
HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t]*#*[ \t]*$", re.M)
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text: "5.2 `/stream`: a b" -> "52-stream-a-b"."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts by its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a Markdown file, repeats numbered as GitHub numbers them."""
    seen: dict[str, int] = {}
    result = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def relative_links(path: Path) -> list[str]:
    """The link and image targets of a Markdown file that are not URLs, outside code."""
    text = CODE_SPAN.sub("", FENCE.sub("", path.read_text()))
    return [target for target in LINK.findall(text) if not SCHEME.match(target)]


def test_readme_is_under_twenty_thousand_bytes():
    """README.md is at most 20,000 bytes: the reference belongs in docs/."""
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes, at most {README_MAX_BYTES}"


def test_slug_is_githubs():
    """Headings become GitHub's anchors: code, colons, apostrophes and § dropped."""
    assert slug("5.2 `/stream`: the viewer's protocol, version 1") == (
        "52-stream-the-viewers-protocol-version-1")
    assert slug("`[Server-Configurations]`") == "server-configurations"
    assert slug("Checking the camera's wiring: `python -m lepton`") == (
        "checking-the-cameras-wiring-python--m-lepton")


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading(document):
    """Each relative link names a file that exists and, after #, one of its headings."""
    broken = []
    for target in relative_links(document):
        name, _, anchor = target.partition("#")
        linked = (document.parent / name).resolve() if name else document
        if not linked.exists():
            broken.append(f"{target}: no file {linked.relative_to(ROOT)}")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.relative_to(ROOT)}")
    assert broken == []
