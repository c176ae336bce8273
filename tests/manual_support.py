"""The manual: README.md, then the documentation site's pages in mkdocs.yml's nav order, and their fenced blocks.

One reader for the tests (commands and flags exist, citations point into the spec) and for CI
(``.ci/readme_commands.py`` runs every ``bash`` and ``python`` block in this order).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
FRONT_PAGE = "index.md"  # the site's front page is README.md (docs/hooks/readme.py)
RUN = ("bash", "python")  # blocks CI runs; `shell` and `py` blocks need data, models, a GPU or a server
SHOWN = ("shell", "py")
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def _nav_files(nav: Any) -> Iterator[str]:
    if isinstance(nav, str):
        yield nav
    elif isinstance(nav, list):
        for entry in nav:
            yield from _nav_files(entry)
    elif isinstance(nav, dict):
        for value in nav.values():
            yield from _nav_files(value)


def site_pages(root: Path = ROOT) -> list[Path]:
    """The site's pages in nav order, the front page left out (it is README.md)."""
    config = yaml.safe_load((root / "mkdocs.yml").read_text(encoding="utf-8"))
    docs = root / config.get("docs_dir", "docs")
    return [docs / name for name in _nav_files(config["nav"]) if name != FRONT_PAGE]


def manual_pages(root: Path = ROOT) -> list[Path]:
    """README.md, then the site's pages in nav order."""
    return [root / "README.md", *site_pages(root)]


def blocks(path: Path, kinds: tuple[str, ...] = RUN + SHOWN) -> list[tuple[str, str]]:
    """The fenced blocks of one page whose language is one of ``kinds``: (language, text), in order."""
    return [(kind, text) for kind, text in FENCE.findall(path.read_text(encoding="utf-8")) if kind in kinds]
