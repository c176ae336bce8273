"""GRPO training with the contest rewards; every saved checkpoint scored and put on the leaderboard."""

from __future__ import annotations

import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from malpyeong_eval.citation import item_candidates
from malpyeong_eval.data import Item, load_data, load_items
from malpyeong_eval.errors import MalpyeongError, ModelLoadError
from malpyeong_eval.metrics.loading import one_line, quiet_hub_logs
from malpyeong_eval.prompts import ContestPrompt, load_prompt
from malpyeong_eval.tracking import EvaluationLogger, Tracking, training_tracker

from .config import TrainSettings

from malpyeong_eval.metrics.registry import DEFAULT_METRICS_TEXT as DEFAULT_EVAL_METRICS


def build_dataset(items: list[Item], prompt: ContestPrompt):
    """Official-format items as a ``datasets.Dataset``: conversational ``prompt``, ``answer``, ``question_type``,
    ``candidates`` (the titles of the item's retrieved passages, in the prompt's order) and ``article``
    (its gold rule, ``None`` where it has none): what the context reward reads.

    The prompt is rendered as ``run`` renders it (:meth:`ContestPrompt.item_messages`): an item's
    extra ``input`` fields (a team's retriever output, e.g. ``references``) go in as ``[기타 정보]``
    (a citing prompt numbers the ``references`` as candidates instead).
    """
    from datasets import Dataset

    missing = [item.id for item in items if item.answer is None]
    if missing:
        from malpyeong_eval.errors import MalpyeongError

        raise MalpyeongError(f"training items need output.answer; item {missing[0]!r} has none")
    return Dataset.from_list([
        {"prompt": prompt.item_messages(item), "answer": item.answer,
         "question_type": item.question_type, "id": item.id,
         "candidates": item_candidates(item.extra_inputs, item.retrieval), "article": item.article}
        for item in items
    ])


def build_rewards(settings: TrainSettings, device: str | None = None) -> list[Any]:
    """The reward callables named in ``settings.rewards``: ``format``, ``contest`` (over
    ``settings.contest_metrics``), ``context`` (the gold context named) and one reward per metric
    name of the registry. Scorer models are shared by configuration through the scorer pool and
    loaded on first use."""
    from rewards import ContestReward, context_reward, format_reward, metric_reward

    models: dict[str, Any] = {"bertscore_model": settings.bertscore_model, "bertscore_layers": settings.bertscore_layers,
              "bleurt_model": settings.bleurt_model, "device": device}
    built: list[Any] = []
    for name in settings.rewards:
        if name == "format":
            built.append(format_reward)
        elif name == "contest":
            built.append(ContestReward(settings.contest_metrics, **models))
        elif name == "context":
            built.append(context_reward)
        else:
            built.append(metric_reward(name, **models))
    return built


class LeaderboardCallback(TrainerCallback):
    """``eval.mode: inline``: scores each saved checkpoint on the eval data with ``run``'s machinery
    and records it with its step."""

    def __init__(self, runner, training_name: str, tracker: EvaluationLogger | None = None) -> None:
        self.runner = runner
        self.training_name = training_name
        self.tracker = tracker
        self.outcomes: list[Any] = []
        self.logged = 0  # outcomes mirrored to the tracker so far

    def _mirror(self) -> None:
        """Log the outcomes not logged yet to the training's tracker run (``report_to``)."""
        if self.tracker is not None:
            for outcome in self.outcomes[self.logged:]:
                self.tracker.log(outcome)
        self.logged = len(self.outcomes)

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self._mirror()  # --eval-start's step 0, scored before the tracker's run was opened

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        from malpyeong_eval.checkpoints import resolve_targets

        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if checkpoint.is_dir():
            (target,) = resolve_targets(str(checkpoint))
            self.outcomes.append(self.runner.run(target, name=f"{self.training_name}/checkpoint-{state.global_step}"))
            self._mirror()


class FollowCallback(TrainerCallback):
    """``eval.mode: follow``: notes each saved checkpoint and leaves scoring to ``malpyeong-eval run
    OUTPUT_DIR --follow`` elsewhere, so no second policy copy is loaded beside training."""

    def __init__(self, command: str, log=None) -> None:
        self.command = command
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.checkpoints: list[dict[str, Any]] = []

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.log(f"eval.mode follow: checkpoints are scored elsewhere; run: {self.command}")

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if checkpoint.is_dir():
            self.checkpoints.append({"step": state.global_step, "checkpoint": str(checkpoint)})
            self.log(f"saved {checkpoint} (step {state.global_step}); scored by: {self.command}")


def follow_command(settings: TrainSettings, grpo_config) -> str:
    """The ``malpyeong-eval run OUTPUT_DIR --follow`` command that scores this training's checkpoints
    as inline evaluation would (same data, metrics, decoding, tag, run names and fingerprints)."""
    evaluation = settings.eval
    words = ["malpyeong-eval", "run", str(Path(settings.output_dir).resolve()), "--follow",
             "--data", str(Path(evaluation["data"]).resolve())]
    if evaluation.get("limit"):
        words += ["--limit", str(evaluation["limit"])]
    words += ["--dataset-name", evaluation.get("dataset_name") or Path(evaluation["data"]).stem,
              "--metrics", evaluation.get("metrics") or DEFAULT_EVAL_METRICS,
              "--max-new-tokens", str(int(evaluation.get("max_new_tokens", grpo_config.max_completion_length))),
              "--batch-size", str(int(evaluation.get("batch_size", 8))),
              "--runs-dir", str(Path(settings.output_dir).resolve() / "eval-runs"),
              "--tag", f"train:{training_name(settings)}"]
    if settings.prompt_file:
        prompt_file = Path(settings.prompt_file)  # a file, or a packaged prompt's name (contest-cite)
        words += ["--prompt-file", str(prompt_file.resolve()) if prompt_file.exists() else settings.prompt_file]
    for flag, value in (("--bertscore-model", settings.bertscore_model), ("--bertscore-layers", settings.bertscore_layers),
                        ("--bleurt-model", settings.bleurt_model)):
        if value is not None:
            words += [flag, str(value)]
    if settings.trust_remote_code:
        words.append("--trust-remote-code")
    tracker = training_tracker(getattr(grpo_config, "report_to", None))
    if tracker != "none":  # the scores go to a tracker run of their own, in the training's project
        words += ["--report-to", tracker, "--tracker-project", str(getattr(grpo_config, "project", "malpyeong-eval"))]
    if grpo_config.max_steps and grpo_config.max_steps > 0:
        words += ["--until-step", str(grpo_config.max_steps)]
    note = ""
    if settings.db:
        from leaderboard.db import has_secret, resolve_url

        url = resolve_url(settings.db)
        if has_secret(url):
            note = "  # and MALPYEONG_DB set to this training's --db (its password is not printed)"
        else:
            words += ["--db", url]
    return shlex.join(words) + note


class StepCallback(TrainerCallback):
    """Reports each finished optimizer step (for a progress display)."""

    def __init__(self, on_step) -> None:
        self.on_step = on_step

    def on_step_end(self, args, state, control, **kwargs):
        self.on_step(state.global_step)


def evaluation_runner(settings: TrainSettings, grpo_config, prompt: ContestPrompt, device: str | None, progress=None):
    """The ``run`` machinery that scores checkpoints on ``settings.eval``; ``None`` without eval data
    or with ``eval.mode: follow`` (another process scores them).

    Its scorers come from the scorer pool: a model the reward functions loaded with the same
    configuration is shared, not loaded again.
    """
    if not settings.eval.get("data") or settings.eval_mode != "inline":
        return None
    from leaderboard.store import Leaderboard
    from malpyeong_eval.evaluation import ContestScorer
    from malpyeong_eval.generation import GenerationSettings
    from malpyeong_eval.metrics.loading import resolve_device
    from malpyeong_eval.runner import CheckpointRunner

    eval_data = load_data(Path(settings.eval["data"]), require_answer=True)
    scorer = ContestScorer((settings.eval.get("metrics") or DEFAULT_EVAL_METRICS).split(","),
                           bertscore_model=settings.bertscore_model, bertscore_layers=settings.bertscore_layers,
                           bleurt_model=settings.bleurt_model, device=device)
    max_new_tokens = int(settings.eval.get("max_new_tokens", grpo_config.max_completion_length))
    return CheckpointRunner(
        eval_data.items[: settings.eval.get("limit")], data=eval_data,
        dataset_name=settings.eval.get("dataset_name") or eval_data.path.stem, prompt=prompt,
        settings=GenerationSettings(max_new_tokens=max_new_tokens), batch_size=int(settings.eval.get("batch_size", 8)),
        scorer=scorer, board=Leaderboard(settings.db), runs_root=Path(settings.output_dir) / "eval-runs",
        device=device or resolve_device(None), trust_remote_code=settings.trust_remote_code,
        tags=[f"train:{training_name(settings)}"], progress=progress,
    )


def training_name(settings: TrainSettings) -> str:
    """Names a training's runs on the leaderboard (``NAME/checkpoint-N``, tag ``train:NAME``)."""
    return Path(settings.output_dir).resolve().name


def train(settings: TrainSettings, grpo_config, *, progress=None, on_step=None) -> dict[str, Any]:
    """Run GRPOTrainer; returns the trainer's log history and the recorded evaluations.

    With ``eval.start``, the policy is scored before training too (step 0 of the curve). With
    ``eval.mode: follow`` nothing is scored here: ``follow_command`` is the command that scores
    the checkpoints elsewhere, ``checkpoints`` those saved.
    ``progress(label, done, total)`` follows checkpoint evaluations, ``on_step(step)`` training.
    """
    from transformers import AutoTokenizer
    from trl import GRPOTrainer

    from malpyeong_eval.checkpoints import resolve_targets

    prompt = load_prompt(settings.prompt_file)
    if settings.data is None:  # validate() refuses this before a model loads
        raise MalpyeongError("training needs --data")
    dataset = build_dataset(load_items(settings.data, require_answer=True), prompt)
    device = "cpu" if grpo_config.use_cpu else None
    reward_funcs = build_rewards(settings, device)
    peft_config = None
    if settings.lora:
        from peft import LoraConfig

        rank = int(settings.lora.get("r", 16))
        peft_config = LoraConfig(
            r=rank, lora_alpha=int(settings.lora.get("alpha", 2 * rank)), lora_dropout=float(settings.lora.get("dropout", 0.05)),
            target_modules=settings.lora.get("target_modules", "all-linear"), task_type="CAUSAL_LM",
        )
    try:
        with quiet_hub_logs():
            tokenizer = AutoTokenizer.from_pretrained(settings.model, trust_remote_code=settings.trust_remote_code)
    except Exception as exc:  # a damaged folder fails in any way
        raise ModelLoadError(f"cannot load the tokenizer of --model {settings.model!r}: {one_line(exc)}") from None
    callbacks: list[TrainerCallback] = []
    runner = evaluation_runner(settings, grpo_config, prompt, device, progress)
    evaluation = None
    if runner is not None:
        tracker = training_tracker(grpo_config.report_to)
        evaluation = LeaderboardCallback(runner, training_name(settings),
                                         EvaluationLogger(Tracking(tracker)) if tracker != "none" else None)
        callbacks.append(evaluation)
        if settings.eval.get("start"):
            (target,) = resolve_targets(settings.model)
            name = f"{training_name(settings)}/checkpoint-0"
            evaluation.outcomes.append(runner.run(replace(target, step=0, name=name), name=name))
    follower = None
    if settings.eval.get("data") and settings.eval_mode == "follow":
        follower = FollowCallback(follow_command(settings, grpo_config))
        callbacks.append(follower)
    if on_step is not None:
        callbacks.append(StepCallback(on_step))
    try:
        trainer = GRPOTrainer(
            model=settings.model, reward_funcs=reward_funcs, args=grpo_config, train_dataset=dataset,
            processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError) as exc:  # the policy's weights or config
        raise ModelLoadError(f"cannot load --model {settings.model!r}: {one_line(exc)}") from None
    resume = settings.resume and any(Path(settings.output_dir).glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if resume else None)
    main_process = trainer.is_world_process_zero()  # the others leave the follow command unsaid
    return {"log_history": trainer.state.log_history, "evaluations": evaluation.outcomes if evaluation else [],
            "follow_command": follower.command if follower and main_process else None,
            "checkpoints": follower.checkpoints if follower else []}
