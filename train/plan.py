"""How a training's checkpoints are scored: one :class:`EvaluationPlan`, from which both the inline
evaluation (:func:`train.trainer.evaluation_runner`) and the ``malpyeong-eval run OUTPUT_DIR
--follow`` command (:func:`malpyeong_eval.cli.training.follow_command`) are built, so the two cannot drift."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from malpyeong_eval.metrics.options import ScorerOptions
from malpyeong_eval.metrics.registry import DEFAULT_METRICS_TEXT
from malpyeong_eval.tracking import training_tracker

from .config import TrainSettings


@dataclass(frozen=True)
class EvaluationPlan:
    """Each saved checkpoint's evaluation, as ``malpyeong-eval run``'s parameters: every field is
    named as one of ``run``'s and holds its value (paths absolute, so any folder may run it)."""

    data: Path
    limit: int | None
    dataset_name: str
    metrics: str
    max_new_tokens: int
    batch_size: int
    prompt_file: str | None  # a file, or a packaged prompt's name (contest-cite)
    runs_dir: Path
    tag: tuple[str, ...]
    db: str | None
    bertscore_model: str | None
    bertscore_layers: int | None
    bleurt_model: str | None
    trust_remote_code: bool
    report_to: str | None  # the tracker the scores go to; None: none
    tracker_project: str | None
    until_step: int | None  # the last step training saves (follow: where run stops; inline ends with training)

    def scorer_options(self, device: str | None = None) -> ScorerOptions:
        """How the plan's scorers run, on ``device``."""
        return ScorerOptions(bertscore_model=self.bertscore_model, bertscore_layers=self.bertscore_layers,
                             bleurt_model=self.bleurt_model, device=device)

    def run_parameters(self) -> dict[str, Any]:
        """The plan as ``run``'s keyword arguments."""
        return asdict(self)


def training_name(settings: TrainSettings) -> str:
    """Names a training's runs on the leaderboard (``NAME/checkpoint-N``, tag ``train:NAME``)."""
    return Path(settings.output_dir).resolve().name


def evaluation_plan(settings: TrainSettings, grpo_config: Any) -> EvaluationPlan | None:
    """The plan for ``settings.eval`` under this ``GRPOConfig``; ``None`` without eval data."""
    evaluation = settings.eval
    if not evaluation.data:
        return None
    data = Path(evaluation.data).resolve()
    prompt_file = settings.prompt_file and Path(settings.prompt_file)
    tracker = training_tracker(getattr(grpo_config, "report_to", None))
    db = None
    if settings.db:
        from leaderboard.db import resolve_url

        db = resolve_url(settings.db)
    return EvaluationPlan(
        data=data, limit=evaluation.limit, dataset_name=evaluation.dataset_name or data.stem,
        metrics=evaluation.metrics or DEFAULT_METRICS_TEXT,
        max_new_tokens=evaluation.max_new_tokens or grpo_config.max_completion_length, batch_size=evaluation.batch_size,
        prompt_file=str(prompt_file.resolve()) if prompt_file and prompt_file.exists() else settings.prompt_file,
        runs_dir=Path(settings.output_dir).resolve() / "eval-runs", tag=(f"train:{training_name(settings)}",), db=db,
        bertscore_model=settings.bertscore_model, bertscore_layers=settings.bertscore_layers,
        bleurt_model=settings.bleurt_model, trust_remote_code=settings.trust_remote_code,
        report_to=None if tracker == "none" else tracker,
        tracker_project=None if tracker == "none" else str(getattr(grpo_config, "project", "malpyeong-eval")),
        until_step=grpo_config.max_steps if grpo_config.max_steps and grpo_config.max_steps > 0 else None,
    )
