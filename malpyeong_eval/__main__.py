"""``python -m malpyeong_eval`` is the ``malpyeong-eval`` command, wherever it is started.

``python -m`` puts the current folder first on ``sys.path``. The command line imports this
project's other top-level packages (``train``, ``leaderboard``, ``rewards``), and an ML project's
folder usually holds a ``train.py`` (or a ``rewards.py``): from there, ``import train.cli`` would
find that file instead of our package and fail (``'train' is not a package``) — exactly how the
multi-GPU recipe (``accelerate launch ... -m malpyeong_eval train``) starts the command.

So the entry that ``-m`` added is dropped before the command line is imported, unless the current
folder is the one that holds ``malpyeong_eval`` itself (a source checkout run from its root, where
that entry is how the packages are found). We drop the entry rather than import the sibling
packages from explicit file locations because the command never imports anything from the current
folder by design (it reads the user's files by path), the fix then covers every import the command
and its libraries make later, and sub-processes started through ``multiprocessing`` inherit the
corrected path. The console script ``malpyeong-eval`` never had the entry (its ``sys.path[0]`` is
the script's folder); ``python -P`` (``PYTHONSAFEPATH``) does not add it either.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def _drop_current_folder() -> None:
    """Remove ``sys.path[0]`` when it is the current folder and not where this package lives."""
    if not sys.path:
        return
    try:
        first = Path(sys.path[0] or os.curdir).resolve()
        current = Path.cwd().resolve()
    except OSError:  # a current folder that was removed: nothing to shadow with
        return
    home = Path(__file__).resolve().parent.parent  # the folder holding malpyeong_eval (and, in a checkout, its siblings)
    if first == current and current != home:
        del sys.path[0]


_drop_current_folder()

from malpyeong_eval.cli import main  # noqa: E402  (after the path is fixed)

main()
