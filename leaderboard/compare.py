"""Comparing two runs on the same items: deltas with paired bootstrap confidence intervals.

Each resample draws item indices with replacement (the same indices for both runs, items paired
by id) and recomputes both runs' tables the organizers' way with
:func:`malpyeong_eval.metrics.aggregate.aggregate`: EM over all resampled items, the reason
metrics over the resampled items that are counted in each run. The point estimate is the
difference of the two runs' tables on all items, which are their recorded metrics.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.metrics.aggregate import PER_ITEM, aggregate, summarize
from malpyeong_eval.metrics.aggregate import item_final_score as item_final
from malpyeong_eval.metrics.registry import CONTEXT_METRICS, FINAL_METRICS, SUMMARY_NAMES

from .store import RunRecord

DELTA_METRICS = (*FINAL_METRICS, *SUMMARY_NAMES, *CONTEXT_METRICS)  # Final's metrics, Desc. Avg, Final; selection
RESAMPLES = 2000
SEED = 0
_CHUNK = 250  # resamples gathered at once: bounds the memory of (resamples, items) arrays


def old_rules_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items of a run scored under the old rules (``counted`` unknown): the old rules averaged the
    reason metrics over every item, which is ``aggregate`` with every item counted."""
    return [{**row, "counted": True} if row.get("counted") is None else row for row in rows]


def run_columns(rows: Sequence[dict[str, Any]]) -> tuple[dict[str, np.ndarray | None], np.ndarray]:
    """The per-item arrays ``aggregate`` takes, and the counted mask; a metric that
    :func:`~malpyeong_eval.metrics.aggregate.summarize` leaves out (not computed) is ``None``."""
    computed = summarize(rows)
    columns: dict[str, np.ndarray | None] = {}
    for key in PER_ITEM:
        columns[key] = None if computed[key] is None else np.array(
            [np.nan if row.get(key) is None else row[key] for row in rows], dtype=float
        )
    return columns, np.array([bool(row.get("counted")) for row in rows], dtype=bool)


def bootstrap_deltas(
    rows_a: Sequence[dict[str, Any]], rows_b: Sequence[dict[str, Any]], resamples: int = RESAMPLES, seed: int = SEED
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Point deltas (B − A on all items) and the deltas on each resample, per metric both runs have.

    ``rows_a[i]`` and ``rows_b[i]`` are the same item. The resamples' indices are
    ``np.random.default_rng(seed).integers(0, n, size=(resamples, n))``.
    """
    n = len(rows_a)
    columns_a, counted_a = run_columns(rows_a)
    columns_b, counted_b = run_columns(rows_b)
    point_a, point_b = aggregate(columns_a, counted_a), aggregate(columns_b, counted_b)
    metrics = [key for key in DELTA_METRICS if point_a.get(key) is not None and point_b.get(key) is not None]
    points = {key: point_b[key] - point_a[key] for key in metrics}
    if not metrics or n == 0:
        return points, {key: np.empty(0) for key in metrics}
    indices = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    samples: dict[str, list[np.ndarray]] = {key: [] for key in metrics}
    for start in range(0, resamples, _CHUNK):
        chunk = indices[start : start + _CHUNK]

        def gathered(columns):
            return {key: None if values is None else values[chunk] for key, values in columns.items()}

        table_a = aggregate(gathered(columns_a), counted_a[chunk])
        table_b = aggregate(gathered(columns_b), counted_b[chunk])
        for key in metrics:
            samples[key].append(table_b[key] - table_a[key])
    return points, {key: np.concatenate(parts) for key, parts in samples.items()}


@dataclass
class Comparison:
    run_a: RunRecord
    run_b: RunRecord
    deltas: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # metric -> (delta, low, high)
    won: int = 0
    lost: int = 0
    tied: int = 0
    decided_by: str | None = None  # the item score that decides won and lost: final_score, else the first metric
    em_flips: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_a": self.run_a.name,
            "run_b": self.run_b.name,
            "retrieval_a": self.run_a.retrieval,
            "retrieval_b": self.run_b.retrieval,
            "scoring_rules": self.run_a.scoring_rules,
            "resamples": RESAMPLES,
            "seed": SEED,
            "deltas": {k: {"delta": d, "ci_low": lo, "ci_high": hi} for k, (d, lo, hi) in self.deltas.items()},
            "won": self.won,
            "lost": self.lost,
            "tied": self.tied,
            "decided_by": self.decided_by,
            "em_flips": self.em_flips,
        }


def _rules_name(run: RunRecord) -> str:
    return run.scoring_rules or "old pre-2025 rules"


def compare_runs(
    run_a: RunRecord, items_a: list[dict[str, Any]], run_b: RunRecord, items_b: list[dict[str, Any]], *, flips: int = 5
) -> Comparison:
    """B against A, item by item; runs scored on different data or under different rules are refused.

    Runs whose data files differ only by the context their items carried (the same items and gold
    answers, different retrieval settings: a run on ``retrieve``'s output against the run without
    context) are compared: that difference is what retrieval buys.
    """
    if run_a.dataset_hash and run_b.dataset_hash and run_a.dataset_hash != run_b.dataset_hash:
        same_gold = sorted((row["item_id"], row["gold"]) for row in items_a) == \
            sorted((row["item_id"], row["gold"]) for row in items_b)
        if run_a.retrieval == run_b.retrieval or not same_gold:
            raise MalpyeongError(f"runs {run_a.name!r} and {run_b.name!r} were scored on different data (dataset hashes differ)")
    if run_a.scoring_rules != run_b.scoring_rules:
        old = [run.name for run in (run_a, run_b) if not run.current_rules]
        raise MalpyeongError(
            f"runs {run_a.name!r} and {run_b.name!r} were scored under different rules ({_rules_name(run_a)}, "
            f"{_rules_name(run_b)}); rescore first: malpyeong-eval rescore {' '.join(shlex.quote(name) for name in old)}".rstrip()
        )
    ids_a, ids_b = [row["item_id"] for row in items_a], [row["item_id"] for row in items_b]
    if sorted(ids_a) != sorted(ids_b):
        raise MalpyeongError(f"runs {run_a.name!r} and {run_b.name!r} were scored on different items")
    if run_a.scoring_rules is None:
        items_a, items_b = old_rules_rows(items_a), old_rules_rows(items_b)
    by_id = {row["item_id"]: row for row in items_b}
    pairs = [(row, by_id[row["item_id"]]) for row in items_a]
    comparison = Comparison(run_a, run_b)
    points, samples = bootstrap_deltas([a for a, _ in pairs], [b for _, b in pairs])
    for metric, delta in points.items():
        drawn = samples[metric][~np.isnan(samples[metric])]  # selection: a resample without measured items has none
        low, high = np.percentile(drawn, [2.5, 97.5]) if len(drawn) else (delta, delta)
        comparison.deltas[metric] = (float(delta), float(low), float(high))
    key = "final_score" if "final_score" in comparison.deltas else next(
        (metric for metric in comparison.deltas if metric not in CONTEXT_METRICS), None)
    comparison.decided_by = key
    for a, b in pairs:
        score_a, score_b = ((item_final(a), item_final(b)) if key == "final_score" else
                            (a.get(key), b.get(key)) if key is not None else (None, None))
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
