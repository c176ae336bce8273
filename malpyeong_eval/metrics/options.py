"""How the model-based scorers run, as one value: :class:`ScorerOptions`.

Every entry point that scores (``score``, ``run``, ``rescore``, ``train``, the rewards, the
``evaluate`` module, :class:`~malpyeong_eval.evaluation.ContestScorer`) takes one ``ScorerOptions``
and passes it whole. Two parts of it mean different things:

- *identity* (the models, BERTScore's layer, the device): which loaded model scores. The scorer
  pool (:mod:`.pool`) keys on it, normalized (defaults filled in, ``cuda`` → ``cuda:0``), so that
  ``cuda`` and ``cuda:0`` share one copy;
- ``batch_size``: a runtime knob, passed to each ``score`` call, never part of a pool key or of a
  configuration string (it changes no score).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from ..batching import BatchSize
from ..errors import MalpyeongError


@dataclass(frozen=True)
class ScorerOptions:
    """The scorer options of the command line (``--bertscore-model``, ``--bertscore-layers``,
    ``--bleurt-model``, ``--device``, ``--batch-size`` / ``--score-batch-size``).

    ``None`` everywhere means the defaults: mBERT at bert_score's layer (or
    ``MALPYEONG_BERTSCORE_MODEL``), BLEURT-20 (or ``MALPYEONG_BLEURT_MODEL``), CUDA when available,
    each scorer's own batch size (BERTScore 64, BLEURT 32). ``batch_size="auto"``: the largest that
    fits, halved on out-of-memory.

    >>> ScorerOptions(device="cpu").with_batch_size("auto").batch_size
    'auto'
    """

    bertscore_model: str | None = None
    bertscore_layers: int | None = None
    bleurt_model: str | None = None
    device: str | None = None
    batch_size: BatchSize = None

    def __post_init__(self) -> None:
        size = self.batch_size
        if size is not None and size != "auto" and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise MalpyeongError(f"batch size {size!r}: give a positive integer or 'auto'")
        layers = self.bertscore_layers
        if layers is not None and (isinstance(layers, bool) or not isinstance(layers, int) or layers < 0):
            raise MalpyeongError(f"--bertscore-layers {layers!r}: give a layer number (0 or more)")

    def with_batch_size(self, batch_size: BatchSize) -> ScorerOptions:
        """The same options with another batch size."""
        return replace(self, batch_size=batch_size)

    def with_device(self, device: str | None) -> ScorerOptions:
        """The same options on another device."""
        return replace(self, device=device)

    def to_dict(self) -> dict[str, Any]:
        """The options as a mapping (for JSON and ``**`` into the flags' names)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


def parse_batch_size(text: str | None, flag: str = "--batch-size") -> BatchSize:
    """A scorer batch-size flag: ``None`` (the scorers' defaults), a positive integer, or ``auto``."""
    if text is None:
        return None
    if text.strip().lower() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise MalpyeongError(f"{flag} {text!r}: give a positive integer or 'auto'")
    return value


def normalize_device(device: str | None) -> str:
    """The device a model is loaded on, as one name per device: ``resolve_device`` 's choice, with
    an accelerator's index made explicit (``cuda`` → ``cuda:0``, the current one)."""
    import torch

    from .loading import resolve_device

    resolved = torch.device(resolve_device(device))
    if resolved.type in ("cpu", "mps") or resolved.index is not None:
        return str(resolved) if resolved.type != "cpu" else "cpu"
    return f"{resolved.type}:{getattr(torch, resolved.type).current_device()}"
