"""One pool of loaded scorers per process, keyed by configuration: a model is loaded once and shared.

Everything that scores takes its scorers from here: :class:`~malpyeong_eval.evaluation.ContestScorer`
(so ``score``, ``run``, ``rescore``, the ``evaluate`` module and in-process checkpoint evaluation),
and through it every reward function. Two users asking for the same metric with the same
normalized options (:attr:`MetricSpec.options <malpyeong_eval.metrics.registry.MetricSpec>`:
defaults filled in, the device resolved) get the same loaded scorer: ``BertScoreReward()`` and a
``score`` of the default BERTScore share one BERT; every ROUGE-1 user shares one Mecab tagger.

Thread-safe: a scorer is built at most once per configuration, by whichever caller asks first;
scorers of different configurations may be built at the same time. Nothing is imported until a
scorer is built (the registry's factories import their modules).

>>> shared_scorer("rouge1") is shared_scorer("rouge1", device="cpu")  # ROUGE-1 takes no option
True
"""

from __future__ import annotations

import threading
from typing import Any

from .registry import Scorer, check_options, spec

_POOL: dict[tuple, Scorer] = {}
_BUILDING: dict[tuple, threading.Lock] = {}  # one lock per configuration being built
_LOCK = threading.Lock()  # guards the two dicts


def shared_scorer(metric: str, **options: Any) -> Scorer:
    """The loaded scorer of ``metric`` (``exact_match``, ``rouge1``, ``bertscore``, ...) for these
    options (``bertscore_model``, ``bertscore_layers``, ``bleurt_model``, ``device``, ``batch_size``),
    built on the first request of its configuration.

    The configuration is ``(metric, *normalized options)``: options a metric does not use are
    ignored, and normalizing may import the scorer's framework (to resolve the device).
    """
    check_options(options)
    metric_spec = spec(metric)
    normalized = metric_spec.options(options)
    key = (metric, *normalized.items())
    with _LOCK:
        if key in _POOL:
            return _POOL[key]
        building = _BUILDING.setdefault(key, threading.Lock())
    with building:  # one builder per configuration; the others wait for its scorer
        with _LOCK:
            if key in _POOL:
                return _POOL[key]
        scorer = metric_spec.factory(normalized)  # a failure leaves nothing pooled: the next caller tries again
        with _LOCK:
            _POOL[key] = scorer
            _BUILDING.pop(key, None)
        return scorer


def loaded_scorers() -> dict[tuple, Scorer]:
    """What the pool holds now: configuration key (its first element the metric's name) → scorer."""
    with _LOCK:
        return dict(_POOL)


def clear_scorers() -> None:
    """Forget every pooled scorer (their users keep those they hold until they drop them)."""
    with _LOCK:
        _POOL.clear()
