"""One pool of loaded scorers per process, keyed by model identity: a model is loaded once and shared.

Everything that scores takes its scorers from here: :class:`~malpyeong_eval.evaluation.ContestScorer`
(so ``score``, ``run``, ``rescore``, the ``evaluate`` module and in-process checkpoint evaluation),
and through it every reward function. Two users asking for the same metric with options of the
same model identity (:meth:`MetricSpec.identity <malpyeong_eval.metrics.registry.MetricSpec.identity>`:
model, layer, device, defaults filled in, ``cuda`` → ``cuda:0``) get the same loaded scorer,
whatever batch size each scores with (it is an argument of each ``score`` call): a BERTScore
reward and a ``score`` of the default BERTScore share one BERT; every ROUGE-1 user shares one
Mecab tagger.

Thread-safe: a scorer is built at most once per configuration, by whichever caller asks first;
scorers of different configurations may be built at the same time. Nothing is imported until a
scorer is built (the registry's factories import their modules).

>>> shared_scorer("rouge1") is shared_scorer("rouge1", ScorerOptions(device="cpu"))  # ROUGE-1 takes no option
True
"""

from __future__ import annotations

import threading

from .options import ScorerOptions
from .registry import Scorer, spec

_POOL: dict[tuple, Scorer] = {}
_BUILDING: dict[tuple, threading.Lock] = {}  # one lock per configuration being built
_LOCK = threading.Lock()  # guards the two dicts


def shared_scorer(metric: str, options: ScorerOptions = ScorerOptions()) -> Scorer:
    """The loaded scorer of ``metric`` (``exact_match``, ``rouge1``, ``bertscore``, ...) for the model
    identity ``options`` give it, built on the first request of that identity.

    The key is ``(metric, *identity)``: options a metric does not use, and the batch size, are
    ignored; normalizing the device imports the scorer's framework.
    """
    metric_spec = spec(metric)
    identity = metric_spec.identity(options)
    key = (metric, *identity)
    with _LOCK:
        if key in _POOL:
            return _POOL[key]
        building = _BUILDING.setdefault(key, threading.Lock())
    with building:  # one builder per configuration; the others wait for its scorer
        with _LOCK:
            if key in _POOL:
                return _POOL[key]
        scorer = metric_spec.factory(dict(identity))  # a failure leaves nothing pooled: the next caller tries again
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


def settled_batch_sizes() -> list[str]:
    """For each pooled scorer that scored with ``--batch-size auto``, the line saying the size it settled
    on (:func:`~malpyeong_eval.batching.settled_line`), by metric label."""
    from ..batching import BatchSizer, settled_line
    from .registry import LABELS

    lines = []
    for key, scorer in loaded_scorers().items():
        sizer = getattr(scorer, "batch", None)
        if isinstance(sizer, BatchSizer) and sizer.settled is not None:
            lines.append(settled_line(LABELS.get(key[0], key[0]), sizer.settled))
    return lines
