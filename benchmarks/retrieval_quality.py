"""Retrieval quality without leakage: K-fold recall of several retriever plans on one labelled set.

    python benchmarks/retrieval_quality.py [DATA ...] [--corpus CORPUS] [--folds 5] [--seed 0] [--kiwi]

DATA (default: the packaged labelled sample, ``sample_labelled.json``, shaped like the real labelled
set) holds contest items with ``output.article``; several files are cross-validated as one. Plans without a learned part retrieve every
item directly; plans with one run K-fold cross-validation (each fold learns from the other folds'
examples only), exactly as ``malpyeong-eval retrieve DATA --examples DATA --cross-validate K
--top-k 30``. Prints recall@1/3/5/10/20/30 and MRR per plan with the time each took, then the
default plans with and without examples (RRF and the learned fusion) per question type and per
norm category, with the category accuracy. RRF is also run with Cormack et al.'s k = 60 (the rows
``rrf k=60``) beside the default k (:data:`malpyeong_eval.retrieval.fusion.DEFAULT_RRF_K`). ``--kiwi`` adds the learned fusion with Kiwi's
proposals (the ``kiwi`` extra).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rich.table import Table

from malpyeong_eval.data import sample_path
from malpyeong_eval.report import format_score, make_console
from malpyeong_eval.retrieval import RetrievalOutcome, RetrievalPlan, RetrievalRequest, retrieve
from malpyeong_eval.retrieval.corpus import sample_corpus_path
from malpyeong_eval.retrieval.metrics import CUTOFFS

PLANS = [  # (--retriever, --fusion, --proposals); None: the default
    ("bm25", "rrf", None), ("bm25-char", "rrf", None), ("bm25,bm25-char", "rrf", None),
    ("examples", "rrf", None), ("category", "rrf", None),
    ("bm25,bm25-char,examples", "rrf", None), ("bm25,bm25-char,examples:auto", "rrf", None),
    ("bm25,bm25-char,examples,category", "rrf", None),
    ("bm25,bm25-char,examples", "learned", None), ("bm25,bm25-char,examples,category", "learned", None),
]
KIWI = ("bm25,bm25-char,examples,category", "learned", "kiwi")
# RRF with Cormack et al.'s k = 60, beside the plans above at fusion.DEFAULT_RRF_K (the k that measured better)
RRF_K_CHECKED = (("bm25,bm25-char", 60), ("bm25,bm25-char,examples:auto", 60))
BROKEN_DOWN = {("bm25,bm25-char,examples:auto", "rrf", None): "RRF (the default before)",
               ("bm25,bm25-char,examples,category", "learned", None): "learned (the default)"}


def one_file(paths: list[Path], folder: Path) -> Path:
    """The items of ``paths`` in one JSON list (one DATA for the cross-validation)."""
    if len(paths) == 1:
        return paths[0]
    records = [record for path in paths for record in json.loads(path.read_text(encoding="utf-8"))]
    joined = folder / "labelled.json"
    joined.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return joined


def run(data: Path, corpus: Path, plan: RetrievalPlan, folds: int, seed: int) -> tuple[RetrievalOutcome, float]:
    started = time.perf_counter()
    outcome = retrieve(RetrievalRequest(data, corpus, plan, top_k=30, seed=seed, cross_validate=folds if plan.learns else None))
    return outcome, time.perf_counter() - started


def overall_table(rows: list[tuple[str, RetrievalOutcome, float]], title: str) -> Table:
    table = Table(title=title)
    for column in ("retriever", *(f"R@{k}" for k in CUTOFFS), "MRR", "category", "seconds"):
        table.add_column(column, justify="left" if column == "retriever" else "right", no_wrap=True)
    for name, outcome, seconds in rows:
        overall = outcome.report.overall
        table.add_row(name, *(format_score(overall.recall[k])[:5] for k in CUTOFFS), format_score(overall.mrr)[:5],
                      format_score(outcome.report.top1_category_accuracy)[:5], f"{seconds:.2f}")
    return table


def breakdown_table(rows: list[tuple[str, RetrievalOutcome]]) -> Table:
    table = Table(title="per question type and norm category (5: R@5, 30: R@30)")
    table.add_column("group")
    table.add_column("n", justify="right")
    for name, _ in rows:
        table.add_column(f"{name}\nR@5 / R@30", justify="right")
    first = rows[0][1].report
    groups = [("overall", first.overall), *first.by_type.items(), *first.by_category.items()]
    for group, scores in groups:
        cells = []
        for _, outcome in rows:
            report = outcome.report
            found = report.overall if group == "overall" else report.by_type.get(group) or report.by_category[group]
            cells.append(f"{found.recall[5]:.3f} / {found.recall[30]:.3f}")
        table.add_row(group, str(scores.n), *cells)
    table.add_row("category predicted (cross-validated)", "",
                  *(format_score(outcome.category_accuracy)[:5] for _, outcome in rows))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="*", type=Path)
    parser.add_argument("--corpus", type=Path, default=sample_corpus_path())
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kiwi", action="store_true", help="also the learned fusion with Kiwi's proposals")
    args = parser.parse_args()
    paths = args.data or [sample_path("labelled")]
    with tempfile.TemporaryDirectory() as folder:
        data = one_file(paths, Path(folder))
        rows, broken = [], []
        for spec, fusion, proposals in PLANS + ([KIWI] if args.kiwi else []):
            outcome, seconds = run(data, args.corpus, RetrievalPlan.parse(spec, fusion=fusion, proposals=proposals),
                                   args.folds, args.seed)
            name = f"{fusion}: {spec}" + (f" +{proposals}" if proposals else "")
            rows.append((name, outcome, seconds))
            if (spec, fusion, proposals) in BROKEN_DOWN:
                broken.append((BROKEN_DOWN[spec, fusion, proposals], outcome))
        for spec, rrf_k in RRF_K_CHECKED:
            outcome, seconds = run(data, args.corpus, RetrievalPlan.parse(spec, fusion="rrf", rrf_k=rrf_k), args.folds, args.seed)
            rows.append((f"rrf k={rrf_k}: {spec}", outcome, seconds))
    corpus_name = args.corpus.name
    n = rows[0][1].report.n_items
    console = make_console()
    console.print(overall_table(rows, f"retrieval without leakage: {n} items of {', '.join(p.name for p in paths)} over "
                                      f"{corpus_name}, {args.folds}-fold where anything is learned; category: first passage "
                                      "of the right norm category"))
    console.print(breakdown_table(broken))


if __name__ == "__main__":
    main()
