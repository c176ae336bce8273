"""Choosing among sampled answers: utilities computed once per candidate against pair by pair.

The same candidates (default 40 items x 8, sampled-looking: the packaged sample's answers with the
answer sentence sometimes swapped for another item's and the reason's sentences dropped, repeated
or borrowed from another item) are chosen among by MBR twice:

- batched: each scorer's ``pair_matrices`` (ROUGE-1: each reason analysed by Mecab once; BERTScore:
  each reason embedded once, every ordered pair matched in batches);
- pair by pair: the public ``score([reference], [prediction])`` once per ordered pair, with scorers
  built with ``cache_size=0`` so that every call analyses (ROUGE-1) or embeds (BERTScore) both texts
  again; for BERTScore also with the default cache (each text embedded as a reference once, the
  one-pair calls remain).

Prints each time (the best of ``--repeats``; scorers are built before each repeat, untimed), the
ratio, and checks that the chosen candidates are identical (for BERTScore, except ties within 1e-6:
utilities equal in exact arithmetic that float32 rounding decides; it says how many). BERTScore runs on a tiny local BERT (``malpyeong_eval.tiny_models``, CPU); its ratio says
little about mBERT on a GPU, where the embedding is a larger part of the cost.

    python benchmarks/selection_speed.py [--items 40] [--candidates 8] [--repeats 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Callable
from itertools import permutations
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from malpyeong_eval import load_items, sample_path, split_answer  # noqa: E402
from malpyeong_eval.metrics.bertscore import BertScoreScorer  # noqa: E402
from malpyeong_eval.metrics.rouge import Rouge1Scorer  # noqa: E402
from malpyeong_eval.selection import Selection, SelectionRule, UtilityMatrices, select  # noqa: E402
from malpyeong_eval.tiny_models import build_tiny_bert  # noqa: E402

TIE = 1e-6  # utilities closer than this are a tie that float32 rounding may decide either way (BERTScore)


def sampled_candidates(items: int, per_item: int, seed: int = 0) -> list[list[str]]:
    """``per_item`` perturbed copies of each of ``items`` sample answers (gold and submitted)."""
    rng = random.Random(seed)
    answers = [item.answer or "" for name in ("gold", "submission") for item in load_items(sample_path(name))]
    parts = [split_answer(text) for text in answers if split_answer(text).reason]
    sentences = [sentence for part in parts for sentence in part.reason.split(". ") if sentence]
    sets = []
    for index in range(items):
        own = parts[index % len(parts)]
        candidates = []
        for _ in range(per_item):
            clause = own.clause if rng.random() < 0.6 else rng.choice(parts).clause
            reason = [sentence for sentence in own.reason.split(". ") if rng.random() < 0.8]
            reason += rng.sample(sentences, rng.randint(0, 2))
            rng.shuffle(reason)
            candidates.append(f"{clause}. {'. '.join(reason)}")
        sets.append(candidates)
    return sets


def one_pair_at_a_time(scorer) -> UtilityMatrices:
    """Utilities from ``scorer.score([reference], [prediction])``, one call per ordered pair."""

    def matrices(metric: str, reason_sets) -> list[np.ndarray]:
        result = []
        for reasons in reason_sets:
            matrix = np.full((len(reasons), len(reasons)), np.nan)
            for i, j in permutations(range(len(reasons)), 2):
                matrix[i, j] = scorer.score([reasons[j]], [reasons[i]])[0]
            result.append(matrix)
        return result

    return matrices


def batched(scorer) -> UtilityMatrices:
    return lambda metric, reason_sets: scorer.pair_matrices(reason_sets)


def best_time(rule: SelectionRule, sets: list[list[str]], make_utilities: Callable[[], UtilityMatrices],
              repeats: int) -> tuple[float, list[Selection]]:
    """The best time of ``repeats`` selections (scorers built before each, untimed) and the selections."""
    times, selections = [], []
    for _ in range(repeats):
        utilities = make_utilities()
        start = time.perf_counter()
        selections = select(rule, sets, utilities=utilities)
        times.append(time.perf_counter() - start)
    return min(times), selections


def ties_apart(name: str, fast: list[Selection], slow: list[Selection]) -> int:
    """How many items the two choose differently, each a tie within ``TIE`` by the slow utilities
    (float32 rounding decides those); any other difference stops the benchmark."""
    ties = 0
    for index, (one, other) in enumerate(zip(fast, slow, strict=True)):
        if one.chosen != other.chosen:
            best, picked = other.candidates[other.chosen].utility, other.candidates[one.chosen].utility
            if best is None or picked is None or picked < best - TIE:
                raise SystemExit(f"{name}: item {index}: the batched utilities choose another candidate")
            ties += 1
    return ties


def compare(name: str, rule: SelectionRule, sets: list[list[str]], fast: Callable[[], UtilityMatrices],
            slow: dict[str, Callable[[], UtilityMatrices]], repeats: int) -> None:
    best_time(rule, sets[:1], fast, 1)  # imports what the first score call imports, untimed
    fast_time, fast_selections = best_time(rule, sets, fast, repeats)
    pairs = sum(len(candidates) * (len(candidates) - 1) for candidates in sets)
    print(f"{name}: {len(sets)} items, {pairs} ordered pairs, rule {rule.describe()}")
    print(f"  {'batched (pair_matrices)':<37} {fast_time:8.3f} s")
    for label, make_slow in slow.items():
        slow_time, slow_selections = best_time(rule, sets, make_slow, repeats)
        ties = ties_apart(name, fast_selections, slow_selections)
        same = "same choices" + (f" but {ties} tie(s) within {TIE:g}" if ties else "")
        print(f"  {label:<37} {slow_time:8.3f} s   batched is {slow_time / fast_time:5.1f}x faster ({same})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--candidates", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # measured on a shared machine: one thread is steadier than torch's default
    sets = sampled_candidates(args.items, args.candidates)
    distinct = len({text for candidates in sets for text in candidates})
    print(f"{distinct} distinct candidates; torch threads: {torch.get_num_threads()}")
    compare("ROUGE-1", SelectionRule.parse("mbr:rouge1"), sets, lambda: batched(Rouge1Scorer(cache_size=0)),
            {"pair by pair, cache_size=0": lambda: one_pair_at_a_time(Rouge1Scorer(cache_size=0))}, args.repeats)
    with tempfile.TemporaryDirectory() as folder:
        model = str(build_tiny_bert(folder, [text for candidates in sets for text in candidates]))

        def bert(cache_size: int) -> BertScoreScorer:
            return BertScoreScorer(model, num_layers=2, device="cpu", cache_size=cache_size)

        compare("BERTScore (tiny BERT, CPU)", SelectionRule.parse("mbr:bertscore"), sets, lambda: batched(bert(0)),
                {"pair by pair, cache_size=0": lambda: one_pair_at_a_time(bert(0)),
                 "pair by pair, default cache (cold)": lambda: one_pair_at_a_time(bert(2048))}, args.repeats)


if __name__ == "__main__":
    main()
