"""Exporting runs or one run's items as CSV, Markdown, HTML (escaped) or JSON."""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any

from malpyeong_eval.metrics.registry import COLUMN_NAMES
from malpyeong_eval.outputs import spreadsheet_cell

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd

    from .records import RunRecord

FORMATS = ("csv", "md", "html", "json")
EXPORT_FORMATS = (*FORMATS, "site")  # site: serve's pages as static files (leaderboard.serve.site)
RUN_COLUMNS = ("rank", "name", "step", *COLUMN_NAMES, "n", "n_counted", "n_selection", "scoring_rules", "aligned_by_id", "dataset_name",
               "context", "retrieval", "created_at", "provenance")


def _markdown(frame: pd.DataFrame) -> str:
    import pandas as pd

    def cell(value: Any) -> str:
        text = "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)
        return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(frame.columns) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines) + "\n"


_STYLE = ("body{font-family:system-ui,sans-serif;margin:2em}table{border-collapse:collapse}"
          "th,td{border:1px solid #ccc;padding:.3em .6em;vertical-align:top}th{background:#f3f3f3}"
          "tr:nth-child(even){background:#fafafa}")


def _html(frame: pd.DataFrame, title: str) -> str:
    table = frame.to_html(index=False, escape=True, na_rep="", border=0)
    return (
        f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><style>{_STYLE}</style>"
        f"<title>{html.escape(title)}</title></head>\n<body>\n<h1>{html.escape(title)}</h1>\n{table}\n</body></html>\n"
    )


def _cell(value: Any) -> Any:
    """A table cell: a nested value (a run's retrieval settings) as compact JSON, a score to 4 places
    (as on the screen), nothing for a missing value."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, float):
        return "" if value != value else f"{value:.4f}"
    return "" if value is None else value


def render(rows: list[dict[str, Any]], fmt: str, title: str) -> str:
    """``rows`` as text in ``fmt``; in HTML and Markdown every value is escaped (``<`` → ``&lt;``;
    Markdown also escapes ``|`` and joins lines), so model output never becomes markup. In the
    tables (CSV, Markdown, HTML) a nested value is written as JSON; JSON keeps it nested. In CSV a text cell
    that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``, tab, CR first) starts with ``'``."""
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2, default=str) + "\n"
    import pandas as pd  # only here: the commands that never export start without it

    if fmt == "csv":  # text a spreadsheet would run as a formula made inert (JSON and the database keep it raw)
        rows = [{key: spreadsheet_cell(value) if isinstance(value, str) else value for key, value in row.items()} for row in rows]
    frame = pd.DataFrame([{key: _cell(value) for key, value in row.items()} for row in rows], dtype=object)
    if fmt == "csv":
        return frame.to_csv(index=False)  # the command adds a BOM to a CSV file, for spreadsheet programs
    if fmt == "md":
        return _markdown(frame)
    return _html(frame, title)


def run_rows(runs: Iterable[RunRecord]) -> list[dict[str, Any]]:
    """The leaderboard's columns for each run of ranked runs (:meth:`~leaderboard.store.Leaderboard.runs`),
    ``rank`` counted within each set of items (dataset and item count)."""
    from .ranking_rule import by_dataset

    rows = []
    for _, group in by_dataset(list(runs)):
        for rank, run in enumerate(group, start=1):
            data = run.to_json()
            data["rank"] = rank
            if not run.retrieval:
                data["context"] = None  # no context: null, not the screen's dash
            rows.append({column: data.get(column) for column in RUN_COLUMNS})
    return rows
