"""How long ``retrieve --cross-validate 5`` takes at the real labelled set's size: 622 items over 115 passages.

    python benchmarks/retrieval_cv_speed.py [--items 622] [--passages 115] [--folds 5]

The items and passages are synthetic, made from the packaged sample (the real labelled set stays
outside the project): the sample corpus's rules plus copies of them under new headings (their lines
shuffled) up to ``--passages``; the labelled sample's questions, each with a word of the corpus
added to its sentence so that no two are the same, up to ``--items``, labelled with their own rule
or (one in five) a copied one, so that every passage has questions and the most frequent rules
have many. Only the time is measured (recall on such items means nothing): wall-clock and CPU
seconds per plan, the BM25 indexes built beforehand (as a second run finds them cached).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from malpyeong_eval.data import sample_path
from malpyeong_eval.retrieval import RetrievalPlan, RetrievalRequest, load_corpus, retrieve
from malpyeong_eval.retrieval.corpus import sample_corpus_path

PLANS = [  # (label, --retriever, --fusion)
    ("bm25,bm25-char (no examples: no folds)", "bm25,bm25-char", "rrf"),
    ("rrf: bm25,bm25-char,examples:auto", "bm25,bm25-char,examples:auto", "rrf"),
    ("learned: bm25,bm25-char,examples,category", "bm25,bm25-char,examples,category", "learned"),
]


def synthetic(folder: Path, items: int, passages: int, seed: int) -> tuple[Path, Path]:
    """A corpus of ``passages`` rules and ``items`` labelled questions (see the module docstring)."""
    rng = random.Random(seed)
    corpus = load_corpus(sample_corpus_path())
    blocks = [passage.render() for passage in corpus.passages]
    copies = []
    for number in range(passages - len(corpus)):
        source = rng.choice(corpus.passages)
        category = source.title[1:].split(" - ")[0]
        lines = source.text.split("\n")
        rng.shuffle(lines)
        copies.append((f"<{category} - 합성 규정 제{number + 1}항>", "\n".join(lines)))
    corpus_path = folder / "corpus.txt"
    corpus_path.write_text("\n\n".join(blocks + [f"{title}\n{text}" for title, text in copies]) + "\n", encoding="utf-8")
    words = " ".join(blocks).split()
    sample = json.loads(sample_path("labelled").read_text(encoding="utf-8"))
    records, seen = [], set()
    for number in range(items):
        base = sample[number % len(sample)]
        question = base["input"]["question"]
        closing = question.rindex('"')
        while question in seen or question == base["input"]["question"]:
            question = question[:closing] + " " + rng.choice(words).strip('"') + base["input"]["question"][closing:]
        seen.add(question)
        article = rng.choice(copies)[0] if copies and rng.random() < 0.2 else base["output"]["article"]
        records.append({"id": f"S{number:04d}", "input": {**base["input"], "question": question},
                        "output": {"answer": base["output"]["answer"], "article": article}})
    data_path = folder / "items.json"
    data_path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return corpus_path, data_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=622)
    parser.add_argument("--passages", type=int, default=115)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        corpus, data = synthetic(Path(folder), args.items, args.passages, args.seed)
        retrieve(RetrievalRequest(data, corpus, RetrievalPlan.parse("bm25,bm25-char")))  # the BM25 indexes, cached
        table = Table(title=f"retrieve --cross-validate {args.folds}: {args.items} synthetic items over {args.passages} passages")
        for column in ("plan", "wall s", "CPU s", "R@5 (synthetic, meaningless)"):
            table.add_column(column, justify="left" if column == "plan" else "right")
        for label, spec, fusion in PLANS:
            started, cpu = time.perf_counter(), time.process_time()
            plan = RetrievalPlan.parse(spec, fusion=fusion)
            outcome = retrieve(RetrievalRequest(data, corpus, plan, top_k=30, seed=args.seed,
                                                cross_validate=args.folds if plan.learns else None))
            table.add_row(label, f"{time.perf_counter() - started:.1f}", f"{time.process_time() - cpu:.1f}",
                          f"{outcome.report.overall.recall[5]:.3f}")
    Console().print(table)


if __name__ == "__main__":
    main()
