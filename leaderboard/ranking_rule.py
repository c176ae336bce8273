"""The leaderboard's one ranking rule, for runs (``leaderboard``, ``export``, ``serve``) and for the items
of a run (``compare``'s won and lost, ``show``'s worst items).

Scores are compared in this order, higher first:

1. **Final Score**, where all four metrics exist;
2. the **mean of the reason metrics scored** (ROUGE-1, BERTScore, BLEURT: Descriptive Avg when all
   three are there, ROUGE-1 alone for a run scored with ``em,rouge1``);
3. **Exact Match**;

a score that is missing ranks below any score; runs still tied go newest first. Runs are ranked
only against runs on the same dataset (by name): the leaderboard shows one table per dataset.

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

__all__ = ["RANKING_RULE", "Rankable", "Standing", "by_dataset", "dataset_label", "describe", "item_standing", "rank_runs",
           "standing"]

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
    def created_at(self) -> datetime: ...

    @property
    def metrics(self) -> Mapping[str, float | None]: ...


Run = TypeVar("Run", bound=Rankable)


def _dataset_key(run: Rankable) -> tuple[bool, str]:
    return (run.dataset_name is None, run.dataset_name or "")


def dataset_label(name: str | None) -> str:
    """A dataset's name as a table shows it."""
    return NO_DATASET if name is None else name


def rank_runs(runs: Iterable[Run], top: int | None = None) -> list[Run]:
    """``runs`` dataset by dataset (by name; unnamed last), each dataset's ranked by the rule; ``top``:
    the best ``top`` of each dataset."""
    ordered = sorted(runs, key=lambda run: (standing(run.metrics), run.created_at, run.id), reverse=True)
    ranked: list[Run] = []
    for _, group in groupby(sorted(ordered, key=_dataset_key), key=_dataset_key):  # sorted() is stable: ranks stay
        ranked.extend(list(group)[:top])
    return ranked


def by_dataset(runs: Sequence[Run]) -> list[tuple[str | None, list[Run]]]:
    """Ranked runs (:func:`rank_runs`) as one ranked list per dataset name, in order."""
    return [(name, list(group)) for name, group in groupby(runs, key=lambda run: run.dataset_name)]
