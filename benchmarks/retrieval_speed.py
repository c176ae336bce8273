"""BM25 retrieval: ours (bm25s over Mecab morphemes) against rank_bm25's BM25Okapi on the same tokens.

500 questions over a 2,000-passage corpus, both synthesized from the packaged sample (the sample
corpus's rules and the sample questions, their words recombined). Both libraries get the same
token lists (Mecab morphemes, analysed once, outside the timings) and the same BM25: Okapi term
weights with k1 = 1.5, b = 0.75, bm25s as ``method="robertson"`` and rank_bm25 with
``epsilon=0`` (both then give a term found in more than half the passages an idf of 0; rank_bm25's
default ``epsilon=0.25`` floors it at a quarter of the mean idf instead, and its agreement is
printed too). bm25s leaves out Okapi's constant factor (k1 + 1), so its scores times 2.5 are
compared with rank_bm25's. Prints the top-K agreement and the speed ratio (index + search).

    python benchmarks/retrieval_speed.py [--passages 2000] [--questions 500] [--top-k 10]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from malpyeong_eval.data import sample_path  # noqa: E402
from malpyeong_eval.retrieval.base import morphemes  # noqa: E402
from malpyeong_eval.retrieval.corpus import load_corpus, sample_corpus_path  # noqa: E402

K1, B = 1.5, 0.75


def synthetic(passages: int, questions: int, rng: random.Random) -> tuple[list[str], list[str]]:
    """Passage- and question-like texts recombined from the sample's words."""
    rules = [p.render() for p in load_corpus(sample_corpus_path()).passages]
    gold = json.loads(sample_path("gold").read_text(encoding="utf-8"))
    rule_words = " ".join(rules).split()
    question_words = " ".join(item["input"]["question"] for item in gold).split()
    corpus = [" ".join(rng.choice(rule_words) for _ in range(rng.randint(30, 90))) for _ in range(passages)]
    asked = [" ".join(rng.choice(question_words + rule_words) for _ in range(rng.randint(8, 20))) for _ in range(questions)]
    return corpus, asked


def run_bm25s(corpus_tokens, query_tokens, k):
    import bm25s

    start = time.perf_counter()
    model = bm25s.BM25(k1=K1, b=B, method="robertson")
    model.index(corpus_tokens, show_progress=False)
    vocab = model.vocab_dict
    known = [[t for t in tokens if t in vocab] for tokens in query_tokens]
    documents, scores = model.retrieve(known, k=k, show_progress=False)
    return time.perf_counter() - start, documents, scores * (K1 + 1)


def run_rank_bm25(corpus_tokens, query_tokens, k, epsilon):
    from rank_bm25 import BM25Okapi

    start = time.perf_counter()
    model = BM25Okapi(corpus_tokens, k1=K1, b=B, epsilon=epsilon)
    documents, scores = [], []
    for tokens in query_tokens:
        all_scores = model.get_scores(tokens)
        top = np.argsort(-all_scores, kind="stable")[:k]
        documents.append(top)
        scores.append(all_scores[top])
    return time.perf_counter() - start, np.array(documents), np.array(scores)


def agreement(ours_docs, ours_scores, ref_docs, ref_scores) -> tuple[float, float, float]:
    """Share of queries with the same top-K list, with the same top-K set, and the largest score gap.

    A list that differs only in the order of passages of equal score (to float32 precision) counts as the same.
    """
    same_list = same_set = 0
    for a, sa, b, sb in zip(ours_docs, ours_scores, ref_docs, ref_scores, strict=True):
        tie_free = all(x == y or abs(p - q) <= 1e-4 * max(1.0, abs(q)) for x, y, p, q in zip(a, b, sa, sb, strict=True))
        same_list += tie_free
        same_set += set(a.tolist()) == set(b.tolist()) or tie_free
    gap = float(np.max(np.abs(ours_scores - ref_scores)))
    n = len(ours_docs)
    return same_list / n, same_set / n, gap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--questions", type=int, default=500)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    corpus, questions = synthetic(args.passages, args.questions, random.Random(args.seed))
    start = time.perf_counter()
    corpus_tokens = [morphemes(text) for text in corpus]
    query_tokens = [morphemes(text) for text in questions]
    print(f"{args.passages} passages, {args.questions} questions, top {args.top_k}; "
          f"Mecab morphemes (shared, not timed): {time.perf_counter() - start:.2f}s")

    ours_time, ours_docs, ours_scores = run_bm25s(corpus_tokens, query_tokens, args.top_k)
    ref_time, ref_docs, ref_scores = run_rank_bm25(corpus_tokens, query_tokens, args.top_k, epsilon=0.0)
    same_list, same_set, gap = agreement(ours_docs, ours_scores, ref_docs, ref_scores)
    print(f"rank_bm25 BM25Okapi(epsilon=0): {ref_time:7.3f}s")
    print(f"bm25s (robertson):               {ours_time:7.3f}s   speed-up {ref_time / ours_time:6.1f}x")
    print(f"top-{args.top_k} agreement: same list {same_list:.1%}, same set {same_set:.1%}; "
          f"largest score difference {gap:.2e}")
    _, floor_docs, floor_scores = run_rank_bm25(corpus_tokens, query_tokens, args.top_k, epsilon=0.25)
    floor_list, floor_set, _ = agreement(ours_docs, ours_scores, floor_docs, floor_scores)
    print(f"(against rank_bm25's default epsilon=0.25: same list {floor_list:.1%}, same set {floor_set:.1%})")
    if same_set < 1.0:
        raise SystemExit("bm25s and rank_bm25 disagree on the top-K")


if __name__ == "__main__":
    main()
