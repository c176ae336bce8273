"""Batches that find their own size: ``--batch-size auto`` for generation and the model-based scorers.

The size starts large and is halved on out-of-memory, the failed batch retried at the new size,
which the following batches keep (lm-evaluation-harness's ``--batch_size auto`` finds the largest
size that fits the same way, by trying). Importing this module imports no framework.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal, Optional, Union

BatchSize = Optional[Union[int, Literal["auto"]]]  # None: the user's default; "auto": the largest that fits


def is_out_of_memory(exc: BaseException) -> bool:
    """A CUDA out-of-memory error, or a RuntimeError that says out of memory (other devices)."""
    import torch

    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


def run_halving(order: Sequence[int], size: int, run_batch: Callable[[list[int]], None]) -> int:
    """``run_batch`` on consecutive batches of ``order``; on out-of-memory the batch is retried at
    half the size, which the following batches keep. Returns the size that fitted last."""
    import torch

    start = 0
    while start < len(order):
        batch = list(order[start : start + size])
        try:
            run_batch(batch)
        except Exception as exc:
            if size == 1 or not is_out_of_memory(exc):
                raise
            size = max(1, size // 2)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            continue
        start += len(batch)
    return size


def run_batches(count: int, size: int, run_batch: Callable[[list[int]], None]) -> None:
    """``run_batch`` on consecutive batches of ``range(count)`` of a fixed ``size``."""
    for start in range(0, count, size):
        run_batch(list(range(start, min(count, start + size))))


class BatchSizer:
    """A scorer's batch size per call: a fixed size, its default, or ``auto``.

    ``auto`` starts at ``auto_start`` (or what fitted on an earlier call of this scorer) and halves
    on out-of-memory; :attr:`fitted` is the size that fitted last, :attr:`settled` the same once an
    ``auto`` call has run (``None`` before).

    >>> sizer = BatchSizer(default=32)
    >>> seen = []
    >>> sizer.run(5, 2, seen.append)
    >>> seen
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, default: int, auto_start: int = 512) -> None:
        self.default, self.fitted = default, auto_start
        self.settled: int | None = None

    def run(self, count: int, batch_size: BatchSize, run_batch: Callable[[list[int]], None]) -> None:
        """``run_batch`` over ``range(count)`` in batches of ``batch_size`` (``None``: the default)."""
        if batch_size == "auto":
            if count:
                self.fitted = self.settled = run_halving(range(count), max(1, min(self.fitted, count)), run_batch)
            return
        run_batches(count, batch_size or self.default, run_batch)


def settled_line(what: str, size: int) -> str:
    """The line that says which size ``--batch-size auto`` settled on for ``what``."""
    return f"--batch-size auto: {what} settled on {size}"
