"""GRPO training with the contest rewards (GRPOTrainer, LoRA, vLLM, accelerate).

``malpyeong-eval train`` from Python::

    from train import load_settings, train

    summary = train(load_settings("train/configs/grpo_qwen3.yaml", {"data": "train.json"}))
    summary.evaluations  # each saved checkpoint's RunOutcome; summary.to_json() == train --json

``train`` and ``TrainSummary`` are imported on first use (they need transformers and TRL).
"""

from typing import TYPE_CHECKING, Any

from .config import TrainSettings, load_settings, validate

if TYPE_CHECKING:
    from .trainer import TrainSummary, train

__all__ = ["TrainSettings", "TrainSummary", "load_settings", "train", "validate"]


def __getattr__(name: str) -> Any:
    if name in ("train", "TrainSummary"):
        from . import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
