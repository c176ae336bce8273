"""Training configuration: a YAML file and/or flags, checked before any model is loaded.

YAML keys mirror the flags (``model``, ``data``, ``output_dir``, ``rewards``,
``reward_weights``, ``contest_metrics``, ``lora`` (``r``, ``alpha``, ``dropout``, ``target_modules``),
``eval`` (``data``, ``limit``, ``metrics``, ``max_new_tokens``, ``batch_size``, ``dataset_name``,
``start``, ``mode: inline | follow``), ``db``, scorer models) and a ``grpo:`` section that reaches
every ``trl.GRPOConfig`` field; ``--grpo KEY=VALUE`` sets one from the command line. Flags win
over the file. Defaults follow the seed recipe: 4 generations per prompt, learning rate 1e-5,
gradient accumulation 2, 3 epochs.

The settings are pydantic models (:class:`TrainSettings`, :class:`LoraSettings`,
:class:`EvalSettings`): strict types (``bertscore_layers: true`` or ``rewards: 3`` is refused,
never coerced), unknown keys refused, and the merge is one validation of the file's keys with the
flags' laid over them (:func:`load_settings`); the first problem is one line naming the flag or the
file's key. ``grpo:`` stays a free mapping: :func:`validate` checks it by building the
``GRPOConfig``. Pydantic rather than TRL's ``TrlParser``: that parser would declare the flags a
second time as dataclass fields and has no nested sections. The flags are declared once, in
``malpyeong_eval.cli.training``'s typer signature; its ``SETTING_PATHS`` places each in these models (the
rest are top-level keys of their own name), and only the flags given on the command line are laid
over the file. How checkpoints are scored is derived once from these settings, as
``train.plan.evaluation_request`` (``run``'s request): the inline evaluation and the printed
``run --follow`` command are both built from it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, FiniteFloat, PositiveInt, ValidationError, field_validator

from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.evaluation import parse_metrics
from malpyeong_eval.inputs import decode_utf8, load_yaml, read_bytes

from malpyeong_eval.metrics.options import ScorerOptions
from malpyeong_eval.metrics.registry import ALIASES, DEFAULT_METRICS_TEXT

from .library_warnings import library_warnings_silenced

# a metric's reward for each --metrics name, plus format, contest and context (the gold context named)
REWARDS = ("format", *ALIASES, "contest", "context")
RECIPE = {
    "num_generations": 4,
    "learning_rate": 1e-5,
    "gradient_accumulation_steps": 2,
    "num_train_epochs": 3,
    "per_device_train_batch_size": 4,
    "logging_steps": 1,
    "save_strategy": "steps",
    "save_steps": 100,
    "report_to": "none",  # --report-to trackio|wandb: the training's and each checkpoint's metrics
    "project": "malpyeong-eval",  # the tracker's project (trackio)
    "chat_template_kwargs": {"enable_thinking": False},
}
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _numeric(value: Any) -> Any:
    """``1e-5`` as a number (YAML 1.1 reads it as text)."""
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        number = float(value)
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    return value


def _comma_list(value: Any) -> Any:
    """A flag's ``a,b,c`` as a list (a YAML list passes as it is)."""
    return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LoraSettings(_Settings):
    """``lora:``: train a PEFT LoRA adapter instead of the whole policy."""

    r: PositiveInt = 16
    alpha: Optional[PositiveInt] = None  # default 2 * r
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: ["all-linear"])  # a flag's: comma-separated

    _split_modules = field_validator("target_modules", mode="before")(_comma_list)

    @property
    def peft_target_modules(self) -> str | list[str]:
        """PEFT's ``target_modules``: its ``"all-linear"`` shorthand is text, not a module name."""
        return "all-linear" if self.target_modules == ["all-linear"] else self.target_modules


class EvalSettings(_Settings):
    """``eval:``: the data each saved checkpoint is scored on, and where it is scored."""

    data: Optional[str] = None
    limit: Optional[PositiveInt] = None
    metrics: Optional[str] = None  # default: every contest metric
    max_new_tokens: Optional[PositiveInt] = None  # default: GRPOConfig's max_completion_length
    batch_size: PositiveInt = 8
    dataset_name: Optional[str] = None  # default: the data file's name
    start: bool = False  # also score the policy before training (step 0)
    # inline: the training process scores each saved checkpoint; follow: it only notes it, and
    # ``malpyeong-eval run OUTPUT_DIR --follow`` scores it elsewhere
    mode: Literal["inline", "follow"] = "inline"


class TrainSettings(_Settings):
    """Everything ``malpyeong-eval train`` needs; ``grpo`` holds GRPOConfig fields."""

    model: str = "Qwen/Qwen3-1.7B"
    data: Optional[str] = None
    output_dir: str = "malpyeong-grpo"
    rewards: list[str] = Field(default_factory=lambda: ["format", "em", "rouge1"])  # a flag's: comma-separated
    reward_weights: Optional[list[FiniteFloat]] = None
    lora: Optional[LoraSettings] = None  # None: the whole policy is trained
    eval: EvalSettings = Field(default_factory=EvalSettings)
    db: Optional[str] = None
    bertscore_model: Optional[str] = None
    bertscore_layers: Optional[int] = None
    bleurt_model: Optional[str] = None
    contest_metrics: str = DEFAULT_METRICS_TEXT  # the metrics inside the contest reward (only their models load)
    prompt_file: Optional[str] = None
    resume: bool = False
    trust_remote_code: bool = False
    grpo: dict[str, Any] = Field(default_factory=dict)

    _split_rewards = field_validator("rewards", mode="before")(_comma_list)

    @property
    def scorer(self) -> ScorerOptions:
        """The training's scorer models (the file's and flags' ``bertscore_model``, ``bertscore_layers``,
        ``bleurt_model``) as the one value the rewards and the evaluations take (device: the default)."""
        return ScorerOptions(bertscore_model=self.bertscore_model, bertscore_layers=self.bertscore_layers,
                             bleurt_model=self.bleurt_model)

    @field_validator("reward_weights", mode="before")
    @classmethod
    def _weights(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return [float(weight) for weight in value.split(",")]
        except ValueError:
            raise ValueError("takes numbers separated by commas") from None

    @field_validator("grpo", mode="before")
    @classmethod
    def _grpo_numbers(cls, value: Any) -> Any:
        return {key: _numeric(item) for key, item in value.items()} if isinstance(value, dict) else value


MAX_CONFIG_BYTES = 64 * 1024  # a training config is a few KB; a bigger file is refused before it is parsed


def _read_yaml(path: str | Path) -> Any:
    """A training config through the one reader (:mod:`malpyeong_eval.inputs`): bounded in size, parsed
    with aliases bounded (:func:`~malpyeong_eval.inputs.load_yaml`) and checked."""
    raw = read_bytes(path, what="training config", expected="a YAML file", error=MalpyeongError, max_bytes=MAX_CONFIG_BYTES)
    return load_yaml(str(path), decode_utf8(path, raw, error=MalpyeongError), what="training config") or {}


def _merged(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` laid over it, section by section (a flag's ``lora.r`` keeps the file's ``lora.alpha``)."""
    merged = dict(base)
    for key, value in over.items():
        below = merged.get(key)
        merged[key] = _merged(below, value) if isinstance(below, dict) and isinstance(value, Mapping) else value
    return merged


def _refusal(error: ValidationError, where: Mapping[tuple[str, ...], str], fallback: str) -> MalpyeongError:
    """Pydantic's first problem as one line: the flag that gave the value (``where``), else the key."""
    problem = error.errors(include_url=False)[0]
    loc = problem["loc"]
    key = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")
    origin = next((flag for path, flag in where.items() if tuple(loc[:len(path)]) == path), f"{fallback}: {key!r}")
    if problem["type"] == "extra_forbidden":
        section = "" if len(loc) > 1 else "; GRPOConfig fields go under 'grpo:'"
        return MalpyeongError(f"{fallback}: unknown key {key!r}{section}")
    message = "must be a mapping of settings" if problem["type"] in ("model_type", "dict_type") else \
        problem["msg"].removeprefix("Value error, ")
    shown = repr(problem["input"])
    return MalpyeongError(f"{origin}: {message[0].lower()}{message[1:]}, got {shown[:60]}{'...' if len(shown) > 60 else ''}")


def load_settings(config_file: str | Path | None, overrides: Mapping[str, Any], grpo_pairs: Sequence[str] = (), *,
                  flags: Mapping[tuple[str, ...], str] | None = None) -> TrainSettings:
    """The YAML file's settings with ``overrides`` (shaped as the file) and ``--grpo KEY=VALUE`` pairs
    laid over them. ``flags`` names the flag that gave each overridden path, for the error line."""
    values: dict[str, Any] = {}
    if config_file is not None:
        loaded = _read_yaml(config_file)
        if not isinstance(loaded, dict):
            raise MalpyeongError(f"{config_file}: the training config must be a mapping")
        try:  # the file alone first: its problems are named as its keys
            values = TrainSettings.model_validate(loaded).model_dump(exclude_unset=True)
        except ValidationError as exc:
            raise _refusal(exc, {}, str(config_file)) from None
    grpo: dict[str, Any] = {}
    for pair in grpo_pairs:
        if "=" not in pair:
            raise MalpyeongError(f"--grpo takes KEY=VALUE, got {pair!r}")
        key, raw = pair.split("=", 1)
        grpo[key.strip()] = load_yaml(f"--grpo {pair!r}", raw, what="value as YAML")
    values = _merged(_merged(values, overrides), {"grpo": grpo})
    try:
        return TrainSettings.model_validate(values)
    except ValidationError as exc:
        raise _refusal(exc, flags or {}, "training config") from None


# GRPOConfig fields whose values must be above 0 (max_steps: -1, transformers' "not set", or above 0)
_POSITIVE = ("num_generations", "per_device_train_batch_size", "per_device_eval_batch_size", "gradient_accumulation_steps",
             "max_completion_length", "max_prompt_length", "learning_rate", "num_train_epochs", "save_steps",
             "logging_steps", "eval_steps", "temperature", "top_p", "repetition_penalty", "num_iterations")


def _check_grpo_values(grpo: dict[str, Any], defaults: dict[str, Any]) -> None:
    """A GRPOConfig value must have the type of the field's default where that default is a number or flag."""
    for key, value in grpo.items():
        default = defaults.get(key)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, (int, float)):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        else:
            continue
        if not ok:
            raise MalpyeongError(f"GRPOConfig field {key!r} takes {type(default).__name__}, got {value!r}")


def _check_context_reward(settings: TrainSettings, items, prompt) -> None:
    """The context reward needs items with candidates and a gold rule, and a prompt that asks to cite."""
    from malpyeong_eval.citation import item_candidates

    if not any(item.article and item_candidates(item.extra_inputs, item.retrieval) for item in items):
        raise MalpyeongError(f"{settings.data}: the context reward needs items with candidates (malpyeong-eval retrieve) "
                             "and a gold rule (output.article: malpyeong-eval label); none has both")
    if not prompt.cites:
        raise MalpyeongError("the context reward needs a prompt that numbers the candidates and asks for '근거: [N]': "
                             "--prompt-file contest-cite (or a prompt file whose 'user' holds {candidates})")


def _check_grpo_numbers(grpo: dict[str, Any]) -> None:
    """GRPOConfig numbers finite, and above 0 where nothing else means anything (:data:`_POSITIVE`,
    ``max_steps``); checked before trl is imported (seconds), so a bad value fails at once."""
    for key, value in grpo.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise MalpyeongError(f"GRPOConfig field {key!r} must be a finite number, got {value!r}")
        if key in _POSITIVE and isinstance(value, (int, float)) and value <= 0:
            raise MalpyeongError(f"GRPOConfig field {key!r} must be above 0, got {value!r}")
        if key == "max_steps" and isinstance(value, int) and value != -1 and value <= 0:
            raise MalpyeongError(f"--max-steps must be above 0 (or -1: train num_train_epochs), got {value!r}")


def _check_data_and_rewards(settings: TrainSettings) -> None:
    """The training data (read and checked, before any model loads), the rewards and their weights."""
    if not settings.data:
        raise MalpyeongError("give the training data with --data FILE (official format)")
    if not Path(settings.data).is_file():
        raise MalpyeongError(f"{settings.data}: training data file not found")
    from malpyeong_eval.data import load_items

    items = load_items(settings.data, require_answer=True)  # a broken or empty file fails here, before any model loads
    unknown = [name for name in settings.rewards if name not in REWARDS]
    if unknown or not settings.rewards:
        raise MalpyeongError(f"unknown reward {unknown[0]!r}; choose from {','.join(REWARDS)}" if unknown else "no reward given")
    from malpyeong_eval.prompts import load_prompt

    prompt = load_prompt(settings.prompt_file)
    if "context" in settings.rewards:
        _check_context_reward(settings, items, prompt)
    if settings.reward_weights is not None and len(settings.reward_weights) != len(settings.rewards):
        raise MalpyeongError(
            f"{len(settings.reward_weights)} reward weights for {len(settings.rewards)} rewards ({','.join(settings.rewards)})"
        )


def _check_evaluation(settings: TrainSettings) -> None:
    """The evaluation data (items with answers: each checkpoint is scored on them), mode and metrics."""
    eval_data = settings.eval.data
    if eval_data and not Path(eval_data).is_file():
        raise MalpyeongError(f"{eval_data}: evaluation data file not found")
    if settings.eval.mode == "follow":
        if not eval_data:
            raise MalpyeongError("--eval-mode follow needs --eval-data: the data 'malpyeong-eval run --follow' scores checkpoints on")
        if settings.eval.start:
            raise MalpyeongError("--eval-start needs --eval-mode inline (with follow, score the base model with malpyeong-eval run MODEL)")
    if eval_data and settings.eval.mode == "inline":  # scored here: a file without answers fails before training
        from malpyeong_eval.data import load_items

        load_items(eval_data, require_answer=True)
    if settings.eval.metrics:
        parse_metrics(settings.eval.metrics)
    parse_metrics(settings.contest_metrics)


def _grpo_config(settings: TrainSettings):
    """The ``GRPOConfig`` of the settings: the recipe, the ``grpo:`` fields (checked against GRPOConfig's
    fields and their types first), the output folder and the reward weights."""
    from trl import GRPOConfig  # slow to import: after the checks that need nothing of it

    fields = {f.name: f.default for f in dataclasses.fields(GRPOConfig) if f.init}
    unknown_fields = sorted(set(settings.grpo) - set(fields))
    if unknown_fields:
        raise MalpyeongError(f"unknown GRPOConfig field {unknown_fields[0]!r} (see trl.GRPOConfig)")
    _check_grpo_values(settings.grpo, fields)
    from malpyeong_eval.tracking import check_tracker

    reports = settings.grpo.get("report_to", "none")
    for name in [reports] if isinstance(reports, str) else reports:
        check_tracker(name)
    import torch

    options = {**RECIPE, "use_cpu": not torch.cuda.is_available(), "run_name": Path(settings.output_dir).resolve().name,
               **settings.grpo, "output_dir": settings.output_dir}
    if settings.reward_weights is not None:
        options["reward_weights"] = settings.reward_weights
    try:
        with library_warnings_silenced():  # TRL's own default gradient_checkpointing, deprecated by transformers
            return GRPOConfig(**options)
    except (ValueError, TypeError) as exc:
        raise MalpyeongError(f"invalid GRPO configuration: {str(exc).splitlines()[0]}") from None


def validate(settings: TrainSettings):
    """Check the configuration and build the ``GRPOConfig``; every problem is one line."""
    _check_grpo_numbers(settings.grpo)
    _check_data_and_rewards(settings)
    _check_evaluation(settings)
    config = _grpo_config(settings)
    if config.use_vllm:
        import importlib.util

        import torch

        if importlib.util.find_spec("vllm") is None:
            raise MalpyeongError("--use-vllm needs vLLM: pip install 'malpyeong-eval[vllm]' (on a CUDA machine)")
        if not torch.cuda.is_available():
            raise MalpyeongError("--use-vllm needs a CUDA GPU, and none is visible")
    return config


def check_training(settings: TrainSettings):
    """Everything checked before a model is loaded: the configuration (:func:`~train.config.validate`,
    which builds the ``GRPOConfig`` it returns), the policy's folder and, for an inline evaluation,
    the leaderboard."""
    from malpyeong_eval.metrics.loading import check_model

    grpo_config = validate(settings)
    check_model(settings.model, "policy", "--model")  # a missing folder fails now, not after the slow imports
    if settings.eval.data and settings.eval.mode == "inline":
        from leaderboard.store import Leaderboard

        Leaderboard(settings.db)  # a bad database fails now, not after the first checkpoint
    return grpo_config
