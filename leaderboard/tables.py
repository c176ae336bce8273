"""The leaderboard in the terminal: the rich tables of ``malpyeong-eval leaderboard``, ``show``,
``compare``, ``rescore`` and the demo, and the one-line texts of a run's fields. Every text from the
database or a model goes in through :func:`~malpyeong_eval.report.inert` (markup escaped, control
characters visible)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.table import Table

from malpyeong_eval.metrics.aggregate import SCORING_RULES
from malpyeong_eval.metrics.registry import CONTEXT_METRICS, FINAL_METRICS, LABELS, SUMMARY_NAMES, labelled
from malpyeong_eval.report import format_score, inert

from .records import ItemRecord, RunRecord

if TYPE_CHECKING:
    from rich.console import JustifyMethod

    from .rescore import Rescored

LEADERBOARD_COLUMNS = labelled((*FINAL_METRICS, *SUMMARY_NAMES))  # the metrics of Final, Desc. Avg, Final
DIAGNOSTIC_COLUMNS = labelled(CONTEXT_METRICS)  # beside them, never in Final: selection accuracy (with its n)
OLD_RULES_MARK = " (old rules)"
ALIGNED_MARK = "†"
RESCORE_HINT = "malpyeong-eval rescore"
RANKING_NOTE = ("ranked by Final Score; runs without one (not scored with all four metrics) come after, "
                "by Desc. Avg, else by EM")


def hidden_runs_note(hidden: int) -> str:
    """The line under a leaderboard that hides runs scored under the old rules."""
    runs = "run" if hidden == 1 else "runs"
    return (f"{hidden} {runs} scored under the old (pre-2025) rules hidden: see them with --all-rules; "
            f"rescore them: {RESCORE_HINT}")


def selection_text(run: RunRecord) -> str:
    """A run's selection accuracy and the items it is measured on (``0.6250 (n=8)``), ``—`` without."""
    value = run.metrics.get(CONTEXT_METRICS[0])
    return format_score(value) if value is None else f"{format_score(value)} (n={run.n_selection})"


def leaderboard_table(runs: list[RunRecord], title: str) -> Table:
    """Rank, name, step, the metrics (best of each column highlighted), n, context, selection and date.

    "Selection" is the share of the items with a gold rule and candidates where the model named
    the gold rule (``근거: [N]``), with the number of those items; ``—`` for a run without citations.

    "context" is the context the run's items carried: the retriever and K (``bm25-mecab k=5``),
    the names of a team's own extra input fields, or ``—``.

    A run scored under the old rules is dimmed and named ``NAME (old rules)``; a run whose
    submission was aligned by id is marked ``†``; the caption says what the marks mean. The best
    values are those of runs scored under the current rules.
    """
    current = [run for run in runs if run.current_rules]
    best = {
        key: max((value for run in current if (value := run.metrics.get(key)) is not None), default=None)
        for key, _ in LEADERBOARD_COLUMNS
    }
    notes = []
    if any(not run.current_rules for run in runs):
        notes.append(f"(old rules): scored before the {SCORING_RULES} rules, not comparable; rescore them: {RESCORE_HINT}")
    if any(run.aligned_by_id for run in runs):
        notes.append(f"{ALIGNED_MARK} aligned by id: not the organizers' score")
    if any(run.metrics.get("final_score") is None for run in runs):
        notes.append(RANKING_NOTE)
    # a metric no shown run has takes no room; names and headers fold instead of being cut to "…"
    shown = [(key, label) for key, label in LEADERBOARD_COLUMNS if not runs or any(run.metrics.get(key) is not None for run in runs)]
    selection_columns = [(key, label) for key, label in DIAGNOSTIC_COLUMNS if any(run.metrics.get(key) is not None for run in runs)]
    table = Table(title=title, caption="\n".join(notes) or None)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("name", overflow="fold", min_width=12)
    table.add_column("step", justify="right", no_wrap=True)
    for _, label in shown:
        table.add_column(label, justify="right", no_wrap=True, overflow="fold")
    table.add_column("n", justify="right", no_wrap=True)
    table.add_column("context", overflow="fold")
    for _, label in selection_columns:
        table.add_column(label, justify="right", no_wrap=True)
    table.add_column("date", overflow="fold")
    for rank, run in enumerate(runs, start=1):
        cells = []
        for key, _ in shown:
            value = run.metrics.get(key)
            text = format_score(value)
            best_value = run.current_rules and value is not None and value == best[key]
            cells.append(f"[bold green]{text}[/]" if best_value else text)
        name = inert(run.name) + (ALIGNED_MARK if run.aligned_by_id else "") + ("" if run.current_rules else OLD_RULES_MARK)
        table.add_row(
            str(rank), name, "" if run.step is None else str(run.step), *cells, str(run.n), inert(run.context),
            *([selection_text(run)] if selection_columns else []),
            run.created_at.strftime("%Y-%m-%d %H:%M"), style=None if run.current_rules else "dim",
        )
    return table


def choice_text(item: ItemRecord) -> str:
    """What an item's generation named: ``[2] <title> ✓`` (✗: not the gold rule), ``none`` or ``[7] (no such candidate)``."""
    if item.cited is not None:
        text = f"[{item.cited}] {item.cited_title or ''}".strip()
    elif item.citation is not None:
        text = f"{item.citation} (no such candidate)"
    else:
        text = "none"
    value = item.score(CONTEXT_METRICS[0])
    mark = "" if value is None else " ✓" if value == 1.0 else " ✗"
    return text + mark


def deltas_table(run_a: RunRecord, run_b: RunRecord, deltas: Mapping[str, tuple[float, float, float]]) -> Table:
    """``compare``'s table: each metric's value in A and in B, B − A and its 95% interval (green: above 0, red: below)."""
    table = Table(title=inert(f"{run_b.name} vs {run_a.name} (paired bootstrap, 95%)"))
    for header in ("metric", inert(run_a.name), inert(run_b.name), "delta", "95% CI"):
        table.add_column(header, justify="right")
    for metric, (delta, low, high) in deltas.items():
        style = "green" if low > 0 else "red" if high < 0 else ""
        table.add_row(metric, format_score(run_a.metrics.get(metric)), format_score(run_b.metrics.get(metric)),
                      f"[{style}]{delta:+.4f}[/]" if style else f"{delta:+.4f}", f"[{low:+.4f}, {high:+.4f}]")
    return table


def _counted_text(item: ItemRecord) -> str:
    return "—" if item.counted is None else "yes" if item.counted else "no"


def worst_items_table(items: Sequence[ItemRecord], cited: bool) -> Table:
    """``show``'s worst items: id, type, EM, ROUGE-1, counted, what each named (``cited``: when the run recorded it), gold, prediction."""
    table = Table(title=f"worst {len(items)} items", show_lines=True)
    for header in ("id", "type", LABELS["exact_match"], LABELS["rouge1"], "counted", *(("cited",) * cited), "gold", "prediction"):
        table.add_column(header, overflow="fold")
    for item in items:
        choice = [inert(choice_text(item))] if cited else []
        table.add_row(inert(item.item_id), inert(item.question_type), format_score(item.score("exact_match")),
                      format_score(item.score("rouge1")), _counted_text(item), *choice, inert(item.gold), inert(item.prediction))
    return table


def configuration_table(rows: Sequence[tuple[str, str]]) -> Table:
    """A run's configuration and provenance, one row per setting (:func:`~leaderboard.records.configuration_rows`)."""
    table = Table(title="configuration", show_header=False)
    for key, value in rows:
        table.add_row(inert(key), inert(value))
    return table


RESCORED_COLUMNS: tuple[tuple[str, JustifyMethod], ...] = (
    ("#", "right"), ("run", "left"), ("metrics", "left"), (LABELS["final_score"], "right"),
    (LABELS["exact_match"], "right"), (LABELS["rouge1"], "right"), ("counted", "right"))


def rescored_table(rescored: Sequence[Rescored], title: str) -> Table:
    """``rescore``'s table: each run's metrics, and its Final, EM and ROUGE-1 before → after."""
    table = Table(title=title)
    for header, justify in RESCORED_COLUMNS:
        table.add_column(header, justify=justify)
    for entry in rescored:
        def change(key: str) -> str:
            return f"{format_score(entry.before.metrics.get(key))} → {format_score(entry.after.metrics.get(key))}"

        table.add_row(str(entry.after.id), inert(entry.after.name), ",".join(entry.metrics), change("final_score"),
                      change("exact_match"), change("rouge1"), f"{entry.after.n_counted}/{entry.after.n}")
    return table
