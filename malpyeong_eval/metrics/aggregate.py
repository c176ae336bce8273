"""From per-item scores to the contest's table, the organizers' way (malpyeong_eval/docs/scoring.md §3).

- Exact Match (and the lenient diagnostic): mean over **all** items.
- ROUGE-1, BERTScore, BLEURT: mean over the **counted** items only, those whose gold
  reason and predicted reason are both non-empty; with no counted item they are 0.
- Descriptive Avg = mean of the three (0 with no counted item); Final = (EM + Desc) / 2.
- Selection accuracy (a diagnostic, never in Final): mean over the items where it is measured
  (value not NaN / ``None``: a gold rule and candidates); ``None`` (NaN per resample) with none.

:func:`aggregate` is the one implementation of these rules. It works on the last axis of
its arrays, so the same code gives one table (arrays of shape ``(n,)``) or one table per
bootstrap resample (shape ``(resamples, n)``).

Which metric is which comes from the registry (:mod:`.registry`): its clause metrics average over
all items, its reason metrics over the counted ones, Descriptive Avg is the mean of the reason
metrics in Final, and Final the mean of the clause metric in Final (EM) and Descriptive Avg.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from .registry import (
    CLAUSE_METRICS, COLUMN_NAMES, CONTEXT_METRICS, DESCRIPTIVE, FINAL_CLAUSE_METRICS, METRIC_NAMES, REASON_METRICS,
)

SCORING_RULES = "organizers-2025"  # the version of these rules; part of every metric's configuration string
PER_ITEM = METRIC_NAMES  # the per-item metrics
SUMMARY_KEYS = COLUMN_NAMES  # the per-item metrics' means, then descriptive_avg and final_score
_FINAL_CLAUSE = FINAL_CLAUSE_METRICS[0]  # exact_match

__all__ = ["CLAUSE_METRICS", "CONTEXT_METRICS", "DESCRIPTIVE", "PER_ITEM", "REASON_METRICS", "SCORING_RULES", "SUMMARY_KEYS", "aggregate",
           "descriptive_avg", "final_score", "item_final_score", "summarize"]


def descriptive_avg(*parts):
    """Mean of the reason metrics in Final (ROUGE-1, BERTScore, BLEURT), in registry order."""
    return sum(parts) / len(parts)


def final_score(exact_match, descriptive):
    """Mean of Exact Match and Descriptive Avg."""
    return (exact_match + descriptive) / 2


def aggregate(columns: Mapping[str, np.ndarray | None], counted: np.ndarray) -> dict[str, Any]:
    """The contest's means over the last axis; a metric given as ``None`` (not computed) stays ``None``.

    ``counted`` is boolean; values of items that are not counted are ignored (they may be NaN).

    >>> aggregate({"exact_match": np.array([1.0, 0.0]), "rouge1": np.array([0.5, 0.0])}, np.array([True, False]))["rouge1"]
    0.5
    """
    counted = np.asarray(counted, dtype=bool)
    n_counted = counted.sum(axis=-1)
    summary: dict[str, Any] = {}
    for key in CLAUSE_METRICS:
        values = columns.get(key)
        summary[key] = None if values is None else np.asarray(values, dtype=float).mean(axis=-1)
    for key in REASON_METRICS:
        values = columns.get(key)
        if values is None:
            summary[key] = None
            continue
        total = np.where(counted, np.asarray(values, dtype=float), 0.0).sum(axis=-1)
        summary[key] = np.where(n_counted > 0, total / np.maximum(n_counted, 1), 0.0)
    for key in CONTEXT_METRICS:
        values = columns.get(key)
        if values is None:
            summary[key] = None
            continue
        values = np.asarray(values, dtype=float)
        measured = ~np.isnan(values)
        total, n_measured = np.where(measured, values, 0.0).sum(axis=-1), measured.sum(axis=-1)
        mean = np.where(n_measured > 0, total / np.maximum(n_measured, 1), np.nan)
        summary[key] = mean if np.ndim(mean) else (None if np.isnan(mean) else float(mean))
    parts = [summary[key] for key in DESCRIPTIVE]
    summary["descriptive_avg"] = None if any(part is None for part in parts) else descriptive_avg(*parts)
    em, desc = summary[_FINAL_CLAUSE], summary["descriptive_avg"]
    summary["final_score"] = final_score(em, desc) if em is not None and desc is not None else None
    return {key: value if value is None or np.ndim(value) else float(value) for key, value in summary.items()}


def summarize(items: Iterable[Mapping[str, Any]]) -> dict[str, float | None]:
    """The contest's table from per-item rows (keys of :data:`PER_ITEM` and ``counted``).

    A metric is computed when every row has it (EM) or every counted row has it (the reason
    metrics, which are only diagnostics on the other rows), a context metric when any row has it
    (the rows without are not measured); otherwise it is ``None``.
    """
    rows = list(items)
    if not rows:
        return {key: None for key in SUMMARY_KEYS}
    counted = np.array([bool(row.get("counted")) for row in rows])
    columns: dict[str, np.ndarray | None] = {}
    for key in PER_ITEM:
        needed = rows if key in CLAUSE_METRICS else [] if key in CONTEXT_METRICS else [row for row, c in zip(rows, counted, strict=True) if c]
        present = [row.get(key) is not None for row in rows]
        if any(row.get(key) is None for row in needed) or not any(present):
            columns[key] = None
        else:
            columns[key] = np.array([np.nan if row.get(key) is None else row[key] for row in rows], dtype=float)
    return aggregate(columns, counted)


def item_final_score(row: Mapping[str, Any]) -> float | None:
    """One item's (EM + Descriptive Avg) / 2 with the reason part 0 when the item is not counted.

    Not the organizers' number (they average the reason metrics over counted items only): an
    item-level score for ranking items and for rewards, where skipping the reason must not pay.
    """
    em, parts = row.get(_FINAL_CLAUSE), [row.get(key) for key in DESCRIPTIVE]
    if em is None or None in parts:
        return None
    return final_score(em, descriptive_avg(*parts) if row.get("counted") else 0.0)
