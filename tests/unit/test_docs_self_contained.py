"""The project is self-contained: every link in README and docs/ resolves inside the repository."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_every_markdown_link_points_at_a_file_of_the_repository():
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            path = (page.parent / target.split("#")[0]).resolve()
            if "://" in target or not path.is_relative_to(ROOT) or not path.exists():
                broken.append((page.name, target))
    assert broken == []
    assert {"DESIGN.md", "DOMAIN.md", "INTEGRATING.md"} <= {p.name for p in PAGES}


def test_no_page_sends_the_reader_outside_the_repository():
    for page in PAGES:
        text = page.read_text()
        assert "../shared" not in text and "shared/DESIGN" not in text and "shared/DOMAIN" not in text, page.name
