"""GRPO training with the contest rewards; every saved checkpoint scored and put on the leaderboard."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_callback import PrinterCallback, ProgressCallback

from malpyeong_eval.citation import item_candidates
from malpyeong_eval.data import Item, load_items
from malpyeong_eval.display import RichDisplay
from malpyeong_eval.errors import MalpyeongError, ModelLoadError
from malpyeong_eval.metrics.loading import one_line, quiet_hub_logs
from malpyeong_eval.prompts import ContestPrompt, load_prompt
from malpyeong_eval.runner import CheckpointRunner, RunOutcome
from malpyeong_eval.runs import RunRequest
from malpyeong_eval.tracking import EvaluationLogger, Tracking

from .config import TrainSettings, check_training
from .library_warnings import library_warnings_silenced
from .plan import evaluation_request, follow_command, training_name


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

    options = settings.scorer.with_device(device)
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
        self.checkpoints: list[SavedCheckpoint] = []

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.log(f"eval.mode follow: checkpoints are scored elsewhere; run: {self.command}")

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if checkpoint.is_dir():
            self.checkpoints.append(SavedCheckpoint(state.global_step, str(checkpoint)))
            self.log(f"saved {checkpoint} (step {state.global_step}); scored by: {self.command}")


def log_line(logs: dict[str, Any], step: int, max_steps: int) -> str | None:
    """One logged step as a line: ``step 3/40: reward 0.41 (format 0.9, rouge1 0.21), loss 0.0012``;
    the end of training as ``trained 40 steps in 43.1 s``; ``None`` for a log with neither."""
    if "train_runtime" in logs:
        return f"trained {step} steps in {logs['train_runtime']:.1f} s"
    if "reward" not in logs:
        return None
    parts = [f"{key.split('/')[1].removesuffix('_reward')} {value:.3g}" for key, value in logs.items()
             if key.startswith("rewards/") and key.endswith("/mean") and isinstance(value, (int, float))]
    line = f"step {step}/{max_steps}: reward {logs['reward']:.3g}" + (f" ({', '.join(parts)})" if parts else "")
    return line + (f", loss {logs['loss']:.4g}" if isinstance(logs.get("loss"), (int, float)) else "")


class StepLines(TrainerCallback):
    """Each logged step as one line (:func:`log_line`) instead of the trainer's raw log dictionaries:
    above the progress bar where there is one, else on stderr."""

    def __init__(self, progress: ProgressCallback | None) -> None:
        self.progress = progress

    def on_log(self, args, state, control, logs=None, **kwargs):
        line = log_line(logs or {}, state.global_step, state.max_steps) if state.is_world_process_zero else None
        if line is None:
            return
        bar = getattr(self.progress, "training_bar", None)
        if bar is not None:
            bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)


def quiet_progress(trainer) -> None:
    """Replace the trainer's log printing (``ProgressCallback``'s or ``PrinterCallback``'s raw dictionaries)
    by :class:`StepLines`; its progress bar stays."""
    printer = trainer.pop_callback(PrinterCallback)
    progress = trainer.pop_callback(ProgressCallback)
    if progress is not None:
        progress.on_log = lambda *args, **kwargs: None  # the bar's own dictionary line
        trainer.add_callback(progress)
    if progress is not None or printer is not None:
        trainer.add_callback(StepLines(progress))


LOCAL_BASE_MODEL = "[None](https://huggingface.co/None)"  # what TRL's card says of a base model in a local folder


def name_base_model(card: Path, base_model: str, checkpoint: str) -> None:
    """The model card TRL wrote (``README.md`` of the output folder) naming ``base_model`` where TRL leaves a
    local folder out, and the quick start loading ``checkpoint`` instead of ``"None"``."""
    if not card.is_file():
        return
    text = card.read_text(encoding="utf-8")
    fixed = text.replace(LOCAL_BASE_MODEL, f"the local model `{base_model}`").replace('model="None"', f'model="{checkpoint}"')
    if fixed != text:
        card.write_text(fixed, encoding="utf-8")


def card_naming_base_model(trainer, base_model: str) -> None:
    """Make each model card the trainer writes (one per saved checkpoint) name the base model (:func:`name_base_model`)."""
    write_card = trainer.create_model_card

    def create_model_card(*args, **kwargs):
        write_card(*args, **kwargs)
        output = Path(trainer.args.output_dir)
        name_base_model(output / "README.md", base_model, str(output / f"checkpoint-{trainer.state.global_step}"))

    trainer.create_model_card = create_model_card


class StepCallback(TrainerCallback):
    """Reports each finished optimizer step (for a progress display)."""

    def __init__(self, on_step) -> None:
        self.on_step = on_step

    def on_step_end(self, args, state, control, **kwargs):
        self.on_step(state.global_step)


def evaluation_runner(request: RunRequest, device: str | None, progress=None) -> CheckpointRunner:
    """``run``'s machinery that scores checkpoints as the training's evaluation ``request`` says
    (``eval.mode: inline``), generating and scoring on ``device``, recording on its leaderboard.

    Its scorers come from the scorer pool: a model the reward functions loaded with the same
    configuration is shared, not loaded again.
    """
    from leaderboard.store import Leaderboard
    from malpyeong_eval.runs import checkpoint_runner

    inline = replace(request, engine=replace(request.engine, device=device), scorer=request.scorer.with_device(device))
    return checkpoint_runner(inline, board=Leaderboard(request.recording.db), progress=progress)


@dataclass(frozen=True)
class SavedCheckpoint:
    """A checkpoint training saved (``eval.mode: follow``: left to ``run --follow``)."""

    step: int
    checkpoint: str


@dataclass
class TrainSummary(RichDisplay):
    """What a training did: the trainer's log history, each checkpoint scored inline (a
    :class:`~malpyeong_eval.runner.RunOutcome`, step 0 first with ``eval.start``) and, with
    ``eval.mode: follow``, the ``run --follow`` command that scores them elsewhere (``None`` on the
    processes but the main one) and the checkpoints saved. Prints as a table (rich, Jupyter)."""

    log_history: list[dict[str, Any]]
    evaluations: list[RunOutcome] = field(default_factory=list)
    follow_command: str | None = None
    checkpoints: list[SavedCheckpoint] = field(default_factory=list)

    def rewards(self) -> list[dict[str, Any]]:
        """Each logged step's mean rewards (``reward``, ``rewards/NAME/mean`` ...) with its ``step``."""
        return [{key: value for key, value in entry.items() if key == "step" or key.startswith("rewards/") or key == "reward"}
                for entry in self.log_history if "reward" in entry]

    def to_json(self) -> dict[str, Any]:
        """``malpyeong-eval train --json``."""
        report: dict[str, Any] = {
            "evaluations": [{"step": o.target.step, "run": o.run_name, "metrics": o.result.metrics if o.result else None}
                            for o in self.evaluations],
            "rewards": self.rewards(),
        }
        if self.follow_command:
            report["follow_command"] = self.follow_command
            report["checkpoints"] = [asdict(saved) for saved in self.checkpoints]
        return report

    def lines(self) -> list[str]:
        """What the command says of it: where each checkpoint was recorded, the command that scores them."""
        lines = [f"step {o.target.step}: recorded as {o.run_name!r}" for o in self.evaluations]
        return lines + ([f"score the checkpoints with: {self.follow_command}"] if self.follow_command else [])

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.table import Table

        from malpyeong_eval.report import format_score, inert

        table = Table(title="GRPO training")
        for header in ("step", "run", "exact match", "reward"):
            table.add_column(header)
        rewards = {row.get("step"): row.get("reward") for row in self.rewards()}
        for outcome in self.evaluations:
            metrics = outcome.result.metrics if outcome.result else {}
            table.add_row(str(outcome.target.step), inert(outcome.run_name or "—"), format_score(metrics.get("exact_match")),
                          format_score(rewards.get(outcome.target.step)))
        return Group(table, *(inert(line) for line in self.lines()[len(self.evaluations):]))



def _inline_evaluation(settings: TrainSettings, request: RunRequest, device: str | None, progress) -> LeaderboardCallback:
    """``eval.mode: inline``: the callback that scores each saved checkpoint (and with ``eval.start`` the
    policy, now, as step 0)."""
    from malpyeong_eval.checkpoints import resolve_targets

    runner = evaluation_runner(request, device, progress)
    report_to = request.tracking.report_to
    evaluation = LeaderboardCallback(runner, training_name(settings),
                                     EvaluationLogger(Tracking(report_to)) if report_to != "none" else None)
    if settings.eval.start:
        (target,) = resolve_targets(settings.model)
        name = f"{training_name(settings)}/checkpoint-0"
        evaluation.outcomes.append(runner.run(replace(target, step=0, name=name), name=name))
    return evaluation


def _peft_config(settings: TrainSettings):
    if settings.lora is None:
        return None
    from peft import LoraConfig

    lora = settings.lora
    return LoraConfig(r=lora.r, lora_alpha=lora.alpha or 2 * lora.r, lora_dropout=lora.dropout,
                      target_modules=lora.peft_target_modules, task_type="CAUSAL_LM")


def train(settings: TrainSettings, grpo_config=None, *, progress=None, on_step=None) -> TrainSummary:
    """Run GRPOTrainer (``grpo_config``: :func:`check_training`'s, built here when not given).

    With ``eval.mode: inline`` and eval data, each saved checkpoint is scored here (and with
    ``eval.start`` the policy before training, step 0 of the curve). With ``eval.mode: follow``
    nothing is scored here: the summary's ``follow_command`` scores the checkpoints elsewhere, noted
    as each is saved. ``progress(label, done, total)`` follows checkpoint evaluations, ``on_step(step)`` training.
    """
    from transformers import AutoTokenizer
    from trl import GRPOTrainer

    if grpo_config is None:
        grpo_config = check_training(settings)
    prompt = load_prompt(settings.prompt_file)
    if settings.data is None:  # validate() refuses this before a model loads
        raise MalpyeongError("training needs --data")
    dataset = build_dataset(load_items(settings.data, require_answer=True), prompt)
    device = "cpu" if grpo_config.use_cpu else None
    reward_funcs = build_rewards(settings, device)
    try:
        with quiet_hub_logs():
            tokenizer = AutoTokenizer.from_pretrained(settings.model, trust_remote_code=settings.trust_remote_code)
    except Exception as exc:  # a damaged folder fails in any way
        raise ModelLoadError(f"cannot load the tokenizer of --model {settings.model!r}: {one_line(exc)}") from None
    request = evaluation_request(settings, grpo_config)
    evaluation = _inline_evaluation(settings, request, device, progress) \
        if request is not None and settings.eval.mode == "inline" else None
    follower = FollowCallback(follow_command(settings, grpo_config)) if request is not None and settings.eval.mode == "follow" else None
    callbacks: list[TrainerCallback] = [callback for callback in (evaluation, follower) if callback is not None]
    if on_step is not None:
        callbacks.append(StepCallback(on_step))
    try:
        trainer = GRPOTrainer(
            model=settings.model, reward_funcs=reward_funcs, args=grpo_config, train_dataset=dataset,
            processing_class=tokenizer, peft_config=_peft_config(settings), callbacks=callbacks,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError) as exc:  # the policy's weights or config
        raise ModelLoadError(f"cannot load --model {settings.model!r}: {one_line(exc)}") from None
    quiet_progress(trainer)
    card_naming_base_model(trainer, settings.model)
    resume = settings.resume and any(Path(settings.output_dir).glob("checkpoint-*"))
    with library_warnings_silenced():
        trainer.train(resume_from_checkpoint=True if resume else None)
    main_process = trainer.is_world_process_zero()  # the others leave the follow command unsaid
    return TrainSummary(trainer.state.log_history, evaluation.outcomes if evaluation else [],
                        follow_command=follower.command if follower and main_process else None,
                        checkpoints=follower.checkpoints if follower else [])
