"""Retrieval quality without leakage: K-fold recall of several retriever plans on one labelled set.

    python benchmarks/retrieval_quality.py [DATA] [--corpus CORPUS] [--folds 5] [--seed 0]

DATA (default: the packaged labelled sample, ``sample_labelled.json`` and the 40 ``sample_gold``
items) holds contest items with ``output.article``. Plans without the examples part retrieve every
item directly; plans with it run K-fold cross-validation (each fold learns from the other folds'
examples only), exactly as ``malpyeong-eval retrieve DATA --examples DATA --cross-validate K``.
Prints recall@1/3/5/10 and MRR per plan, and the time each took.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from malpyeong_eval.data import load_items, sample_path
from malpyeong_eval.retrieval import load_corpus, retrieval_metrics
from malpyeong_eval.retrieval.corpus import sample_corpus_path
from malpyeong_eval.retrieval.metrics import CUTOFFS
from malpyeong_eval.retrieval.pipeline import cross_validate, examples_of, item_labels, queries_of
from malpyeong_eval.retrieval.plan import RetrievalPlan, RetrieverBuilder, parse_parts

PLANS = [  # (--retriever, RRF k)
    ("bm25", 10), ("bm25-char", 10), ("bm25,bm25-char", 60), ("bm25,bm25-char", 10),
    ("examples", 10), ("bm25-char,examples", 10),
    ("bm25,bm25-char,examples", 60), ("bm25,bm25-char,examples", 10), ("bm25,bm25-char,examples:2", 10),
    ("bm25,bm25-char,examples:4", 10), ("bm25,bm25-char,examples:auto", 10),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="*", type=Path)
    parser.add_argument("--corpus", type=Path, default=sample_corpus_path())
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    paths = args.data or [sample_path("labelled"), sample_path("gold")]
    items = [item for path in paths for item in load_items(path)]
    corpus = load_corpus(args.corpus)
    labels = item_labels(items)
    types = [item.question_type for item in items]
    examples = examples_of(items)
    table = Table(title=f"retrieval without leakage: {len(items)} items of {', '.join(p.name for p in paths)} over "
                        f"{corpus.name} ({len(corpus)} passages), {args.folds}-fold where examples are used")
    for column in ("retriever", "rrf k", *(f"R@{k}" for k in CUTOFFS), "MRR", "seconds"):
        table.add_column(column, justify="left" if column == "retriever" else "right", no_wrap=True)
    for spec, rrf_k in PLANS:
        plan = RetrievalPlan(parse_parts(spec), rrf_k=rrf_k)
        builder = RetrieverBuilder(plan, corpus)
        started = time.perf_counter()
        if plan.uses_examples:
            hits = cross_validate(items, examples, builder, 10, k=args.folds, seed=args.seed).hits
        else:
            hits = builder.build().search(queries_of(items), 10)
        seconds = time.perf_counter() - started
        report = retrieval_metrics([[corpus.passages[i].title for i, _ in found] for found in hits], labels, types, 10)
        overall = report.overall
        table.add_row(spec, str(rrf_k) if "," in spec else "—", *(f"{overall.recall[k]:.3f}" for k in CUTOFFS),
                      f"{overall.mrr:.3f}", f"{seconds:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
