"""The README and docs/: every relative link resolves, anchors included, and the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
# [text](target): inline links and images; code spans are dropped before looking.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.DOTALL)


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation but hyphens dropped, spaces as hyphens."""
    text = CODE.sub("", page.read_text())
    headings = re.findall(r"^#{1,6} (.+)$", text, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}


def links(page: Path) -> list[str]:
    return LINK.findall(CODE.sub("", page.read_text()))


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(target)
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(target)
    assert broken == [], f"{page.name}: {broken}"


def test_the_checker_sees_links_and_anchors() -> None:
    # A checker that finds nothing passes everything.
    assert "docs/key-vault.md" in links(REPO / "README.md")
    assert {"quickstart", "add-it-to-your-function-app", "settings"} <= anchors(REPO / "README.md")
    assert "protected-resource-metadata-rfc-9728" in anchors(REPO / "docs" / "validation-and-caching.md")


def test_the_readme_is_a_ten_minute_read() -> None:
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 300
    for section in ("## Contents", "## Prerequisites", "## Quickstart", "## Add it to your function app"):
        assert section in lines, section
