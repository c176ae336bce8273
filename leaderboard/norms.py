"""Scores by norm on the leaderboard: a run's breakdown from its stored items, as ``show``, ``serve``,
``leaderboard --by`` and ``export --by`` give it (``compare``'s paired bootstrap per group is
:func:`leaderboard.compare.norm_comparison`).

The grouping and the per-group tables are the core's (:mod:`malpyeong_eval.norms`), run on the items
the store reads back (their ``gold_article``). A run scored under the old rules counts every item in
the reason metrics, as everywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.table import Table

from malpyeong_eval.norms import NO_RULE, NormBreakdown, norm_breakdown
from malpyeong_eval.report import format_score, inert, scores_table

from .compare import old_rules_items
from .records import ItemRecord, RunRecord

__all__ = ["norm_matrix", "norm_rows", "norm_table", "run_norms"]



def run_norms(run: RunRecord, items: Sequence[ItemRecord], by: str = "category") -> NormBreakdown:
    """A run's scores by norm ``by`` category or rule, from its stored items."""
    scored = old_rules_items(items) if run.scoring_rules is None else items
    return norm_breakdown((item.to_json() for item in scored), by)


def _groups(breakdown: NormBreakdown) -> dict[str, Mapping[str, Any]]:
    rows: dict[str, Mapping[str, Any]] = {inert(str(group.norm)): group.to_json() for group in breakdown.groups}
    if breakdown.without_rule is not None:
        rows[NO_RULE] = breakdown.without_rule.to_json()
    return rows


def norm_table(run: RunRecord, breakdown: NormBreakdown) -> Table:
    """``show``'s scores by norm: the run overall, then one row per category (or rule), then the items without a rule."""
    return scores_table(run.metrics, run.n, _groups(breakdown), title=f"by norm {breakdown.by}", n_counted=run.n_counted,
                        caption=breakdown.note)


def norm_matrix(runs: Sequence[RunRecord], breakdowns: Mapping[int, NormBreakdown]) -> Table:
    """``leaderboard --by``'s table: one row per run, one column per group, each cell the group's Final
    (EM where the run has no Final) and its items."""
    names = sorted({group.norm for breakdown in breakdowns.values() for group in breakdown.groups if group.norm})
    names += [NO_RULE] if any(breakdown.without_rule for breakdown in breakdowns.values()) else []
    by = next(iter(breakdowns.values())).by if breakdowns else "category"
    table = Table(title=f"Final by norm {by} (EM where a run has no Final; n items)")
    table.add_column("name", overflow="fold", min_width=12)
    for name in names:
        table.add_column(inert(name), justify="right", overflow="fold")
    for run in runs:
        breakdown = breakdowns[run.id]
        cells = {group.norm: group for group in breakdown.groups}
        if breakdown.without_rule is not None:
            cells[NO_RULE] = breakdown.without_rule
        row = []
        for name in names:
            group = cells.get(name)
            if group is None:
                row.append("")
                continue
            final = group.metrics.get("final_score")
            row.append(f"{format_score(final if final is not None else group.metrics.get('exact_match'))} ({group.n})")
        table.add_row(inert(run.name), *row)
    return table


def norm_rows(run: RunRecord, breakdown: NormBreakdown) -> list[dict[str, Any]]:
    """``export --by``'s rows of one run: one per group (``norm`` null: the items without a rule)."""
    groups = [*breakdown.groups, *([breakdown.without_rule] if breakdown.without_rule else [])]
    return [{"run_id": run.id, "run": run.name, "by": breakdown.by, **group.to_json()} for group in groups]
