"""The leaderboard in the terminal: the rich tables of ``malpyeong-eval leaderboard``, ``show``,
``compare``, ``rescore`` and the demo, and the one-line texts of a run's fields. Every text from the
database or a model goes in through :func:`~malpyeong_eval.report.inert` (markup escaped, control
characters visible)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from malpyeong_eval.metrics.aggregate import SCORING_RULES
from malpyeong_eval.metrics.registry import CONTEXT_METRICS, FINAL_METRICS, LABELS, SUMMARY_NAMES, labelled
from malpyeong_eval.report import format_score, inert, visible
from malpyeong_eval.table_width import NAME_FLOOR, WIDE, Column, dropped_note, fit, shorten_distinct, table_width

from .ranking_rule import RANKING_RULE
from .records import ItemRecord, RunRecord

if TYPE_CHECKING:
    from rich.console import JustifyMethod

    from .rescore import Rescored

LEADERBOARD_COLUMNS = labelled((*FINAL_METRICS, *SUMMARY_NAMES))  # the metrics of Final, Desc. Avg, Final
DIAGNOSTIC_COLUMNS = labelled(CONTEXT_METRICS)  # beside them, never in Final: selection accuracy (with its n)
OLD_RULES_MARK = " (old rules)"
ALIGNED_MARK = "†"
RESCORE_HINT = "malpyeong-eval rescore"


def hidden_runs_note(hidden: int) -> str:
    """The line under a leaderboard that hides runs scored under the old rules."""
    runs = "run" if hidden == 1 else "runs"
    return (f"{hidden} {runs} scored under the old (pre-2025) rules hidden: see them with --all-rules; "
            f"rescore them: {RESCORE_HINT}")


def selection_text(run: RunRecord) -> str:
    """A run's selection accuracy and the items it is measured on (``0.6250 (n=8)``), ``—`` without."""
    value = run.metrics.get(CONTEXT_METRICS[0])
    return format_score(value) if value is None else f"{format_score(value)} (n={run.n_selection})"


def _metric_cell(run: RunRecord, key: str, best: float | None) -> str:
    text = format_score(value := run.metrics.get(key))
    return f"[bold green]{text}[/]" if run.current_rules and value is not None and value == best else text


def _leaderboard_notes(runs: list[RunRecord]) -> list[str]:
    notes = []
    if any(not run.current_rules for run in runs):
        notes.append(f"(old rules): not scored under {SCORING_RULES}, not comparable; rescore them: {RESCORE_HINT}")
    if any(run.aligned_by_id for run in runs):
        notes.append(f"{ALIGNED_MARK} aligned by id: not the organizers' score")
    if any(run.metrics.get("final_score") is None for run in runs):
        notes.append(RANKING_RULE)
    return notes


def leaderboard_columns(runs: list[RunRecord]) -> list[Column]:
    """The leaderboard's columns (:func:`leaderboard_table`); the optional ones go at a narrow width in
    this order: date, context, n, step, selection, Desc. Avg."""
    current = [run for run in runs if run.current_rules]
    # a metric no shown run has takes no room
    shown = [(key, label) for key, label in LEADERBOARD_COLUMNS if not runs or any(run.metrics.get(key) is not None for run in runs)]
    metrics = []
    for key, label in shown:
        best = max((value for run in current if (value := run.metrics.get(key)) is not None), default=None)
        metrics.append(Column(label, [_metric_cell(run, key, best) for run in runs], "right",
                              drop=6 if key == "descriptive_avg" else None))
    selection = [Column(label, [selection_text(run) for run in runs], "right", drop=5)
                 for key, label in DIAGNOSTIC_COLUMNS if any(run.metrics.get(key) is not None for run in runs)]
    return [
        Column("#", [str(rank) for rank in range(1, len(runs) + 1)], "right"),
        Column("name", [visible(run.name) for run in runs], shrinks=True,
               marks=[ALIGNED_MARK * run.aligned_by_id + ("" if run.current_rules else OLD_RULES_MARK) for run in runs]),
        Column("step", ["" if run.step is None else str(run.step) for run in runs], "right", drop=4),
        *metrics,
        Column("n", [str(run.n) for run in runs], "right", drop=3),
        Column("context", [inert(run.context) for run in runs], drop=2),
        *selection,
        Column("date", [run.created_at.strftime("%Y-%m-%d %H:%M") for run in runs], drop=1),
    ]


def leaderboard_table(runs: list[RunRecord], title: str, width: int = WIDE) -> Group:
    """Rank, name, step, the metrics (best of each column highlighted), n, context, selection and date,
    one line per run within ``width`` cells (:func:`~malpyeong_eval.table_width.fit`: the optional
    columns go, then the names are shortened from the middle; a line under it says which went), then
    the lines that explain its marks and its order.

    "Selection" is the share of the items with a gold rule and candidates where the model named
    the gold rule (``근거: [N]``), with the number of those items; ``—`` for a run without citations.

    "context" is the context the run's items carried: the retriever and K (``bm25-mecab k=5``),
    the names of a team's own extra input fields, or ``—``.

    A run scored under the old rules is dimmed and named ``NAME (old rules)``; a run whose
    submission was aligned by id is marked ``†``; the caption says what the marks mean. The best
    values are those of runs scored under the current rules.
    """
    fitted = fit(leaderboard_columns(runs), width)
    notes = [note for note in (dropped_note(fitted.dropped), *_leaderboard_notes(runs)) if note]
    table = fitted.table(title=title)
    for index, run in enumerate(runs):
        if not run.current_rules:
            table.rows[index].style = "dim"
    return Group(table, *(Text(note) for note in notes))


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


def compare_headers(run_a: RunRecord, run_b: RunRecord, room: int) -> tuple[str, str]:
    """``compare``'s headers of A and B within ``room`` cells each: ``A: NAME`` and ``B: NAME``, the names
    shortened from the middle and kept distinct; ``A`` and ``B`` when names would keep fewer than
    :data:`~malpyeong_eval.table_width.NAME_FLOOR` cells (the lines above the table name both runs whole)."""
    if room - 3 < NAME_FLOOR:
        return "A", "B"
    short_a, short_b = shorten_distinct([visible(run_a.name), visible(run_b.name)], room - 3)
    return f"A: {short_a}", f"B: {short_b}"


def deltas_table(run_a: RunRecord, run_b: RunRecord, deltas: Mapping[str, tuple[float, float, float]], width: int = WIDE) -> Table:
    """``compare``'s table: each metric's value in A and in B, B − A and its 95% interval (green: above 0,
    red: below), one line per metric within ``width`` cells (the runs' names shortened in the headers)."""
    rows = [(metric, format_score(run_a.metrics.get(metric)), format_score(run_b.metrics.get(metric)),
             (delta, low, high)) for metric, (delta, low, high) in deltas.items()]
    intervals = [f"[{low:+.4f}, {high:+.4f}]" for *_, (_, low, high) in rows]
    fixed = table_width([max((len(row[0]) for row in rows), default=6), 0, 0, len("delta") + 2,
                         max((len(text) for text in intervals), default=6)])
    header_a, header_b = compare_headers(run_a, run_b, (width - fixed) // 2)
    table = Table(title="B vs A (paired bootstrap, 95%)")
    for header in ("metric", escape(header_a), escape(header_b), "delta", "95% CI"):
        table.add_column(header, justify="right", no_wrap=True)
    for (metric, value_a, value_b, (delta, low, high)), interval in zip(rows, intervals, strict=True):
        style = "green" if low > 0 else "red" if high < 0 else ""
        table.add_row(metric, value_a, value_b, f"[{style}]{delta:+.4f}[/]" if style else f"{delta:+.4f}", interval)
    return table


def _counted_text(item: ItemRecord) -> str:
    return "—" if item.counted is None else "yes" if item.counted else "no"


def worst_items_table(items: Sequence[ItemRecord], cited: bool) -> Table:
    """``show``'s worst items: id, type, EM, ROUGE-1, counted, what each named (``cited``: when the run recorded it), gold, prediction.
    The item's texts (what it named, its gold and its prediction) wrap within their columns; every other cell keeps to one line."""
    table = Table(title=f"worst {len(items)} items", show_lines=True)
    for header in ("id", "type", LABELS["exact_match"], LABELS["rouge1"], "counted"):
        table.add_column(header, no_wrap=True)
    for header in (*(("cited",) * cited), "gold", "prediction"):
        table.add_column(header, overflow="fold", min_width=len(header))
    for item in items:
        choice = [inert(choice_text(item))] if cited else []
        table.add_row(inert(item.item_id), inert(item.question_type), format_score(item.score("exact_match")),
                      format_score(item.score("rouge1")), _counted_text(item), *choice, inert(item.gold), inert(item.prediction))
    return table


def configuration_table(rows: Sequence[tuple[str, str]]) -> Table:
    """A run's configuration and provenance, one row per setting (:func:`~leaderboard.records.configuration_rows`)."""
    table = Table(title="configuration", show_header=False)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
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
