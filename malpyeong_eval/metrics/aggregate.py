"""From per-item scores to the contest's table: means, Descriptive Avg and Final Score."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from statistics import fmean

DESCRIPTIVE = ("rouge1", "bertscore", "bleurt")
PER_ITEM = ("exact_match", "exact_match_lenient", *DESCRIPTIVE)
SUMMARY_KEYS = (*PER_ITEM, "descriptive_avg", "final_score")


def descriptive_avg(rouge1: float, bertscore: float, bleurt: float) -> float:
    """Mean of the three reason metrics."""
    return (rouge1 + bertscore + bleurt) / 3


def final_score(exact_match: float, descriptive: float) -> float:
    """Mean of Exact Match and Descriptive Avg."""
    return (exact_match + descriptive) / 2


def item_final_score(row: Mapping[str, float | None]) -> float | None:
    """Final Score of one item, (EM + Descriptive Avg) / 2; its mean over items is the run's Final."""
    parts = [row.get(key) for key in DESCRIPTIVE]
    if row.get("exact_match") is None or None in parts:
        return None
    return final_score(row["exact_match"], descriptive_avg(*parts))


def summarize(items: Iterable[Mapping[str, float | None]]) -> dict[str, float | None]:
    """Mean of each per-item metric; Descriptive Avg and Final only when all their parts exist.

    The strict Exact Match enters Final Score; the lenient one never does.
    """
    rows = list(items)
    summary: dict[str, float | None] = {}
    for key in PER_ITEM:
        values = [row[key] for row in rows if row.get(key) is not None]
        summary[key] = fmean(values) if values and len(values) == len(rows) else None
    parts = [summary[key] for key in DESCRIPTIVE]
    summary["descriptive_avg"] = descriptive_avg(*parts) if None not in parts else None
    em, desc = summary["exact_match"], summary["descriptive_avg"]
    summary["final_score"] = final_score(em, desc) if em is not None and desc is not None else None
    return summary
