"""Progress of the model scorers (BERTScore, BLEURT), reported where they batch.

A command that shows progress installs a callback with :func:`reporting`; the scorers call
:func:`report` after each batch with a label, the texts (or pairs) done and their total. Without
a callback (rewards, library use, ``--json``) reporting costs nothing. A context variable carries
the callback, so the pooled scorers take no extra argument.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

ProgressCallback = Callable[[str, int, int], object]
_CALLBACK: ContextVar[ProgressCallback | None] = ContextVar("malpyeong_scorer_progress", default=None)


@contextmanager
def reporting(callback: ProgressCallback | None) -> Iterator[None]:
    """Send the scorers' progress to ``callback(label, done, total)`` inside the block (``None``: nowhere)."""
    token = _CALLBACK.set(callback)
    try:
        yield
    finally:
        _CALLBACK.reset(token)


def report(label: str, done: int, total: int) -> None:
    """Called by a scorer after each batch."""
    callback = _CALLBACK.get()
    if callback is not None and total:
        callback(label, done, total)
