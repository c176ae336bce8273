"""The scoring spec the code cites is the package's own document, and every citation points into it.

Docstrings, comments, the README, the documentation site's pages and the tests cite ``malpyeong_eval/docs/scoring.md §N`` (or a
range ``§N–§M``); each such section must be a heading of the document, and the document must ship
with the package (package data), so that an installed user can read what the code cites.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from tests.manual_support import manual_pages

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("malpyeong_eval", "rewards", "train", "leaderboard", "benchmarks", "tests")
# `scoring.md §3`, `scoring.md` §2–§4, scoring.md §2-§3 (the word before may be a path)
CITATION = re.compile(r"scoring\.md`?'?s?\s*(§\d+)(?:\s*[–-]\s*(§\d+))?")
HEADING = re.compile(r"^## §(\d+) ", re.M)


def _document() -> str:
    return files("malpyeong_eval").joinpath("docs", "scoring.md").read_text(encoding="utf-8")


def _texts():
    for page in manual_pages():  # README.md and the documentation site's pages
        yield page, page.read_text(encoding="utf-8")
    for folder in SOURCES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield path, path.read_text(encoding="utf-8")


def _cited() -> dict[int, list[str]]:
    cited: dict[int, list[str]] = {}
    for path, text in _texts():
        for match in CITATION.finditer(text):
            first = int(match[1][1:])
            last = int(match[2][1:]) if match[2] else first
            for number in range(first, last + 1):
                cited.setdefault(number, []).append(f"{path.relative_to(ROOT)}: {match[0]}")
    return cited


def test_every_cited_section_is_a_heading_of_the_document():
    sections = {int(number) for number in HEADING.findall(_document())}
    assert sections == set(range(1, 8))  # §1–§7, the numbering the code has always cited
    cited = _cited()
    assert len(cited) >= 4, cited  # the citations are found at all (§2, §3, §5, §6 at least)
    missing = {number: where for number, where in cited.items() if number not in sections}
    assert not missing, missing


def test_no_reference_to_a_document_outside_the_repository():
    stale = [str(path.relative_to(ROOT)) for path, text in _texts()
             if "SCORING.md" in text and path != Path(__file__).resolve()]  # the spec outside the repository
    assert not stale, stale


def test_the_document_is_package_data():
    assert _document().startswith("# Scoring")  # read through importlib.resources, as an installed package is
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["malpyeong_eval"]
    assert any(fnmatch.fnmatch("docs/scoring.md", pattern) for pattern in patterns), patterns


def test_no_file_keeps_merge_conflict_markers():
    """A merge resolved by hand can leave ``<<<<<<<`` blocks behind (one once hid half the README's
    layout); no tracked text file may hold one."""
    import subprocess

    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout")
    marker = re.compile(r"^(<{7}|>{7})( |$)", re.M)
    kept = []
    for name in listed.stdout.splitlines():
        path = ROOT / name
        if path.suffix in (".py", ".md", ".toml", ".yaml", ".yml", ".txt", ".json", ".cfg", ".html", ".js", ".css", "") \
                and path.is_file():
            if marker.search(path.read_text(encoding="utf-8", errors="replace")):
                kept.append(name)
    assert kept == []
