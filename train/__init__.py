"""GRPO training with the contest rewards (GRPOTrainer, LoRA, vLLM, accelerate).

``malpyeong-eval train`` from Python::

    from train import load_settings, train

    summary = train(load_settings("train/configs/grpo_qwen3.yaml", {"data": "train.json"}))
    summary.evaluations  # each saved checkpoint's RunOutcome; summary.to_json() == train --json

Each name is imported on first use: ``train`` and ``TrainSummary`` need transformers and TRL, the
settings pydantic; the command line reads the demo's defaults from ``train.demo`` without either.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import TrainSettings, load_settings, validate
    from .trainer import TrainSummary, train

__all__ = ["TrainSettings", "TrainSummary", "load_settings", "train", "validate"]


def __getattr__(name: str) -> Any:
    if name in ("train", "TrainSummary"):
        from . import trainer

        return getattr(trainer, name)
    if name in ("TrainSettings", "load_settings", "validate"):
        from . import config

        return getattr(config, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
