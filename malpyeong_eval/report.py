"""Rich tables of scores for the terminal."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .metrics.registry import COLUMN_NAMES, CONTEXT_METRICS, REASON_METRICS, labelled
from .table_width import WIDE, Column, dropped_note, fit

# C0 controls but tab and newline, DEL, C1 controls, bidirectional overrides and isolates
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """``text`` safe for a terminal: every control character (an escape sequence's ESC, a carriage
    return, a bidi override) written out as its escape (``\\x1b``), so model output cannot drive it."""
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), text)


def json_text(value: object) -> str:
    """``value`` as strict JSON for ``--json`` (indented, UTF-8 as is): a NaN or infinity stored by an older
    version becomes ``null``, never the bare ``NaN`` no JSON parser reads."""
    import json

    loose = json.dumps(value, ensure_ascii=False, default=str)
    strict = json.loads(loose, parse_constant=lambda _: None)
    return json.dumps(strict, ensure_ascii=False, indent=2, allow_nan=False)


def inert(text: object) -> str:
    """Text from a file, a model or the database as a rich cell: control characters visible, markup escaped."""
    return escape(visible(str(text)))

COLUMNS = labelled(COLUMN_NAMES)  # (key, label): every metric of the registry, then Desc. Avg and Final


PIPED_WIDTH = 100  # the width of output to a file or a pipe when no terminal says its own


def piped_width() -> int:
    """The width of output that goes to a file or a pipe: ``$COLUMNS``, else the width of the terminal
    the command runs in (its stderr's or stdin's), else :data:`PIPED_WIDTH`."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    for stream in (sys.stderr, sys.stdin):
        try:
            if stream is not None and stream.isatty():
                return os.get_terminal_size(stream.fileno()).columns
        except (AttributeError, OSError, ValueError):  # a replaced stream without a file descriptor
            continue
    return PIPED_WIDTH


def make_console(stderr: bool = False, *, wide: bool = False) -> Console:
    """A console as wide as the terminal; to a file or a pipe, as wide as :func:`piped_width` says (the
    tables fit it); ``wide``: wider than any table (every column, names whole)."""
    if wide:
        return Console(stderr=stderr, width=WIDE)
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=piped_width())




def format_score(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


SCORE_DROPS = {"exact_match_lenient": 3, "context_selection": 4, "descriptive_avg": 5}  # the scores a narrow table leaves out, first to last


def scores_table(
    overall: Mapping[str, float | None],
    n: int,
    by_type: Mapping[str, Mapping],
    title: str,
    *,
    n_counted: int | None = None,
    caption: str | None = None,
    width: int | None = None,
) -> Table:
    """Overall scores, then one row per question type; columns of metrics not computed are left out.

    ``counted``: the items that entered ROUGE-1, BERTScore and BLEURT (both reasons non-empty).
    ``width``: the table keeps within it, one line per row, leaving out (and saying so) first the
    ``counted`` column, then EM (lenient), Selection and Desc. Avg.
    """
    rows = [("overall", n, n_counted, overall), *((inert(kind), row["n"], row.get("n_counted"), row) for kind, row in by_type.items())]
    columns = [Column("group", [row[0] for row in rows]), Column("n", [str(row[1]) for row in rows], "right")]
    if n_counted is not None:
        columns.append(Column("counted", ["—" if row[2] is None else str(row[2]) for row in rows], "right", drop=1))
    columns += [Column(label, [format_score(row[3].get(key)) for row in rows], "right", drop=SCORE_DROPS.get(key),
                       style="bold" if key == "final_score" else None)
                for key, label in COLUMNS if overall.get(key) is not None]
    fitted = fit(columns, width or WIDE)
    table = fitted.table(title=title, caption="\n".join(line for line in (dropped_note(fitted.dropped), caption) if line) or None)
    table.rows[0].style = "bold"
    return table


def result_caption(n: int, n_counted: int | None, aligned_by_id: bool, reason_metrics: bool = True,
                   n_selection: int | None = None) -> str:
    """The lines under a score table: the counted-items rule, the items selection accuracy is measured
    on (when it is), and a warning for a reordered submission."""
    lines = []
    if reason_metrics and n_counted is not None:
        lines.append(f"reason metrics: mean over the {n_counted} counted items (both reasons non-empty); EM: all {n}")
    if n_selection is not None:
        lines.append(f"selection: over the {n_selection} items with a gold rule and candidates (not in Final)")
    if aligned_by_id:
        lines.append("NOT THE ORGANIZERS' SCORE: the submission was not in the gold's order and was aligned by id")
    return "\n".join(lines)


def result_table(result, title: str) -> Table:
    """The table of an :class:`~malpyeong_eval.evaluation.EvaluationResult`, with counted items and marks."""
    reason_metrics = any(result.metrics.get(key) is not None for key in REASON_METRICS)
    selection = result.n_selection if any(result.metrics.get(key) is not None for key in CONTEXT_METRICS) else None
    return scores_table(result.metrics, result.n, result.by_type, title, n_counted=result.n_counted,
                        caption=result_caption(result.n, result.n_counted, result.aligned_by_id, reason_metrics, selection))



class ProgressTasks:
    """A rich ``Progress`` fed by ``(label, done, total)`` calls: one task per label (the model
    scorers' :func:`~malpyeong_eval.metrics.progress.report`). Started at the first call, so a
    scoring without a model scorer prints nothing. ``bar``: a Progress already showing, to add the
    tasks to (its owner stops it)."""

    def __init__(self, console: Console, bar: Any = None) -> None:
        self.console = console
        self.bar, self.owned = bar, False
        self.tasks: dict[str, Any] = {}

    def __call__(self, label: str, done: int, total: int) -> None:
        if self.bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                console=self.console)
            self.bar.start()
            self.owned = True
        if label not in self.tasks:
            self.tasks[label] = self.bar.add_task(label, total=total, rate="")  # rate: a run's own column
        self.bar.update(self.tasks[label], completed=done, total=total)

    def stop(self) -> None:
        if self.bar is not None and self.owned:
            self.bar.stop()
            self.bar, self.tasks = None, {}


@contextmanager
def scorer_progress(console: Console, enabled: bool = True) -> Iterator[None]:
    """A progress bar on ``console`` for the model scorers inside the block (nothing when not ``enabled``)."""
    from .metrics.progress import reporting

    if not enabled:
        yield
        return
    tasks = ProgressTasks(console)
    try:
        with reporting(tasks):
            yield
    finally:
        tasks.stop()
