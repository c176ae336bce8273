"""``malpyeong-eval label``: rule labels (``output.article``) for items that have a gold answer.

The output is DATA with ``output.article`` written where an item had none, a top-level
``labelling`` record on every item labelled (method, model, corpus name and sha256, the chosen
passage, scores, for ``perplexity`` every candidate's log-likelihood gain), and, where items
carried a label already, the share of our labels that agree with it. Items without an answer
are copied unchanged and counted; a file where no item has an answer is refused. The output is
written once everything has succeeded (a temporary file, then ``os.replace``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from ..errors import MalpyeongError
from ..report import format_score, make_console
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


def _summary_table(summary: dict, title: str):
    from rich.table import Table

    table = Table(title=title)
    for column in ("items", "labelled", "written", "kept as given", "skipped (no answer)", "agreement", "n"):
        table.add_column(column, justify="right")
    agree = summary["agreement"]
    table.add_row(str(summary["n_items"]), str(summary["n_labelled"]), str(summary["n_written"]), str(summary["n_kept"]),
                  str(summary["n_skipped"]), format_score(agree["share"]), str(agree["n"]))
    return table


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
    from ..data import load_items, write_records
    from ..outputs import check_output
    from ..retrieval import labelling, load_corpus

    if method not in labelling.METHODS:
        raise MalpyeongError(f"--method: unknown method {method!r} ({' or '.join(labelling.METHODS)})")
    if method == "perplexity" and not model:
        raise MalpyeongError("--method perplexity needs --model (a causal LM id or directory)")
    if method == "lexical" and model:
        _say("note: --model is only used by --method perplexity; ignored")
    items = load_items(data)
    positions = [i for i, item in enumerate(items) if labelling.has_answer(item)]
    if not positions:
        raise MalpyeongError(f"{data}: no item has an answer (output.answer) to label from")
    check_output(output)
    loaded = load_corpus(corpus)
    if method == "perplexity" and candidates > len(loaded):
        _say(f"note: --candidates {candidates} > the corpus's {len(loaded)} passages; scoring all {len(loaded)}")
        candidates = len(loaded)
    answered = [items[i] for i in positions]
    if method == "lexical":
        labels = labelling.lexical_labels(loaded, [item.answer or "" for item in answered])
    else:
        assert model is not None  # refused above without --model
        scorer = labelling.AnswerScorer(model, device=device)
        with _progress_bar() as bar:
            task = bar.add_task("score", total=None)
            labels = labelling.perplexity_labels(loaded, answered, scorer, candidates=candidates, batch_size=batch_size,
                                       progress=lambda done, total: bar.update(task, completed=done, total=total))
    written, summary = labelling.write_labels(items, dict(zip(positions, labels, strict=True)), loaded)
    write_records(output, written)
    settings = {"method": method, "model": model if method == "perplexity" else None, "corpus": loaded.name,
                "corpus_hash": loaded.sha256, "candidates": candidates if method == "perplexity" else None}
    if json_output:
        print(json.dumps({"output": str(output), "settings": settings, **summary}, ensure_ascii=False, indent=2))
        return
    _say(f"wrote {summary['n_items']} items to {output}: {summary['n_written']} labels written into output.article, "
         f"{summary['n_kept']} given labels kept, {summary['n_skipped']} items without an answer copied unchanged "
         f"({method}{', ' + str(model) if method == 'perplexity' else ''}; {len(loaded)} passages of {loaded.name})")
    console.print(_summary_table(summary, title=f"labels: {data.name} over {loaded.name} ({method})"))
    if not summary["agreement"]["n"]:
        _say("no item carried a label (output.article): no agreement to report")


def register(app: typer.Typer) -> None:
    """Add ``label`` to the app."""
    app.command("label")(label)
