"""``malpyeong-eval retrieve``: the top-K passages of a norms corpus written into contest data.

Queries are each item's ``input.question`` only, never its answer. The output is DATA with
``input[--field]`` (a list of ``"{title}\\n{text}"`` passages) and a top-level ``retrieval``
record (retriever, corpus name and sha256, K, field, passage ids, scores), ready for ``run`` and
``train``. Where items carry ``output.article`` (or ``--labels``), recall@1/3/5/10 and MRR are
reported, overall and by question_type. ``--examples`` (labelled items) feed the ``examples``
retriever; an item of DATA that is also an example is left out of its own examples, and the
output says how many were. ``--cross-validate K`` retrieves each fold with the other folds'
examples only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ..report import json_text, make_console
from ..retrieval.plan import DEFAULT_FUSION_WITH_EXAMPLES, DEFAULT_PARTS, DEFAULT_PARTS_WITH_EXAMPLES, FUSIONS, PART_NAMES
from .options import DeviceOption, JsonFlag

console = make_console()
err_console = make_console(stderr=True)


def _say(text: str) -> None:
    err_console.print(text, highlight=False, markup=False, soft_wrap=True)


def retrieve(
    data: Annotated[Path, typer.Argument(help="Contest data (JSON list or JSONL) with input.question.", show_default=False)],
    corpus: Annotated[Path, typer.Option("--corpus", help="Norms corpus: a PDF, .docx or text file with <분류 - 규정명> headings, or JSONL of {id, title, text}.", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Where to write the data with the passages (.jsonl: JSONL, else a JSON list); without it only the metrics are shown.", show_default=False)] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="Passages per item.")] = 5,
    field: Annotated[str, typer.Option("--field", help="input field that receives the passages.")] = "references",
    retriever: Annotated[Optional[str], typer.Option("--retriever", help=f"Parts, comma-separated, each name[:weight] (weights: --fusion rrf): {', '.join(PART_NAMES)} \\[default {DEFAULT_PARTS}; with examples {DEFAULT_PARTS_WITH_EXAMPLES}].", show_default=False)] = None,
    examples: Annotated[Optional[list[Path]], typer.Option("--examples", help="Labelled contest items (output.article, or --labels) the learned parts (examples, category) and the learned fusion learn from; repeatable.", show_default=False)] = None,
    labels: Annotated[Optional[Path], typer.Option("--labels", help="JSON object of item id → gold article (instead of output.article), for DATA's metrics and the examples.")] = None,
    cross_validate: Annotated[Optional[int], typer.Option("--cross-validate", help="K folds: each fold retrieved with the examples of the other folds only (examples default to DATA).", show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fold assignment.")] = 0,
    dense_model: Annotated[Optional[str], typer.Option("--dense-model", help="sentence-transformers model id or directory for the dense part \\[default sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2].")] = None,
    rerank: Annotated[Optional[str], typer.Option("--rerank", help="A sentence-transformers CrossEncoder (id or directory) that rescores the top --rerank-depth.", show_default=False)] = None,
    rerank_depth: Annotated[int, typer.Option("--rerank-depth", help="First-stage passages the cross-encoder rescores.")] = 20,
    fusion: Annotated[Optional[str], typer.Option("--fusion", help=f"How the parts are fused: {' or '.join(FUSIONS)} (weights learned from the examples) \\[default {DEFAULT_FUSION_WITH_EXAMPLES} with examples, else rrf].", show_default=False)] = None,
    proposals: Annotated[Optional[str], typer.Option("--proposals", help="kiwi: Kiwi's corrections of each 교정형 sentence as alternatives (pip install 'malpyeong-eval[kiwi]').", show_default=False)] = None,
    device: DeviceOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Write DATA with the top-K passages of CORPUS per question (queries: the question only, never the answer)."""
    from ..retrieval import RetrievalPlan, RetrievalRequest, retrieve as run_retrieval

    plan = RetrievalPlan.parse(retriever, fusion=fusion, proposals=proposals, dense_model=dense_model, rerank_model=rerank,
                               rerank_depth=rerank_depth, device=device)
    request = RetrievalRequest(data, corpus, plan, output=output, top_k=top_k, field=field, examples=tuple(examples or ()),
                               labels=labels, cross_validate=cross_validate, seed=seed)
    outcome = run_retrieval(request)
    for note in outcome.notes:
        _say(note)
    if json_output:
        print(json_text(outcome.to_json()))
        return
    for line in outcome.summary_lines():
        _say(line)
    table = outcome.table()
    if table is not None:
        console.print(table)


def register(app: typer.Typer) -> None:
    """Add ``retrieve`` to the app."""
    app.command("retrieve")(retrieve)
