"""Rescoring stored runs under this version's scoring rules, from their stored predictions and gold.

A run keeps its id, name, tags, checkpoint, step and fingerprint; its metrics, by-type
metrics, per-item scores and ``counted`` flags, ``metric_config``, ``scoring_rules``,
``n_counted`` and ``tool_version`` are replaced in one transaction
(:meth:`~leaderboard.store.Leaderboard.update_scores`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from malpyeong_eval.citation import Choice
from malpyeong_eval.data import Item
from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.evaluation import ContestScorer
from malpyeong_eval.metrics.options import ScorerOptions
from malpyeong_eval.metrics.registry import ALIASES, METRIC_SPECS, names_of

from .records import RunRecord
from .store import Leaderboard

# The metric names of ``--metrics`` and the run columns / metric_config keys that show a run had them.
METRIC_KEYS = {alias: names_of(alias) for alias in ALIASES}
# Metrics whose configuration names a model: a rescore with another model says so.
MODEL_METRICS = tuple(spec.name for spec in METRIC_SPECS if spec.takes_options)
_RULES_SUFFIX = re.compile(r" rules=\S+$")
NO_CHOICE = Choice(None, None, None, None)  # an item of a citing run that named nothing


def metrics_of(run: RunRecord) -> tuple[str, ...]:
    """The metrics a run was scored with: its non-null metric columns and its metric_config keys."""
    return tuple(
        name for name in ALIASES
        if any(run.metrics.get(key) is not None or key in run.metric_config for key in METRIC_KEYS[name])
    )


class NothingToRescore(MalpyeongError):
    """A run without stored items or metrics: there is nothing to recompute."""

    def __init__(self, run: RunRecord, why: str) -> None:
        super().__init__(f"run {run.name!r} (#{run.id}) cannot be rescored: {why}")
        self.run, self.why = run, why


@dataclass
class Rescored:
    """One rescored run: its numbers before and after."""

    before: RunRecord
    after: RunRecord
    metrics: tuple[str, ...]
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def numbers(run: RunRecord) -> dict[str, Any]:
            return {"scoring_rules": run.scoring_rules, "n_counted": run.n_counted, **run.metrics}

        return {"id": self.after.id, "name": self.after.name, "metrics": list(self.metrics),
                "old": numbers(self.before), "new": numbers(self.after), "notes": self.notes}


class Rescorer:
    """Recomputes runs on one leaderboard; model-based scorers are loaded when first needed, from the
    per-process pool (:func:`malpyeong_eval.metrics.pool.shared_scorer`), so once for every run."""

    def __init__(self, board: Leaderboard, options: ScorerOptions = ScorerOptions()) -> None:
        self.board = board
        self.options = options

    def scorer(self, metrics: tuple[str, ...]) -> ContestScorer:
        """A ContestScorer of ``metrics`` with this rescore's options (its scorers from the pool)."""
        return ContestScorer(metrics, self.options)

    def rescore(self, run: RunRecord) -> Rescored:
        """Score the run's stored predictions against its stored gold and store the new numbers."""
        metrics = metrics_of(run)
        if not metrics:
            raise NothingToRescore(run, "it records no metric")
        items = self.board.items(run)
        if not items:
            raise NothingToRescore(run, "it has no stored items")
        gold = [Item(item.item_id, item.question_type, "", item.gold, article=item.gold_article)  # as stored: no question
                for item in items]
        predictions = [item.prediction for item in items]
        scorer = self.scorer(metrics)
        # the contexts the generations named, as stored: selection accuracy is judged again from them
        recorded = [item.choice for item in items]
        choices = [choice or NO_CHOICE for choice in recorded] if any(recorded) else None
        result = scorer.evaluate(gold, predictions, aligned_by_id=run.aligned_by_id, choices=choices)
        notes = []
        for name in MODEL_METRICS:
            old, new = run.metric_config.get(name), result.config.get(name)
            if old and new and _RULES_SUFFIX.sub("", old) != _RULES_SUFFIX.sub("", new):
                notes.append(f"{name} configuration differs from the recorded one (was {old}; now {new})")
        after = self.board.update_scores(run, result)
        return Rescored(before=run, after=after, metrics=metrics, notes=notes)
