"""How a training's checkpoints are scored: one :class:`~malpyeong_eval.runs.RunRequest`, from which
both the inline evaluation (:func:`train.trainer.evaluation_runner`) and the printed ``malpyeong-eval
run OUTPUT_DIR --follow`` command (:func:`follow_command`, the request spelled as ``run``'s words by
:meth:`~malpyeong_eval.runs.RunRequest.command_words`) are built, so the two cannot drift."""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path
from typing import Any

from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.generation import Decoding, EngineOptions, GenerationSettings
from malpyeong_eval.metrics.registry import DEFAULT_METRICS_TEXT
from malpyeong_eval.runs import Follow, Recording, RunData, RunRequest
from malpyeong_eval.tracking import Tracking, training_tracker

from .config import TrainSettings


def training_name(settings: TrainSettings) -> str:
    """Names a training's runs on the leaderboard (``NAME/checkpoint-N``, tag ``train:NAME``)."""
    return Path(settings.output_dir).resolve().name


def unscored_note(settings: TrainSettings) -> str | None:
    """Without eval data, the line saying that no checkpoint will be scored or recorded, and how to score
    them (``None``: they will be)."""
    if settings.eval.data:
        return None
    folder = shlex.quote(str(Path(settings.output_dir).resolve()))
    return (f"no --eval-data: the checkpoints will not be scored or recorded on the leaderboard; score them with "
            f"'malpyeong-eval run {folder} --follow --data EVAL.json', or train with --eval-data EVAL.json")


def evaluation_request(settings: TrainSettings, grpo_config: Any) -> RunRequest | None:
    """How ``settings.eval`` scores each checkpoint under this ``GRPOConfig``, as ``run``'s request on the
    training's output folder (paths absolute, so any folder may run it; following it up to the last step
    training saves); ``None`` without eval data."""
    from malpyeong_eval.evaluation import parse_metrics

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
    max_steps = grpo_config.max_steps
    return RunRequest(
        checkpoint=str(Path(settings.output_dir).resolve()),
        data=RunData(data, evaluation.limit, evaluation.dataset_name or data.stem),
        prompt_file=str(prompt_file.resolve()) if prompt_file and prompt_file.exists() else settings.prompt_file,
        decoding=Decoding(GenerationSettings(max_new_tokens=evaluation.max_new_tokens or grpo_config.max_completion_length),
                          evaluation.batch_size),
        engine=EngineOptions(trust_remote_code=settings.trust_remote_code), scorer=settings.scorer,
        metrics=parse_metrics(evaluation.metrics or DEFAULT_METRICS_TEXT),
        runs_dir=Path(settings.output_dir).resolve() / "eval-runs",
        recording=Recording(db=db, tags=(f"train:{training_name(settings)}",)),
        follow=Follow(enabled=True, until_step=max_steps if max_steps and max_steps > 0 else None),
        tracking=Tracking(tracker, str(getattr(grpo_config, "project", "malpyeong-eval")) if tracker != "none" else "malpyeong-eval"),
    )


def follow_command(settings: TrainSettings, grpo_config: Any) -> str:
    """The ``malpyeong-eval run OUTPUT_DIR --follow`` command that scores this training's checkpoints as the
    inline evaluation would: its :func:`evaluation_request` spelled as ``run``'s words. A database URL
    holding a password is left to ``MALPYEONG_DB`` (and said so), never printed."""
    from malpyeong_eval.secrets import has_secret

    request = evaluation_request(settings, grpo_config)
    if request is None:
        raise MalpyeongError("--eval-mode follow needs --eval-data: the data 'malpyeong-eval run --follow' scores checkpoints on")
    note = ""
    if request.recording.db and has_secret(request.recording.db):
        request = replace(request, recording=replace(request.recording, db=None))
        note = "  # and MALPYEONG_DB set to this training's --db (its password is not printed)"
    return shlex.join(["malpyeong-eval", "run", *request.command_words()]) + note
