"""GRPO training with the contest rewards; every saved checkpoint scored and put on the leaderboard."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from malpyeong_eval.data import Item, load_items
from malpyeong_eval.prompts import ContestPrompt, load_prompt

from .config import TrainSettings


def build_dataset(items: list[Item], prompt: ContestPrompt):
    """Official-format items as a ``datasets.Dataset``: conversational ``prompt``, ``answer``, ``question_type``."""
    from datasets import Dataset

    missing = [item.id for item in items if item.answer is None]
    if missing:
        from malpyeong_eval.errors import MalpyeongError

        raise MalpyeongError(f"training items need output.answer; item {missing[0]!r} has none")
    return Dataset.from_list([
        {"prompt": prompt.messages(item.question_type, item.question), "answer": item.answer,
         "question_type": item.question_type, "id": item.id}
        for item in items
    ])


def build_rewards(settings: TrainSettings, device: str | None = None) -> list[Any]:
    """The reward callables named in ``settings.rewards``, sharing loaded scorer models."""
    from rewards import BertScoreReward, BleurtReward, ContestReward, exact_match_reward, format_reward, rouge1_reward

    shared: dict[str, Any] = {}

    def bertscore() -> BertScoreReward:
        if "bertscore" not in shared:
            shared["bertscore"] = BertScoreReward(settings.bertscore_model, settings.bertscore_layers, device)
        return shared["bertscore"]

    def bleurt() -> BleurtReward:
        if "bleurt" not in shared:
            shared["bleurt"] = BleurtReward(settings.bleurt_model, device)
        return shared["bleurt"]

    built = []
    for name in settings.rewards:
        if name == "format":
            built.append(format_reward)
        elif name == "em":
            built.append(exact_match_reward)
        elif name == "rouge1":
            built.append(rouge1_reward)
        elif name == "bertscore":
            built.append(bertscore())
        elif name == "bleurt":
            built.append(bleurt())
        else:
            built.append(ContestReward(scorers={"bertscore": bertscore().scorer.bertscore, "bleurt": bleurt().scorer.bleurt}))
    return built


class LeaderboardCallback(TrainerCallback):
    """Scores each saved checkpoint on the eval data with ``run``'s machinery and records it with its step."""

    def __init__(self, runner, training_name: str) -> None:
        self.runner = runner
        self.training_name = training_name
        self.outcomes: list[Any] = []

    def on_save(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        from malpyeong_eval.run import resolve_targets

        checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if checkpoint.is_dir():
            (target,) = resolve_targets(str(checkpoint))
            self.outcomes.append(self.runner.run(target, name=f"{self.training_name}/checkpoint-{state.global_step}"))


class StepCallback(TrainerCallback):
    """Reports each finished optimizer step (for a progress display)."""

    def __init__(self, on_step) -> None:
        self.on_step = on_step

    def on_step_end(self, args, state, control, **kwargs):
        self.on_step(state.global_step)


def evaluation_runner(settings: TrainSettings, grpo_config, reward_funcs: list[Any], prompt: ContestPrompt,
                      device: str | None, progress=None):
    """The ``run`` machinery that scores checkpoints on ``settings.eval``; ``None`` without eval data.

    Scorer models already loaded by the reward functions are shared, not loaded again.
    """
    if not settings.eval.get("data"):
        return None
    from leaderboard.store import Leaderboard
    from malpyeong_eval.evaluation import ContestScorer
    from malpyeong_eval.generation import GenerationSettings
    from malpyeong_eval.metrics.models import resolve_device
    from malpyeong_eval.run import CheckpointRunner

    eval_path = Path(settings.eval["data"])
    shared = {}
    for reward in reward_funcs:
        for name in ("bertscore", "bleurt"):
            loaded = getattr(getattr(reward, "scorer", None), name, None)
            if loaded is not None:
                shared[name] = loaded
    scorer = ContestScorer((settings.eval.get("metrics") or "em,rouge1,bertscore,bleurt").split(","), scorers=shared,
                           bertscore_model=settings.bertscore_model, bertscore_layers=settings.bertscore_layers,
                           bleurt_model=settings.bleurt_model, device=device)
    max_new_tokens = int(settings.eval.get("max_new_tokens", grpo_config.max_completion_length))
    return CheckpointRunner(
        load_items(eval_path, require_answer=True)[: settings.eval.get("limit")], data_path=eval_path,
        dataset_name=settings.eval.get("dataset_name") or eval_path.stem, prompt=prompt,
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

    With ``eval.start``, the policy is scored before training too (step 0 of the curve).
    ``progress(label, done, total)`` follows checkpoint evaluations, ``on_step(step)`` training.
    """
    from transformers import AutoTokenizer
    from trl import GRPOTrainer

    from malpyeong_eval.run import resolve_targets

    prompt = load_prompt(settings.prompt_file)
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
    tokenizer = AutoTokenizer.from_pretrained(settings.model, trust_remote_code=settings.trust_remote_code)
    callbacks: list[TrainerCallback] = []
    runner = evaluation_runner(settings, grpo_config, reward_funcs, prompt, device, progress)
    evaluation = None
    if runner is not None:
        evaluation = LeaderboardCallback(runner, training_name(settings))
        callbacks.append(evaluation)
        if settings.eval.get("start"):
            (target,) = resolve_targets(settings.model)
            name = f"{training_name(settings)}/checkpoint-0"
            evaluation.outcomes.append(runner.run(replace(target, step=0, name=name), name=name))
    if on_step is not None:
        callbacks.append(StepCallback(on_step))
    trainer = GRPOTrainer(
        model=settings.model, reward_funcs=reward_funcs, args=grpo_config, train_dataset=dataset,
        processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks,
    )
    resume = settings.resume and any(Path(settings.output_dir).glob("checkpoint-*"))
    trainer.train(resume_from_checkpoint=True if resume else None)
    return {"log_history": trainer.state.log_history, "evaluations": evaluation.outcomes if evaluation else []}
