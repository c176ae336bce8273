"""Comparing two runs on the same items: deltas with paired bootstrap confidence intervals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.metrics.aggregate import item_final_score as item_final

from .store import RunRecord

ITEM_METRICS = ("exact_match", "rouge1", "bertscore", "bleurt", "final_score")


def paired_bootstrap(a: np.ndarray, b: np.ndarray, resamples: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Mean of ``b - a`` and its 95% percentile interval over resampled items."""
    differences = b - a
    rng = np.random.default_rng(seed)
    means = differences[rng.integers(0, len(differences), size=(resamples, len(differences)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(differences.mean()), float(low), float(high)


@dataclass
class Comparison:
    run_a: RunRecord
    run_b: RunRecord
    deltas: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # metric -> (delta, low, high)
    won: int = 0
    lost: int = 0
    tied: int = 0
    em_flips: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_a": self.run_a.name,
            "run_b": self.run_b.name,
            "deltas": {k: {"delta": d, "ci_low": lo, "ci_high": hi} for k, (d, lo, hi) in self.deltas.items()},
            "won": self.won,
            "lost": self.lost,
            "tied": self.tied,
            "em_flips": self.em_flips,
        }


def compare_runs(
    run_a: RunRecord, items_a: list[dict[str, Any]], run_b: RunRecord, items_b: list[dict[str, Any]], *, flips: int = 5
) -> Comparison:
    """B against A, item by item; runs scored on different data are refused."""
    if run_a.dataset_hash and run_b.dataset_hash and run_a.dataset_hash != run_b.dataset_hash:
        raise MalpyeongError(f"runs {run_a.name!r} and {run_b.name!r} were scored on different data (dataset hashes differ)")
    ids_a, ids_b = [row["item_id"] for row in items_a], [row["item_id"] for row in items_b]
    if sorted(ids_a) != sorted(ids_b):
        raise MalpyeongError(f"runs {run_a.name!r} and {run_b.name!r} were scored on different items")
    by_id = {row["item_id"]: row for row in items_b}
    pairs = [(row, by_id[row["item_id"]]) for row in items_a]
    comparison = Comparison(run_a, run_b)
    for metric in ITEM_METRICS:
        values = [
            (item_final(a), item_final(b)) if metric == "final_score" else (a.get(metric), b.get(metric)) for a, b in pairs
        ]
        if values and all(x is not None and y is not None for x, y in values):
            a_values, b_values = np.array(values, dtype=float).T
            comparison.deltas[metric] = paired_bootstrap(a_values, b_values)
    key = "final_score" if "final_score" in comparison.deltas else next(iter(comparison.deltas), None)
    for a, b in pairs:
        score_a, score_b = (item_final(a), item_final(b)) if key == "final_score" else (a.get(key), b.get(key))
        if score_a is None or score_b is None or score_a == score_b:
            comparison.tied += 1
        elif score_b > score_a:
            comparison.won += 1
        else:
            comparison.lost += 1
        if a.get("exact_match") is not None and b.get("exact_match") is not None and a["exact_match"] != b["exact_match"]:
            if len(comparison.em_flips) < flips:
                comparison.em_flips.append(
                    {"item_id": a["item_id"], "gold": a["gold"], "a": a["answer_clause"], "b": b["answer_clause"],
                     "em_a": a["exact_match"], "em_b": b["exact_match"]}
                )
    return comparison
