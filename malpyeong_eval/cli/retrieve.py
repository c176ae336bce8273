"""``malpyeong-eval retrieve``: the top-K passages of a norms corpus written into contest data.

Queries are each item's ``input.question`` only, never its answer. The output is DATA with
``input[--field]`` (a list of ``"{title}\\n{text}"`` passages) and a top-level ``retrieval``
record (retriever, corpus name and sha256, K, field, passage ids, scores), ready for ``run`` and
``train``. Where items carry ``output.article`` (or ``--labels``), recall@1/3/5/10 and MRR are
reported, overall and by question_type.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import MalpyeongError
from ..report import format_score, make_console
from .options import DeviceOption, JsonFlag

console = make_console()
err_console = make_console(stderr=True)


def _read_labels(path: Path) -> dict[str, object]:
    from ..inputs import read_json

    labels = read_json(path, what="labels file")
    if not isinstance(labels, dict):
        raise MalpyeongError(f"{path}: expected a JSON object of item id → article")
    return {str(key): value for key, value in labels.items()}


def _write(path: Path, records: list[dict]) -> None:
    if path.suffix.lower() == ".jsonl":
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    else:
        text = json.dumps(records, ensure_ascii=False, indent=2) + "\n"
    path.write_text(text, encoding="utf-8")


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
    corpus: Annotated[Path, typer.Option("--corpus", help="Norms corpus: a PDF or text file with <분류 - 규정 제N항> headings, or JSONL of {id, title, text}.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the data with the passages (.jsonl: JSONL, else a JSON list).", show_default=False)],
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Passages per item.")] = 5,
    field: Annotated[str, typer.Option("--field", help="input field that receives the passages.")] = "references",
    retriever: Annotated[str, typer.Option("--retriever", help="bm25 (Mecab morphemes, bm25s) or dense (sentence-transformers).")] = "bm25",
    dense_model: Annotated[Optional[str], typer.Option("--dense-model", help="sentence-transformers model id or directory for --retriever dense \\[default sentence-transformers/paraphrase-multilingual-MiniLM-L12-v2].")] = None,
    labels: Annotated[Optional[Path], typer.Option("--labels", help="JSON object of item id → gold article (instead of output.article) for the retrieval metrics.")] = None,
    device: DeviceOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Write DATA with the top-K passages of CORPUS per question (queries: the question only, never the answer)."""
    from ..data import read_records
    from ..retrieval import load_corpus, make_retriever, retrieval_metrics, retrieve_into
    from ..retrieval.metrics import labels_of
    from ..retrieval.pipeline import SETTINGS_KEYS, queries_of

    if retriever not in ("bm25", "dense"):
        raise MalpyeongError(f"--retriever: unknown retriever {retriever!r} (bm25 or dense)")
    if not field.strip() or field in ("question", "question_type"):
        raise MalpyeongError(f"--field: {field!r} cannot receive the passages (choose another input field name)")
    records = read_records(data)
    queries_of(records, str(data))  # check the data before the corpus and the model load
    overrides = _read_labels(labels) if labels is not None else None
    loaded = load_corpus(corpus)
    if top_k > len(loaded):
        err_console.print(f"note: --top-k {top_k} > the corpus's {len(loaded)} passages; taking all {len(loaded)}",
                          highlight=False, markup=False)
        top_k = len(loaded)
    engine = make_retriever(retriever, loaded, dense_model=dense_model, device=device)
    written = retrieve_into(records, engine, loaded, top_k, field, source=str(data))
    _write(output, written)
    titles_by_id = {passage.id: passage.title for passage in loaded.passages}
    report = retrieval_metrics(
        [[titles_by_id[passage_id] for passage_id in item["retrieval"]["passage_ids"]] for item in written],
        labels_of(records, overrides),
        [item["input"].get("question_type") if isinstance(item["input"].get("question_type"), str) else None for item in written],
        top_k,
    )
    settings = {key: written[0]["retrieval"][key] for key in SETTINGS_KEYS} if written else {}
    if json_output:
        print(json.dumps({"output": str(output), "n": len(written), "settings": settings,
                          "passages": len(loaded), "metrics": report.to_dict()}, ensure_ascii=False, indent=2))
        return
    err_console.print(
        f"wrote {len(written)} items with {top_k} passages each in input.{field} to {output} "
        f"({settings.get('retriever')}, {len(loaded)} passages of {loaded.name})",
        highlight=False, markup=False,
    )
    if report.overall.n:
        console.print(_metrics_table(report, title=f"retrieval: {data.name} over {loaded.name} (top {top_k})"))
    else:
        err_console.print("no item has a label (output.article or --labels): no retrieval metrics",
                          highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``retrieve`` to the app."""
    app.command("retrieve")(retrieve)
