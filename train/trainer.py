"""GRPO training with the contest rewards; every saved checkpoint scored and put on the leaderboard."""

from __future__ import annotations

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
from malpyeong_eval.tracking import EvaluationLogger, Tracking

from .config import TrainSettings
from .plan import EvaluationPlan, evaluation_plan, training_name


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
    name of the registry. The first one also logs each completion's answer clause and reason
    (:class:`rewards.PartsLogging`). Scorer models are shared by model identity through the scorer
    pool and loaded on first use."""
    from rewards import ContestReward, MetricReward, PartsLogging, context_reward, format_reward

    options = settings.scorer_options(device)
    built: list[Any] = []
    for name in settings.rewards:
        if name == "format":
            built.append(format_reward)
        elif name == "contest":
            built.append(ContestReward(settings.contest_metrics, options))
        elif name == "context":
            built.append(context_reward)
        else:
            built.append(MetricReward.of_alias(name, options))
    return [PartsLogging(built[0]), *built[1:]] if built else built


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


class StepCallback(TrainerCallback):
    """Reports each finished optimizer step (for a progress display)."""

    def __init__(self, on_step) -> None:
        self.on_step = on_step

    def on_step_end(self, args, state, control, **kwargs):
        self.on_step(state.global_step)


def evaluation_runner(plan: EvaluationPlan, device: str | None, progress=None):
    """``run``'s machinery that scores checkpoints as ``plan`` says (``eval.mode: inline``).

    Its scorers come from the scorer pool: a model the reward functions loaded with the same
    configuration is shared, not loaded again.
    """
    from leaderboard.store import Leaderboard
    from malpyeong_eval.evaluation import ContestScorer
    from malpyeong_eval.generation import GenerationSettings
    from malpyeong_eval.metrics.loading import resolve_device
    from malpyeong_eval.runner import CheckpointRunner

    scorer = ContestScorer(plan.metrics, plan.scorer_options(device))
    eval_data = load_data(plan.data, require_answer=True)
    return CheckpointRunner(
        eval_data.items[: plan.limit], data=eval_data, dataset_name=plan.dataset_name,
        prompt=load_prompt(plan.prompt_file), settings=GenerationSettings(max_new_tokens=plan.max_new_tokens),
        batch_size=plan.batch_size, scorer=scorer, board=Leaderboard(plan.db), runs_root=plan.runs_dir,
        device=device or resolve_device(None), trust_remote_code=plan.trust_remote_code, tags=plan.tag, progress=progress,
    )


def train(settings: TrainSettings, grpo_config, *, follow_command: str | None = None, progress=None,
          on_step=None) -> dict[str, Any]:
    """Run GRPOTrainer; returns the trainer's log history and the recorded evaluations.

    With ``eval.mode: inline`` and eval data, each saved checkpoint is scored here (and with
    ``eval.start`` the policy before training, step 0 of the curve). With ``eval.mode: follow``
    nothing is scored here: ``follow_command`` (``malpyeong_eval.cli.training.follow_command``) is the command that
    scores the checkpoints elsewhere, noted as each is saved; ``checkpoints`` lists those saved.
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
    if settings.lora is not None:
        from peft import LoraConfig

        lora = settings.lora
        peft_config = LoraConfig(r=lora.r, lora_alpha=lora.alpha or 2 * lora.r, lora_dropout=lora.dropout,
                                 target_modules=lora.peft_target_modules, task_type="CAUSAL_LM")
    try:
        with quiet_hub_logs():
            tokenizer = AutoTokenizer.from_pretrained(settings.model, trust_remote_code=settings.trust_remote_code)
    except Exception as exc:  # a damaged folder fails in any way
        raise ModelLoadError(f"cannot load the tokenizer of --model {settings.model!r}: {one_line(exc)}") from None
    callbacks: list[TrainerCallback] = []
    plan = evaluation_plan(settings, grpo_config)
    evaluation = None
    if plan is not None and settings.eval.mode == "inline":
        runner = evaluation_runner(plan, device, progress)
        evaluation = LeaderboardCallback(runner, training_name(settings),
                                         EvaluationLogger(Tracking(plan.report_to)) if plan.report_to else None)
        callbacks.append(evaluation)
        if settings.eval.start:
            (target,) = resolve_targets(settings.model)
            name = f"{training_name(settings)}/checkpoint-0"
            evaluation.outcomes.append(runner.run(replace(target, step=0, name=name), name=name))
    follower = None
    if follow_command is not None:
        follower = FollowCallback(follow_command)
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
