"""``malpyeong-eval ARGS`` in-process, for fixtures and helpers that cannot take the function-scoped
``cli`` fixture (a module-scoped run several tests read, a helper that runs in a given folder)."""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest


def run_cli(*args: str, cwd: Path | str | None = None) -> tuple[int, str, str]:
    """Run ``malpyeong-eval ARGS`` in this process (in ``cwd`` if given); returns (exit status, stdout, stderr)."""
    from malpyeong_eval.cli import main

    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        patch.setattr(sys, "argv", ["malpyeong-eval", *args])
        if cwd is not None:
            patch.chdir(cwd)
        with pytest.raises(SystemExit) as info:
            main()
    return info.value.code, out.getvalue(), err.getvalue()
