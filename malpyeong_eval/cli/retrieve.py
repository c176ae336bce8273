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

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import MalpyeongError
from ..report import format_score, make_console
from ..retrieval.plan import DEFAULT_PARTS, DEFAULT_PARTS_WITH_EXAMPLES, PART_NAMES
from .options import DeviceOption, JsonFlag

console = make_console()
err_console = make_console(stderr=True)


def _read_labels(path: Path) -> dict[str, object]:
    from ..inputs import read_json

    labels = read_json(path, what="labels file")
    if not isinstance(labels, dict):
        raise MalpyeongError(f"{path}: expected a JSON object of item id → article")
    return {str(key): value for key, value in labels.items()}


def _metrics_table(report, title: str):
    from rich.markup import escape
    from rich.table import Table

    from ..retrieval.metrics import CUTOFFS

    table = Table(title=title, caption=f"{report.n_unlabelled} of {report.n_items} items without a label, not counted"
                  if report.n_unlabelled else None)
    table.add_column("group")
    table.add_column("n", justify="right")
    for k in CUTOFFS:
        table.add_column(f"R@{k}", justify="right")
    table.add_column("MRR", justify="right", style="bold")

    def row(name, scores, **style):
        table.add_row(name, str(scores.n), *(format_score(scores.recall[k]) for k in CUTOFFS), format_score(scores.mrr), **style)

    row("overall", report.overall, style="bold")
    for name, scores in report.by_type.items():
        row(escape(name), scores)
    return table


def retrieve(
    data: Annotated[Path, typer.Argument(help="Contest data (JSON list or JSONL) with input.question.", show_default=False)],
    corpus: Annotated[Path, typer.Option("--corpus", help="Norms corpus: a PDF, .docx or text file with <분류 - 규정명> headings, or JSONL of {id, title, text}.", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Where to write the data with the passages (.jsonl: JSONL, else a JSON list); without it only the metrics are shown.", show_default=False)] = None,
    top_k: Annotated[int, typer.Option("--top-k", help="Passages per item.")] = 5,
    field: Annotated[str, typer.Option("--field", help="input field that receives the passages.")] = "references",
    retriever: Annotated[Optional[str], typer.Option("--retriever", help=f"Parts, comma-separated, each name[:weight], fused by reciprocal rank: {', '.join(PART_NAMES)} \\[default {DEFAULT_PARTS}; with examples {DEFAULT_PARTS_WITH_EXAMPLES}].", show_default=False)] = None,
    examples: Annotated[Optional[list[Path]], typer.Option("--examples", help="Labelled contest items (output.article, or --labels) the examples part learns from; repeatable.", show_default=False)] = None,
    labels: Annotated[Optional[Path], typer.Option("--labels", help="JSON object of item id → gold article (instead of output.article), for DATA's metrics and the examples.")] = None,
    cross_validate: Annotated[Optional[int], typer.Option("--cross-validate", help="K folds: each fold retrieved with the examples of the other folds only (examples default to DATA).", show_default=False)] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the fold assignment.")] = 0,
    dense_model: Annotated[Optional[str], typer.Option("--dense-model", help="sentence-transformers model id or directory for the dense part \\[default sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2].")] = None,
    rerank: Annotated[Optional[str], typer.Option("--rerank", help="A sentence-transformers CrossEncoder (id or directory) that rescores the top --rerank-depth.", show_default=False)] = None,
    rerank_depth: Annotated[int, typer.Option("--rerank-depth", help="First-stage passages the cross-encoder rescores.")] = 20,
    device: DeviceOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Write DATA with the top-K passages of CORPUS per question (queries: the question only, never the answer)."""
    from ..data import load_items, write_records
    from ..outputs import check_output
    from ..retrieval import load_corpus, retrieval_metrics
    from ..retrieval.pipeline import (
        SETTINGS_KEYS, cross_validate as run_folds, examples_of, item_labels, queries_of, settings_of, write_hits,
    )
    from ..retrieval.plan import RetrievalPlan, RetrieverBuilder, parse_parts

    for flag, value in (("--top-k", top_k), ("--rerank-depth", rerank_depth)):
        if value < 1:
            raise MalpyeongError(f"{flag}: must be at least 1, got {value}")
    if cross_validate is not None and cross_validate < 2:
        raise MalpyeongError(f"--cross-validate: needs at least 2 folds, got {cross_validate}")
    if not field.strip() or field in ("question", "question_type"):
        raise MalpyeongError(f"--field: {field!r} cannot receive the passages (choose another input field name)")
    learns = bool(examples) or cross_validate is not None
    plan = RetrievalPlan(parse_parts(retriever or (DEFAULT_PARTS_WITH_EXAMPLES if learns else DEFAULT_PARTS)),
                         dense_model=dense_model, rerank_model=rerank, rerank_depth=rerank_depth,
                         device=device)
    if plan.uses_examples and not learns:
        raise MalpyeongError("--retriever: the examples part needs --examples FILE (labelled items) or --cross-validate K")
    if learns and not plan.uses_examples:
        raise MalpyeongError("--examples/--cross-validate: --retriever has no examples part to learn from (add 'examples')")
    items = load_items(data)
    queries = queries_of(items, str(data))  # check the data before the corpus and the model load
    if output is not None:
        check_output(output)
    overrides = _read_labels(labels) if labels is not None else None
    learned_from = []
    for path in examples or ([data] if cross_validate is not None else []):
        learned_from += examples_of(items if path == data else load_items(path), overrides, str(path))
    loaded = load_corpus(corpus)
    if top_k > len(loaded):
        err_console.print(f"note: --top-k {top_k} > the corpus's {len(loaded)} passages; taking all {len(loaded)}",
                          highlight=False, markup=False, soft_wrap=True)
        top_k = len(loaded)
    gold_labels = item_labels(items, overrides)
    unmatched_examples = sum(1 for example in learned_from if not loaded.passages_for(example.label))
    unmatched_labels = sum(1 for label in gold_labels if label is not None and not loaded.passages_for(label))
    builder = RetrieverBuilder(plan, loaded)
    folds = None
    if cross_validate is not None:
        folds = run_folds(items, learned_from, builder, top_k, k=cross_validate, seed=seed, source=str(data))
        hits, name, self_excluded = folds.hits, folds.retriever, 0
    else:
        engine = builder.build(learned_from)
        hits, name = engine.search(queries, top_k), engine.name
        part = builder.examples_part(engine)
        self_excluded = part.self_excluded if part is not None else 0
    settings = settings_of(name, loaded, top_k, field)
    if folds is not None:
        settings["cross_validation"] = {"k": folds.k, "seed": folds.seed}
    written = write_hits(items, hits, settings, loaded, field)
    if output is not None:
        write_records(output, written)
    report = retrieval_metrics(
        [[loaded.passages[index].title for index, _ in found] for found in hits],
        gold_labels,
        [item.question_type for item in items],
        top_k,
    )
    if json_output:
        result = {"output": str(output) if output else None, "n": len(written),
                  "settings": {key: settings[key] for key in SETTINGS_KEYS}, "passages": len(loaded),
                  "examples": len(learned_from), "self_excluded": self_excluded,
                  "examples_unmatched": unmatched_examples, "labels_unmatched": unmatched_labels, "metrics": report.to_dict()}
        if folds is not None:
            result["cross_validation"] = {"k": folds.k, "seed": folds.seed, "examples_per_fold": folds.examples_per_fold,
                                          "folds": folds.folds}
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return
    where = f" to {output}" if output else ""
    err_console.print(
        f"retrieved {top_k} passages for each of {len(written)} items{where} ({name}, {len(loaded)} passages of {loaded.name}"
        + (f", {len(learned_from)} labelled examples" if learned_from else "") + ")",
        highlight=False, markup=False, soft_wrap=True,
    )
    for count, what in ((unmatched_examples, "examples"), (unmatched_labels, f"labelled items of {data.name}")):
        if count:
            err_console.print(f"note: {count} {what} name a rule that is no heading of {loaded.name} "
                              "(check the label's form against the corpus's headings)", highlight=False, markup=False, soft_wrap=True)
    if self_excluded:
        err_console.print(f"{self_excluded} items of {data.name} are also examples: each was left out of its own examples",
                          highlight=False, markup=False, soft_wrap=True)
    if folds is not None:
        err_console.print(f"{folds.k}-fold cross-validation (seed {folds.seed}): each fold retrieved with the other folds' "
                          f"examples only ({min(folds.examples_per_fold)}–{max(folds.examples_per_fold)} examples per fold)",
                          highlight=False, markup=False, soft_wrap=True)
    if report.overall.n:
        console.print(_metrics_table(report, title=f"retrieval: {data.name} over {loaded.name} (top {top_k})"))
    else:
        err_console.print("no item has a label (output.article or --labels): no retrieval metrics",
                          highlight=False, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``retrieve`` to the app."""
    app.command("retrieve")(retrieve)
