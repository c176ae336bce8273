"""The manual's commands name real commands and flags (CI runs its bash and python blocks as written).

The manual is README.md and the documentation site's pages (tests/manual_support.py). These checks
read the text only; the blocks themselves run in CI (.ci/readme_commands.py), not here.
"""

import ast
import re
import shlex

import pytest

from malpyeong_eval.cli import click_command
from tests.manual_support import ROOT, blocks, manual_pages, site_pages

PAGES = manual_pages()
COMMAND_BLOCKS = [(page, kind, text) for page in PAGES for kind, text in blocks(page, ("bash", "shell"))]
PYTHON_BLOCKS = [(page, kind, text) for page in PAGES for kind, text in blocks(page, ("python", "py"))]


def _commands(texts):
    for page, kind, block in texts:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            for part in re.split(r"&&|;", line):
                words = shlex.split(part)
                if "malpyeong-eval" in words:
                    yield page, kind, words[words.index("malpyeong-eval") + 1 :]
                elif "malpyeong_eval" in words and "-m" in words:
                    yield page, kind, words[words.index("malpyeong_eval") + 1 :]


COMMANDS = list(_commands(COMMAND_BLOCKS))
CLICK_APP = click_command()  # the command line's own click object, built once


def test_first_block_installs_and_runs_the_demo_second_runs_the_tests():
    readme = blocks(ROOT / "README.md", ("bash", "python"))
    assert [kind for kind, _ in readme[:2]] == ["bash", "bash"]
    assert "pip install" in readme[0][1] and "malpyeong-eval demo" in readme[0][1]
    assert readme[1][1].strip() == "python -m pytest -q"


def test_readme_is_a_front_page():
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) <= 200


def test_the_site_has_every_page_and_every_page_is_in_the_nav():
    pages = site_pages()
    assert all(page.is_file() for page in pages), [str(page) for page in pages if not page.is_file()]
    written = {path for path in (ROOT / "docs").rglob("*.md") if "hooks" not in path.parts}
    assert written - set(pages) == {ROOT / "docs" / "index.md"}  # the front page: README.md


def test_readme_tours_the_commands_and_the_manual_shows_every_command():
    readme = {words[0] for page, _, words in COMMANDS if page.name == "README.md"}
    assert readme >= {"demo", "score", "run", "leaderboard", "show", "compare", "export", "plot"}
    shown = {words[0] for _, _, words in COMMANDS}
    assert shown == set(CLICK_APP.commands)


@pytest.mark.parametrize(("page", "kind", "words"), COMMANDS,
                         ids=[f"{page.name}: {' '.join(words[:2])}" for page, _, words in COMMANDS])
def test_commands_and_flags_exist(page, kind, words):
    command = CLICK_APP.commands.get(words[0])
    assert command is not None, f"{page.name}: no command {words[0]!r}"
    flags = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
    for word in words[1:]:
        if word.startswith("-"):
            assert word.split("=")[0] in flags, f"{page.name}: {words[0]} has no flag {word}"


def test_every_python_block_parses():
    """The ``python`` blocks run in CI; the ``py`` ones (real models, your data) never run, so at least they parse."""
    assert PYTHON_BLOCKS
    for page, kind, text in PYTHON_BLOCKS:
        ast.parse(text, filename=f"{page.name} ({kind} block)")
