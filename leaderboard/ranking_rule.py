"""The leaderboard's one ranking rule, for runs (``leaderboard``, ``export``, ``serve``) and for the items
of a run (``compare``'s won and lost, ``show``'s worst items).

Scores are compared in this order, higher first:

1. **Final Score**, where all four metrics exist;
2. the **mean of the reason metrics scored** (ROUGE-1, BERTScore, BLEURT: Descriptive Avg when all
   three are there, ROUGE-1 alone for a run scored with ``em,rouge1``);
3. **Exact Match**;

a score that is missing ranks below any score; runs still tied go newest first. Runs are ranked
only against runs on the same items: the same dataset (by name) and as many items (a ``--limit``
scores fewer), one table each.

For an item, the reason part counts 0 when the item is not counted (a prediction without a reason
must not gain by skipping it, as in :func:`~malpyeong_eval.metrics.aggregate.item_final_score`),
and two runs' items are compared on the metrics both runs have.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Protocol, TypeVar

from malpyeong_eval.metrics.aggregate import item_final_score
from malpyeong_eval.metrics.registry import DESCRIPTIVE, FINAL_CLAUSE_METRICS, LABELS

__all__ = ["RANKING_RULE", "ItemSet", "Rankable", "Standing", "by_dataset", "describe", "item_set", "item_standing",
           "rank_runs", "standing"]

RANKING_RULE = ("ranked by Final Score; without one by the mean of the reason metrics scored, then EM; "
                "a missing score ranks last; ties: newest first")
NO_DATASET = "(no dataset name)"
_EM = FINAL_CLAUSE_METRICS[0]
_MISSING = float("-inf")


@dataclass(frozen=True, order=True)
class Standing:
    """Where scores stand under the rule; a greater standing ranks higher (``-inf``: missing)."""

    final: float
    reason: float
    exact_match: float


def _value(value: float | None) -> float:
    return _MISSING if value is None else float(value)


def _reason_mean(scores: Mapping[str, float | None], metrics: Collection[str] | None, counted: bool = True) -> float | None:
    values = [scores.get(key) for key in DESCRIPTIVE if metrics is None or key in metrics]
    present = [value for value in values if value is not None]
    if not present:
        return None
    return sum(present) / len(present) if counted else 0.0


def standing(scores: Mapping[str, float | None], metrics: Collection[str] | None = None) -> Standing:
    """A run's standing from its metrics (``final_score``, the reason metrics, ``exact_match``); only
    ``metrics`` count when given."""
    def kept(key: str) -> float | None:
        return scores.get(key) if metrics is None or key in metrics else None

    return Standing(_value(kept("final_score")), _value(_reason_mean(scores, metrics)), _value(kept(_EM)))


def item_standing(scores: Mapping[str, float | None], counted: bool | None, metrics: Collection[str] | None = None) -> Standing:
    """An item's standing: its own Final (:func:`~malpyeong_eval.metrics.aggregate.item_final_score`),
    the mean of its reason scores (0 when it is not counted), its EM; only ``metrics`` count when given."""
    shown = {key: value for key, value in scores.items() if metrics is None or key in metrics}
    final = item_final_score({**shown, "counted": counted}) if metrics is None or "final_score" in metrics else None
    return Standing(_value(final), _value(_reason_mean(shown, None, bool(counted))), _value(shown.get(_EM)))


def describe(metrics: Collection[str]) -> str:
    """The rule in words for scores that have ``metrics``: ``Final Score``, ``ROUGE-1, then EM``,
    ``the mean of ROUGE-1 and BERTScore, then EM``."""
    if "final_score" in metrics:
        return LABELS["final_score"]
    reasons = [LABELS[key] for key in DESCRIPTIVE if key in metrics]
    parts = []
    if reasons:
        parts.append(reasons[0] if len(reasons) == 1 else f"the mean of {', '.join(reasons[:-1])} and {reasons[-1]}")
    if _EM in metrics:
        parts.append(LABELS[_EM])
    return ", then ".join(parts) or "no metric"


class Rankable(Protocol):
    """What ranking reads of a run (a :class:`~leaderboard.records.RunRecord` is one)."""

    @property
    def id(self) -> int: ...

    @property
    def dataset_name(self) -> str | None: ...

    @property
    def n(self) -> int: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def metrics(self) -> Mapping[str, float | None]: ...


Run = TypeVar("Run", bound=Rankable)


@dataclass(frozen=True)
class ItemSet:
    """What runs ranked together share: the dataset's name and the number of items."""

    dataset_name: str | None
    n: int

    def __str__(self) -> str:
        return f"dataset {NO_DATASET if self.dataset_name is None else self.dataset_name}, {self.n} items"


def item_set(run: Rankable) -> ItemSet:
    """The items ``run`` was scored on, as ranking groups them."""
    return ItemSet(run.dataset_name, run.n)


def _set_order(run: Rankable) -> tuple[bool, str, int]:
    return (run.dataset_name is None, run.dataset_name or "", -run.n)


def rank_runs(runs: Iterable[Run], top: int | None = None) -> list[Run]:
    """``runs`` item set by item set (:func:`item_set`: by dataset name, unnamed last, then the most items
    first), each ranked by the rule; ``top``: the best ``top`` of each."""
    ordered = sorted(runs, key=lambda run: (standing(run.metrics), run.created_at, run.id), reverse=True)
    ranked: list[Run] = []
    for _, group in groupby(sorted(ordered, key=_set_order), key=_set_order):  # sorted() is stable: ranks stay
        ranked.extend(list(group)[:top])
    return ranked


def by_dataset(runs: Sequence[Run]) -> list[tuple[ItemSet, list[Run]]]:
    """Ranked runs (:func:`rank_runs`) as one ranked list per item set, in order."""
    return [(items, list(group)) for items, group in groupby(runs, key=item_set)]
