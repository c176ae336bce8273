"""Warnings of TRL and transformers that a user of malpyeong-eval cannot act on, silenced where they arise.

TRL 1.16 sets and calls transformers 5's deprecated gradient-checkpointing names: ``GRPOConfig``'s own
default ``gradient_checkpointing=True``, and the trainer's ``gradient_checkpointing_enable``/``_disable``
and ``is_gradient_checkpointing`` around each generation (a FutureWarning each, every training).
Nothing in a user's configuration changes them; an update of TRL will.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["LIBRARY_WARNINGS", "library_warnings_silenced"]

LIBRARY_WARNINGS = (r"`(gradient_checkpointing|gradient_checkpointing_kwargs|is_gradient_checkpointing|"
                    r"gradient_checkpointing_enable|gradient_checkpointing_disable)` is deprecated")


@contextmanager
def library_warnings_silenced() -> Iterator[None]:
    """The block without :data:`LIBRARY_WARNINGS` (FutureWarning); every other warning as before."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=LIBRARY_WARNINGS, category=FutureWarning)
        yield
