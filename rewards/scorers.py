"""One pool of loaded metric scorers, shared by every reward in the process.

A reward holds only its configuration (metrics and scorer options). The first time it scores,
it takes each reason metric's scorer from this pool, which builds it once per configuration:
two rewards that ask for the same BERTScore model, layer, device and batch size share one loaded
BERT, and ``rouge1_reward`` and a contest reward share one Mecab tagger. Nothing here imports
torch, transformers or Mecab until a scorer is actually built.

>>> from rewards.scorers import shared_scorer
>>> shared_scorer("rouge1") is shared_scorer("rouge1")
True
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from malpyeong_eval.evaluation import METRICS, ContestScorer, parse_metrics

# ContestScorer's scorer options, as rewards take them (``**scorer_options``).
SCORER_OPTIONS = ("bertscore_model", "bertscore_layers", "bleurt_model", "device", "batch_size")
REASON_METRICS = ("rouge1", "bertscore", "bleurt")
_DEFAULT_BATCH = {"bertscore": 64, "bleurt": 32}  # ContestScorer's defaults

_POOL: dict[tuple, Any] = {}
_LOCK = threading.RLock()


def check_options(options: Mapping[str, Any]) -> None:
    """Refuse an option ContestScorer does not take (as its constructor would)."""
    unknown = sorted(set(options) - set(SCORER_OPTIONS))
    if unknown:
        raise TypeError(f"unknown scorer option {unknown[0]!r}; choose from {', '.join(SCORER_OPTIONS)}")


def metric_options(metric: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The options of one reason metric's scorer, from ContestScorer-style options."""
    if metric == "rouge1":
        return {}
    batch_size = options.get("batch_size") or _DEFAULT_BATCH[metric]
    if metric == "bertscore":
        return {"model": options.get("bertscore_model"), "num_layers": options.get("bertscore_layers"),
                "device": options.get("device"), "batch_size": batch_size}
    if metric == "bleurt":
        return {"model": options.get("bleurt_model"), "device": options.get("device"), "batch_size": batch_size}
    raise ValueError(f"{metric!r} has no scorer to load; choose from {', '.join(REASON_METRICS)}")


def options_of(metric: str, scorer: Any) -> dict[str, Any] | None:
    """The options a loaded scorer was built with (``None`` when it does not say, e.g. a stand-in)."""
    if metric == "rouge1":
        return {}
    try:
        if metric == "bertscore":
            return {"model": scorer.model, "num_layers": scorer.num_layers, "device": scorer.device,
                    "batch_size": scorer.batch_size}
        return {"model": scorer.model_name, "device": scorer.device, "batch_size": scorer.batch_size}
    except AttributeError:
        return None


def scorer_key(metric: str, options: Mapping[str, Any]) -> tuple:
    """The pool key of a configuration: defaults filled in, the device resolved, so that
    ``BertScoreReward()`` and ``BertScoreReward("bert-base-multilingual-cased", 9)`` share one model."""
    if metric == "rouge1":
        return ("rouge1",)
    from malpyeong_eval.metrics.models import model_from_env, resolve_device

    device = resolve_device(options.get("device"))
    if metric == "bertscore":
        from malpyeong_eval.metrics import bertscore

        model = options.get("model") or model_from_env(bertscore.DEFAULT_MODEL, bertscore.MODEL_VARIABLE)
        layers = options.get("num_layers")
        layers = bertscore.default_layer(model) if layers is None else layers
        return ("bertscore", model, layers, device, options["batch_size"])
    from malpyeong_eval.metrics import bleurt

    model = options.get("model") or model_from_env(bleurt.DEFAULT_MODEL, bleurt.MODEL_VARIABLE)
    return ("bleurt", model, device, options["batch_size"])


def _build(key: tuple) -> Any:
    if key[0] == "rouge1":
        from malpyeong_eval.metrics.rouge import Rouge1Scorer

        return Rouge1Scorer()
    if key[0] == "bertscore":
        from malpyeong_eval.metrics.bertscore import BertScoreScorer

        _, model, layers, device, batch_size = key
        return BertScoreScorer(model, layers, device, batch_size)
    from malpyeong_eval.metrics.bleurt import BleurtScorer

    _, model, device, batch_size = key
    return BleurtScorer(model, device, batch_size)


def shared_scorer(metric: str, **options: Any) -> Any:
    """The loaded scorer of ``metric`` (``rouge1``, ``bertscore``, ``bleurt``) for these options
    (``model``, ``num_layers``, ``device``, ``batch_size``), built on first request."""
    options = {**metric_options(metric, {}), **options}
    key = scorer_key(metric, options)
    with _LOCK:
        if key not in _POOL:
            _POOL[key] = _build(key)
        return _POOL[key]


def register(metric: str, scorer: Any) -> dict[str, Any] | None:
    """Put an already loaded scorer in the pool under its own configuration (an equal one already
    there is kept); returns that configuration, or ``None`` when the scorer does not tell it."""
    options = options_of(metric, scorer)
    if options is not None:
        with _LOCK:
            _POOL.setdefault(scorer_key(metric, options), scorer)
    return options


def contest_scorer(metrics: str | Sequence[str] = METRICS, **scorer_options: Any) -> ContestScorer:
    """A ContestScorer of ``metrics`` whose scorers come from the pool (ContestScorer's options),
    e.g. to score checkpoints with the models the rewards already hold."""
    check_options(scorer_options)
    names = parse_metrics(metrics)
    loaded = {name: shared_scorer(name, **metric_options(name, scorer_options)) for name in names if name in REASON_METRICS}
    return ContestScorer(names, scorers=loaded)


def loaded_scorers() -> dict[tuple, Any]:
    """What the pool holds now: configuration key → loaded scorer."""
    with _LOCK:
        return dict(_POOL)


def clear_scorers() -> None:
    """Forget every pooled scorer (rewards that hold one keep it until they are pickled or deleted)."""
    with _LOCK:
        _POOL.clear()
