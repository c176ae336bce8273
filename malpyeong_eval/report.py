"""Rich tables of scores for the terminal."""

from __future__ import annotations

from collections.abc import Mapping

from rich.console import Console
from rich.markup import escape
from rich.table import Table

COLUMNS = (
    ("exact_match", "EM"),
    ("exact_match_lenient", "EM (lenient)"),
    ("rouge1", "ROUGE-1"),
    ("bertscore", "BERTScore"),
    ("bleurt", "BLEURT"),
    ("descriptive_avg", "Desc. Avg"),
    ("final_score", "Final"),
)


def make_console(stderr: bool = False) -> Console:
    """A console that keeps tables whole when the output is a file or a pipe (no 80-column cut)."""
    console = Console(stderr=stderr)
    if not console.is_terminal:
        console = Console(stderr=stderr, width=200)
    return console


def format_score(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def scores_table(overall: Mapping[str, float | None], n: int, by_type: Mapping[str, Mapping], title: str) -> Table:
    """Overall scores, then one row per question type; columns of metrics not computed are left out."""
    shown = [(key, label) for key, label in COLUMNS if overall.get(key) is not None]
    table = Table(title=title)
    table.add_column("group")
    table.add_column("n", justify="right")
    for key, label in shown:
        table.add_column(label, justify="right", style="bold" if key == "final_score" else None)
    table.add_row("overall", str(n), *(format_score(overall.get(key)) for key, _ in shown), style="bold")
    for question_type, row in by_type.items():
        table.add_row(escape(question_type), str(row["n"]), *(format_score(row.get(key)) for key, _ in shown))
    return table
