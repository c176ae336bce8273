"""``malpyeong-eval label``: rule labels (``output.article``) for items that have a gold answer.

The output is DATA with ``output.article`` written where an item had none, a top-level
``labelling`` record on every item labelled (method, model, corpus name and sha256, the chosen
passage, scores, for ``perplexity`` every candidate's log-likelihood gain), and, where items
carried a label already, the share of our labels that agree with it. Items without an answer
are copied unchanged and counted; a file where no item has an answer is refused. The output is
written once everything has succeeded (a temporary file, then ``os.replace``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..report import json_text, make_console
from .options import DeviceOption, JsonFlag

console = make_console()
err_console = make_console(stderr=True)


def _say(text: str) -> None:
    err_console.print(text, highlight=False, markup=False, soft_wrap=True)


def _progress_bar():
    """Sequences scored, on stderr; transient, so that an error stays one line."""
    from rich import progress

    return progress.Progress(progress.TextColumn("scoring answers"), progress.BarColumn(), progress.MofNCompleteColumn(),
                             progress.TimeElapsedColumn(), console=err_console, transient=True)


def label(
    data: Annotated[Path, typer.Argument(help="Contest data (JSON list or JSONL) with output.answer.", show_default=False)],
    corpus: Annotated[Path, typer.Option("--corpus", help="Norms corpus: a PDF or text file with <분류 - 규정 제N항> headings, or JSONL of {id, title, text}.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the labelled data (.jsonl: JSONL, else a JSON list).", show_default=False)],
    method: Annotated[str, typer.Option("--method", help="lexical (BM25 with the answer's reason) or perplexity (a causal LM's log-likelihood gain of the answer given each BM25 candidate).")] = "lexical",
    model: Annotated[str | None, typer.Option("--model", help="Causal LM id or directory for --method perplexity.")] = None,
    candidates: Annotated[int, typer.Option("--candidates", min=1, help="BM25 candidates per item that --method perplexity scores.")] = 8,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Sequences per forward pass of --method perplexity.")] = 8,
    device: DeviceOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Write DATA with output.article (the rule each answer is about) where an item has none."""
    from ..retrieval import LabelRequest, label as run_label

    request = LabelRequest(data, corpus, output, method=method, model=model, candidates=candidates, batch_size=batch_size,
                           device=device)
    for note in request.notes:
        _say(note)
    if request.method == "perplexity":
        with _progress_bar() as bar:
            task = bar.add_task("score", total=None)
            outcome = run_label(request, progress=lambda done, total: bar.update(task, completed=done, total=total))
    else:
        outcome = run_label(request)
    for note in outcome.notes:
        _say(note)
    if json_output:
        print(json_text(outcome.to_json()))
        return
    first, *rest = outcome.summary_lines()
    _say(first)
    console.print(outcome.table())
    for line in rest:
        _say(line)


def register(app: typer.Typer) -> None:
    """Add ``label`` to the app."""
    app.command("label")(label)
