"""``python -m malpyeong_eval`` does not depend on the folder it is started in.

An ML project's folder holds a ``train.py`` (and often a ``rewards.py``); ``python -m`` puts that
folder first on ``sys.path``, where those files would shadow this project's ``train``,
``leaderboard`` and ``rewards`` packages (the README's ``accelerate launch ... -m malpyeong_eval
train`` starts the command that way).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

SHADOWS = ("train", "leaderboard", "rewards")


@pytest.fixture
def project_folder(tmp_path):
    """A folder like an ML repository's, whose train.py, leaderboard.py and rewards.py raise on import."""
    for name in SHADOWS:
        (tmp_path / f"{name}.py").write_text(f"raise RuntimeError('the current folder\\'s {name}.py was imported')\n")
    return tmp_path


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"]])
def test_python_dash_m_ignores_modules_in_the_current_folder(project_folder, args):
    done = subprocess.run([sys.executable, "-m", "malpyeong_eval", *args], cwd=project_folder,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Usage" in done.stdout and "current folder" not in done.stderr
    if args[0] == "train":
        assert "--eval-mode" in done.stdout  # the train command's own help, from our train package


@pytest.mark.parametrize("args", [["--help"], ["leaderboard", "--help"], ["train", "--help"]])
def test_help_shows_flags_as_flags(args, cli):
    """``--version``, ``--json`` and every other flag take no value: no ``<bool>`` beside them (typer 0.29 shows one)."""
    code, out, _ = cli(*args)
    assert code == 0 and "--help" in out and "<bool>" not in out
    assert "<int" in out or "<str>" in out or args == ["--help"]  # options that take a value keep their type
