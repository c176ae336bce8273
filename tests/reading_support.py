"""How often a command opens one file for reading: the check that a data file is read once."""

from __future__ import annotations

import builtins
import io
import os
from pathlib import Path


def count_reads(monkeypatch, path: Path) -> list[str]:
    """Spy on ``open`` (``builtins.open``, and ``io.open``, which ``Path.read_text`` calls): the list
    gets the mode of every opening of ``path`` for reading, from any module, from now on."""
    target = Path(path).resolve()
    reads: list[str] = []
    original = builtins.open

    def spying(file, mode="r", *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and not any(c in mode for c in "wax+") and Path(file).resolve() == target:
            reads.append(mode)
        return original(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spying)
    monkeypatch.setattr(io, "open", spying)
    return reads
