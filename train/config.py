"""Training configuration: a YAML file and/or flags, checked before any model is loaded.

YAML keys mirror the flags (``model``, ``data``, ``output_dir``, ``rewards``,
``reward_weights``, ``contest_metrics``, ``lora``, ``eval`` (``data``, ``limit``, ``metrics``, ``max_new_tokens``,
``batch_size``, ``dataset_name``, ``start``, ``mode: inline | follow``), ``db``, scorer models) and a ``grpo:`` section
that reaches every ``trl.GRPOConfig`` field; ``--grpo KEY=VALUE`` sets one from the
command line. Flags win over the file. Defaults follow the seed recipe: 4 generations
per prompt, learning rate 1e-5, gradient accumulation 2, 3 epochs.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.evaluation import parse_metrics

from malpyeong_eval.metrics.registry import ALIASES, DEFAULT_METRICS_TEXT

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


@dataclass
class TrainSettings:
    """Everything ``malpyeong-eval train`` needs; ``grpo`` holds GRPOConfig fields."""

    model: str = "Qwen/Qwen3-1.7B"
    data: str | None = None
    output_dir: str = "malpyeong-grpo"
    rewards: list[str] = field(default_factory=lambda: ["format", "em", "rouge1"])
    reward_weights: list[float] | None = None
    lora: dict[str, Any] = field(default_factory=dict)  # r, alpha, dropout, target_modules
    eval: dict[str, Any] = field(default_factory=dict)  # data, limit, metrics, max_new_tokens, batch_size, start, mode
    db: str | None = None
    bertscore_model: str | None = None
    bertscore_layers: int | None = None
    bleurt_model: str | None = None
    contest_metrics: str = DEFAULT_METRICS_TEXT  # the metrics inside the contest reward (only their models load)
    prompt_file: str | None = None
    resume: bool = False
    trust_remote_code: bool = False
    grpo: dict[str, Any] = field(default_factory=dict)

    @property
    def eval_mode(self) -> str:
        """``inline``: the training process scores each saved checkpoint; ``follow``: it only notes
        it, and ``malpyeong-eval run OUTPUT_DIR --follow`` scores it elsewhere."""
        return self.eval.get("mode") or "inline"


EVAL_MODES = ("inline", "follow")
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _parse_value(text: str) -> Any:
    """A flag value as YAML would read it, but ``1e-5`` is a number (YAML 1.1 reads it as text)."""
    value = yaml.safe_load(text)
    return _numeric(value)


def _numeric(value: Any) -> Any:
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        number = float(value)
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    return value


def _read_yaml(path: str | Path) -> Any:
    """A training config through the one reader (:mod:`malpyeong_eval.inputs`), parsed and checked."""
    from malpyeong_eval.inputs import check_value, read_text

    text = read_text(path, what="training config", expected="a YAML file", error=MalpyeongError)
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MalpyeongError(f"{path}: cannot read the training config ({str(exc).splitlines()[0]})") from None
    except RecursionError:
        raise MalpyeongError(f"{path}: cannot read the training config (nested too deep)") from None
    return check_value(str(path), loaded, error=MalpyeongError) or {}


def load_settings(config_file: str | Path | None, overrides: dict[str, Any], grpo_pairs: list[str]) -> TrainSettings:
    """Merge the YAML file, the flags and ``--grpo KEY=VALUE`` pairs."""
    values: dict[str, Any] = {}
    if config_file is not None:
        loaded = _read_yaml(config_file)
        if not isinstance(loaded, dict):
            raise MalpyeongError(f"{config_file}: the training config must be a mapping")
        known = {f.name for f in dataclasses.fields(TrainSettings)}
        unknown = sorted(set(loaded) - known)
        if unknown:
            raise MalpyeongError(f"{config_file}: unknown key {unknown[0]!r}; GRPOConfig fields go under 'grpo:'")
        values.update(loaded)
        for key in ("lora", "eval", "grpo"):
            if key in values and not isinstance(values[key], dict):
                raise MalpyeongError(f"{config_file}: {key!r} must be a mapping of settings")
    for key, value in overrides.items():
        if value is None:
            continue
        if key in ("lora", "eval", "grpo"):
            values[key] = {**values.get(key, {}), **value}
        else:
            values[key] = value
    grpo = {key: _numeric(value) for key, value in (values.get("grpo") or {}).items()}
    for pair in grpo_pairs:
        if "=" not in pair:
            raise MalpyeongError(f"--grpo takes KEY=VALUE, got {pair!r}")
        key, raw = pair.split("=", 1)
        grpo[key.strip()] = _parse_value(raw)
    values["grpo"] = grpo
    if isinstance(values.get("rewards"), str):
        values["rewards"] = [name.strip() for name in values["rewards"].split(",") if name.strip()]
    if isinstance(values.get("reward_weights"), str):
        try:
            values["reward_weights"] = [float(w) for w in values["reward_weights"].split(",")]
        except ValueError:
            raise MalpyeongError(f"--reward-weights takes numbers separated by commas, got {values['reward_weights']!r}") from None
    return TrainSettings(**values)


_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "model": str, "data": (str, type(None)), "output_dir": str, "rewards": list, "reward_weights": (list, type(None)),
    "lora": dict, "eval": dict, "db": (str, type(None)), "bertscore_model": (str, type(None)),
    "bertscore_layers": (int, type(None)), "bleurt_model": (str, type(None)), "prompt_file": (str, type(None)),
    "contest_metrics": str,
    "resume": bool, "trust_remote_code": bool, "grpo": dict,
}


def _check_types(settings: TrainSettings) -> None:
    for name, expected in _FIELD_TYPES.items():
        value = getattr(settings, name)
        if not isinstance(value, expected) or (name == "bertscore_layers" and isinstance(value, bool)):
            raise MalpyeongError(f"training config: {name!r} is {type(value).__name__}, not what it should be "
                                 f"({' or '.join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))})")
    if not all(isinstance(name, str) for name in settings.rewards):
        raise MalpyeongError("training config: 'rewards' must be a list of reward names")
    if settings.reward_weights is not None and not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) for w in settings.reward_weights):
        raise MalpyeongError("training config: 'reward_weights' must be numbers")
    for key in ("data", "dataset_name", "metrics", "mode"):
        if key in settings.eval and not isinstance(settings.eval[key], str):
            raise MalpyeongError(f"training config: 'eval.{key}' must be text")


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


def _check_numbers(settings: TrainSettings) -> None:
    """Reward weights finite; LoRA rank and alpha, evaluation limit and token budget above 0."""
    for weight in settings.reward_weights or ():
        if not math.isfinite(weight):
            raise MalpyeongError(f"--reward-weights must be finite numbers, got {weight!r}")
    for section, key, flag in (("lora", "r", "--lora-r"), ("lora", "alpha", "--lora-alpha"), ("eval", "limit", "--eval-limit"),
                               ("eval", "max_new_tokens", "--eval-max-new-tokens"), ("eval", "batch_size", "eval.batch_size")):
        value = getattr(settings, section).get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise MalpyeongError(f"{flag} must be a number above 0, got {value!r}")


def validate(settings: TrainSettings):
    """Check the configuration and build the ``GRPOConfig``; every problem is one line."""
    _check_types(settings)
    _check_numbers(settings)
    _check_grpo_numbers(settings.grpo)
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
    eval_data = settings.eval.get("data")
    if eval_data and not Path(eval_data).is_file():
        raise MalpyeongError(f"{eval_data}: evaluation data file not found")
    if settings.eval_mode not in EVAL_MODES:
        raise MalpyeongError(f"unknown eval mode {settings.eval_mode!r}; choose from {', '.join(EVAL_MODES)}")
    if settings.eval_mode == "follow":
        if not eval_data:
            raise MalpyeongError("--eval-mode follow needs --eval-data: the data 'malpyeong-eval run --follow' scores checkpoints on")
        if settings.eval.get("start"):
            raise MalpyeongError("--eval-start needs --eval-mode inline (with follow, score the base model with malpyeong-eval run MODEL)")
    if settings.eval.get("metrics"):
        parse_metrics(settings.eval["metrics"])
    parse_metrics(settings.contest_metrics)
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
        with warnings.catch_warnings():  # transformers' deprecation notices about fields we never set
            warnings.simplefilter("ignore", FutureWarning)
            config = GRPOConfig(**options)
    except (ValueError, TypeError) as exc:
        raise MalpyeongError(f"invalid GRPO configuration: {str(exc).splitlines()[0]}") from None
    if config.use_vllm:
        import importlib.util

        if importlib.util.find_spec("vllm") is None:
            raise MalpyeongError("--use-vllm needs vLLM: pip install 'malpyeong-eval[vllm]' (on a CUDA machine)")
        if not torch.cuda.is_available():
            raise MalpyeongError("--use-vllm needs a CUDA GPU, and none is visible")
    return config
