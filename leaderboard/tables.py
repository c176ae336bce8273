"""The leaderboard in the terminal: rich tables and the one-line texts of a run's fields, for
``malpyeong-eval leaderboard``, ``show``, ``compare`` and the demo."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.table import Table

from malpyeong_eval.metrics.aggregate import SCORING_RULES
from malpyeong_eval.metrics.registry import CONTEXT_METRICS, FINAL_METRICS, SUMMARY_NAMES, labelled
from malpyeong_eval.report import format_score, inert

if TYPE_CHECKING:
    from .store import RunRecord

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


def retrieval_text(run: RunRecord) -> str:
    """A run's retrieval settings on one line (``show``, ``compare``): ``—`` when it had no context."""
    if not run.retrieval:
        return "— (no context)"
    return ", ".join(f"{key}={', '.join(map(str, value)) if isinstance(value, list) else value}"
                     for key, value in run.retrieval.items())


def selection_text(run: RunRecord) -> str:
    """A run's selection accuracy and the items it is measured on (``0.6250 (n=8)``), ``—`` without."""
    value = run.metrics.get(CONTEXT_METRICS[0])
    return format_score(value) if value is None else f"{format_score(value)} (n={run.n_selection})"


def provenance_rows(provenance: dict | None) -> dict[str, str | None]:
    """A run's provenance as ``show``'s configuration rows, one per field (``—``: null); ``--json`` nests it."""
    if not provenance:
        return {"provenance": "not recorded (before schema 0006)"}
    rows: dict[str, str | None] = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list):
            rows[prefix] = " ".join(map(str, value))
        else:
            rows[prefix] = "—" if value is None else str(value)  # git: not a repository; a library: not installed

    walk("", provenance)
    return rows


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


def choice_text(row: dict) -> str:
    """What an item's generation named: ``[2] <title> ✓`` (✗: not the gold rule), ``none`` or ``[7] (no such candidate)``."""
    if row.get("cited") is not None:
        text = f"[{row['cited']}] {row.get('cited_title') or ''}".strip()
    elif row.get("citation") is not None:
        text = f"{row['citation']} (no such candidate)"
    else:
        text = "none"
    value = row.get(CONTEXT_METRICS[0])
    mark = "" if value is None else " ✓" if value == 1.0 else " ✗"
    return text + mark
