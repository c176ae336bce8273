"""The README's commands name real commands and flags (CI runs its bash blocks as written)."""

import re
import shlex
from pathlib import Path

import pytest
import typer

from malpyeong_eval.cli import app

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(bash|shell)\n(.*?)^```", README, re.S | re.M)


def _commands():
    for kind, block in BLOCKS:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            for part in re.split(r"&&|;", line):
                words = shlex.split(part)
                if "malpyeong-eval" in words:
                    yield kind, words[words.index("malpyeong-eval") + 1 :]
                elif "malpyeong_eval" in words and "-m" in words:
                    yield kind, words[words.index("malpyeong_eval") + 1 :]


COMMANDS = list(_commands())


def test_first_block_installs_and_runs_the_demo_second_runs_the_tests():
    bash = [block for kind, block in BLOCKS if kind == "bash"]
    assert "pip install" in bash[0] and "malpyeong-eval demo" in bash[0]
    assert bash[1].strip() == "python -m pytest -q"


def test_readme_shows_every_command():
    shown = {words[0] for _, words in COMMANDS}
    assert shown >= {"demo", "score", "run", "train", "leaderboard", "show", "compare", "export", "plot"}


@pytest.mark.parametrize(("kind", "words"), COMMANDS, ids=[" ".join(w[:2]) for _, w in COMMANDS])
def test_commands_and_flags_exist(kind, words):
    click_app = typer.main.get_command(app)
    command = click_app.commands.get(words[0])
    assert command is not None, f"no command {words[0]!r}"
    flags = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
    for word in words[1:]:
        if word.startswith("-"):
            assert word.split("=")[0] in flags, f"{words[0]} has no flag {word}"
