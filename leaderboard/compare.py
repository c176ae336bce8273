"""Comparing two runs on the same items: deltas with paired bootstrap confidence intervals.

Each resample draws item indices with replacement (the same indices for both runs, items paired
by id) and recomputes both runs' tables the organizers' way with
:func:`malpyeong_eval.metrics.aggregate.aggregate`: EM over all resampled items, the reason
metrics over the resampled items that are counted in each run. The point estimate is the
difference of the two runs' tables on all items, which are their recorded metrics.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from malpyeong_eval.display import RichDisplay
from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.metrics.aggregate import PER_ITEM, aggregate, summarize
from malpyeong_eval.metrics.registry import CONTEXT_METRICS, DESCRIPTIVE, FINAL_CLAUSE_METRICS, FINAL_METRICS, LABELS, SUMMARY_NAMES
from malpyeong_eval.norms import NO_RULE, group_by_norm
from malpyeong_eval.report import inert
from malpyeong_eval.report import visible

from .ranking_rule import describe, item_standing
from .records import ItemRecord, RunRecord, retrieval_text
from .tables import RESCORE_HINT, deltas_table


DELTA_METRICS = (*FINAL_METRICS, *SUMMARY_NAMES, *CONTEXT_METRICS)  # Final's metrics, Desc. Avg, Final; selection
RESAMPLES = 2000
SEED = 0
_CHUNK = 250  # resamples gathered at once: bounds the memory of (resamples, items) arrays


def old_rules_items(items: Sequence[ItemRecord]) -> list[ItemRecord]:
    """Items of a run scored under the old rules (``counted`` unknown): the old rules averaged the
    reason metrics over every item, which is ``aggregate`` with every item counted."""
    return [replace(item, counted=True) if item.counted is None else item for item in items]


def run_columns(rows: Sequence[Mapping[str, Any]]) -> tuple[dict[str, np.ndarray | None], np.ndarray]:
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
    rows_a: Sequence[Mapping[str, Any]], rows_b: Sequence[Mapping[str, Any]], resamples: int = RESAMPLES, seed: int = SEED
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


def deltas_json(deltas: Mapping[str, tuple[float, float, float]]) -> dict[str, dict[str, float]]:
    """Per metric, ``{"delta", "ci_low", "ci_high"}`` (``compare --json``)."""
    return {key: {"delta": delta, "ci_low": low, "ci_high": high} for key, (delta, low, high) in deltas.items()}


@dataclass(frozen=True)
class EmFlip:
    """An item whose Exact Match differs between the two runs: the gold and each run's answer clause."""

    item_id: str
    gold: str
    a: str
    b: str
    em_a: float
    em_b: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Comparison(RichDisplay):
    """B against A: per-metric deltas with paired bootstrap 95% intervals, the items won, lost and
    tied by each item's score (:attr:`decided_by`), the first EM flips, and the deltas by norm
    (``by_norm``: :class:`NormComparison`, each group with its own intervals).

    ``to_json()`` is ``compare --json``; in a terminal or a notebook it shows as ``compare`` prints it.
    """

    run_a: RunRecord
    run_b: RunRecord
    deltas: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # metric -> (delta, low, high)
    won: int = 0
    lost: int = 0
    tied: int = 0
    decided_by: str | None = None  # the item scores that decide won and lost (decided_by_key)
    deciding: tuple[str, ...] = ()  # those metrics (deciding_metrics)
    em_flips: list[EmFlip] = field(default_factory=list)
    by_norm: NormComparison | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_a": self.run_a.name,
            "run_b": self.run_b.name,
            "retrieval_a": self.run_a.retrieval,
            "retrieval_b": self.run_b.retrieval,
            "scoring_rules": self.run_a.scoring_rules,
            "resamples": RESAMPLES,
            "seed": SEED,
            "deltas": deltas_json(self.deltas),
            "won": self.won,
            "lost": self.lost,
            "tied": self.tied,
            "decided_by": self.decided_by,
            "em_flips": [flip.to_json() for flip in self.em_flips],
            "by_norm": self.by_norm.to_json() if self.by_norm is not None else None,
        }

    def tally_line(self) -> str:
        """``items won W, lost L, tied T (by each item's …)``: the ranking rule on each item."""
        why = "" if "final_score" in self.deciding else ": the runs have no Final Score (not scored with all four metrics)"
        return f"items won {self.won}, lost {self.lost}, tied {self.tied} (by each item's {describe(self.deciding)}{why})"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        a, b = self.run_a, self.run_b
        lines: list[RenderableType] = [Text(visible(f"{label}: context of {run.name}: {retrieval_text(run.retrieval)}"))
                                       for label, run in (("A", a), ("B", b))]  # what each run's items carried: what retrieval buys is the delta
        lines.append(deltas_table(a, b, self.deltas, width=options.max_width))
        if a.scoring_rules is None:
            lines.append(Text(f"both runs were scored under the old (pre-2025) rules; rescore them: {RESCORE_HINT}"))
        lines.append(Text(self.tally_line()))
        lines.extend(Text(visible(f"EM flip {flip.item_id}: {flip.em_a:.0f} → {flip.em_b:.0f}  A: {flip.a[:80]}  "
                                  f"B: {flip.b[:80]}")) for flip in self.em_flips)
        if self.by_norm is not None:
            lines.append(self.by_norm if self.by_norm.groups else
                         Text("by norm: no item carries a rule (output.article); malpyeong-eval label writes rules into a dev set"))
        yield from lines


def _rules_name(run: RunRecord) -> str:
    return run.scoring_rules or "old pre-2025 rules"


def _check_same_data(run_a: RunRecord, items_a: Sequence[ItemRecord], run_b: RunRecord, items_b: Sequence[ItemRecord]) -> None:
    """Runs on different data files are refused, unless the files differ only by the context their
    items carried (the same items and gold answers, other retrieval settings)."""
    if not (run_a.dataset_hash and run_b.dataset_hash) or run_a.dataset_hash == run_b.dataset_hash:
        return
    same_gold = sorted((item.item_id, item.gold) for item in items_a) == sorted((item.item_id, item.gold) for item in items_b)
    if run_a.retrieval == run_b.retrieval or not same_gold:
        raise MalpyeongError(f"runs {run_a.name!r} and {run_b.name!r} were scored on different data (dataset hashes differ)")


def check_comparable(run_a: RunRecord, items_a: Sequence[ItemRecord], run_b: RunRecord, items_b: Sequence[ItemRecord]) -> None:
    """Refuse two runs scored on different data, under different rules or on different items."""
    _check_same_data(run_a, items_a, run_b, items_b)
    if run_a.scoring_rules != run_b.scoring_rules:
        old = [run.name for run in (run_a, run_b) if not run.current_rules]
        raise MalpyeongError(
            f"runs {run_a.name!r} and {run_b.name!r} were scored under different rules ({_rules_name(run_a)}, "
            f"{_rules_name(run_b)}); rescore first: malpyeong-eval rescore {' '.join(shlex.quote(name) for name in old)}".rstrip()
        )
    if sorted(item.item_id for item in items_a) != sorted(item.item_id for item in items_b):
        raise MalpyeongError(f"runs {run_a.name!r} and {run_b.name!r} were scored on different items")


Pairs = list[tuple[ItemRecord, ItemRecord]]


def paired_deltas(pairs: Pairs) -> dict[str, tuple[float, float, float]]:
    """Per metric both runs have: (B − A on all items, the 2.5th and the 97.5th percentile of the resamples)."""
    return interval_deltas([a.to_json() for a, _ in pairs], [b.to_json() for _, b in pairs])


def interval_deltas(rows_a: Sequence[Mapping[str, Any]], rows_b: Sequence[Mapping[str, Any]]) -> dict[str, tuple[float, float, float]]:
    """:func:`paired_deltas` of item rows (``rows_a[i]`` and ``rows_b[i]`` the same item; the keys of
    :func:`bootstrap_deltas`): per metric both have, (B − A, 2.5th and 97.5th percentile)."""
    points, samples = bootstrap_deltas(rows_a, rows_b)
    deltas = {}
    for metric, delta in points.items():
        drawn = samples[metric][~np.isnan(samples[metric])]  # selection: a resample without measured items has none
        low, high = np.percentile(drawn, [2.5, 97.5]) if len(drawn) else (delta, delta)
        deltas[metric] = (float(delta), float(low), float(high))
    return deltas


def deciding_metrics(deltas: Mapping[str, tuple[float, float, float]]) -> tuple[str, ...]:
    """The metrics both runs have that decide won and lost (:mod:`~leaderboard.ranking_rule`'s rule on
    each item): Final where both have it, else their reason metrics, then EM."""
    if "final_score" in deltas:
        return ("final_score", *DESCRIPTIVE, *FINAL_CLAUSE_METRICS)
    return tuple(metric for metric in (*DESCRIPTIVE, *FINAL_CLAUSE_METRICS) if metric in deltas)


def decided_by_key(metrics: Sequence[str]) -> str | None:
    """``compare --json``'s ``decided_by``: ``final_score``, or the metrics in the rule's order
    (``rouge1,exact_match``; a mean of several reason metrics ``mean(rouge1,bertscore),exact_match``)."""
    if "final_score" in metrics:
        return "final_score"
    reasons = [metric for metric in metrics if metric in DESCRIPTIVE]
    parts = [metric for metric in metrics if metric not in DESCRIPTIVE]
    if len(reasons) > 1:
        parts.insert(0, f"mean({','.join(reasons)})")
    elif reasons:
        parts.insert(0, reasons[0])
    return ",".join(parts) or None


def tally(pairs: Pairs, metrics: Sequence[str]) -> tuple[int, int, int]:
    """Items B won, lost and tied against A, each item's two standings compared on ``metrics``
    (:func:`~leaderboard.ranking_rule.item_standing`); no metric: every item tied."""
    won = lost = 0
    if metrics:
        for a, b in pairs:
            standing_a, standing_b = (item_standing(item.scores, item.counted, metrics) for item in (a, b))
            if standing_a != standing_b:
                won, lost = (won + 1, lost) if standing_b > standing_a else (won, lost + 1)
    return won, lost, len(pairs) - won - lost


def em_flips(pairs: Pairs, limit: int) -> list[EmFlip]:
    """The first ``limit`` items whose Exact Match differs, in A's order."""
    flips = []
    for a, b in pairs:
        em_a, em_b = a.score("exact_match"), b.score("exact_match")
        if em_a is not None and em_b is not None and em_a != em_b:
            flips.append(EmFlip(a.item_id, a.gold, a.answer_clause, b.answer_clause, em_a, em_b))
    return flips[:limit]


# compare's by-norm table shows these of the metrics both runs have (every metric is in --json)
HEADLINE = ("final_score", "exact_match", "descriptive_avg", "rouge1")


@dataclass(frozen=True)
class NormDeltas:
    """B − A on one group's items (``norm`` ``None``: the items without a rule): per metric both runs
    have, (delta, 2.5th, 97.5th percentile of the paired bootstrap)."""

    norm: str | None
    n: int
    deltas: dict[str, tuple[float, float, float]]

    def to_json(self) -> dict[str, Any]:
        return {"norm": self.norm, "n": self.n, "deltas": deltas_json(self.deltas)}


@dataclass(frozen=True)
class NormComparison:
    """``compare``'s deltas by norm ``by`` category or rule, each with its paired bootstrap intervals."""

    by: str
    groups: tuple[NormDeltas, ...]
    without_rule: NormDeltas | None

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "groups": [group.to_json() for group in self.groups],
                "without_rule": self.without_rule.to_json() if self.without_rule else None}

    def __rich__(self) -> RenderableType:
        table = Table(title=f"by norm {self.by} (paired bootstrap, 95%; every metric in --json)")
        for header in ("norm", "n", "metric", "delta", "95% CI"):
            table.add_column(header, justify="left" if header in ("norm", "metric") else "right", overflow="fold")
        for group in (*self.groups, *([self.without_rule] if self.without_rule else [])):
            shown = [metric for metric in HEADLINE if metric in group.deltas][:3]
            for index, metric in enumerate(shown):
                delta, low, high = group.deltas[metric]
                style = "green" if low > 0 else "red" if high < 0 else ""
                table.add_row(inert(NO_RULE if group.norm is None else group.norm) if index == 0 else "",
                              str(group.n) if index == 0 else "", LABELS.get(metric, metric),
                              f"[{style}]{delta:+.4f}[/]" if style else f"{delta:+.4f}", f"[{low:+.4f}, {high:+.4f}]",
                              end_section=index == len(shown) - 1)
        parts: list[RenderableType] = [table]
        if self.without_rule is not None:
            parts.append(Text(f"{self.without_rule.n} items carry no rule (output.article): compared apart, as {NO_RULE}"))
        return Group(*parts)


def norm_comparison(pairs: Pairs, by: str = "category") -> NormComparison:
    """The paired deltas of each group of ``pairs`` (an item's rule: A's, else B's)."""
    groups, without = group_by_norm(pairs, lambda pair: pair[0].gold_article or pair[1].gold_article, by)
    return NormComparison(by, tuple(NormDeltas(name, len(members), paired_deltas(members)) for name, members in groups.items()),
                          NormDeltas(None, len(without), paired_deltas(without)) if without else None)


def compare_runs(
    run_a: RunRecord, items_a: Sequence[ItemRecord], run_b: RunRecord, items_b: Sequence[ItemRecord], *, flips: int = 5,
    by: str | None = "category",
) -> Comparison:
    """B against A, item by item, and by norm ``by`` category or rule (``None``: not by norm); runs
    scored on different data or under different rules are refused.

    Runs whose data files differ only by the context their items carried (the same items and gold
    answers, different retrieval settings: a run on ``retrieve``'s output against the run without
    context) are compared: that difference is what retrieval buys.
    """
    check_comparable(run_a, items_a, run_b, items_b)
    if run_a.scoring_rules is None:
        items_a, items_b = old_rules_items(items_a), old_rules_items(items_b)
    by_id = {item.item_id: item for item in items_b}
    pairs = [(item, by_id[item.item_id]) for item in items_a]
    deltas = paired_deltas(pairs)
    deciding = deciding_metrics(deltas)
    won, lost, tied = tally(pairs, deciding)
    return Comparison(run_a, run_b, deltas=deltas, won=won, lost=lost, tied=tied, decided_by=decided_by_key(deciding),
                      deciding=deciding, em_flips=em_flips(pairs, flips),
                      by_norm=None if by is None else norm_comparison(pairs, by))
