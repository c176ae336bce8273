"""Rewards on GRPO-shaped batches: ours against the plain reference on the same pairs, one run.

Batches of 16 golds x 8 completions; the same golds come back in later epochs with
new completions. ``rouge1_reward`` is timed against the plain organizers' algorithm,
the BERTScore ``MetricReward`` against ``bert_score.score`` (a BERT of mBERT's shape with random
weights, built locally: the real model cannot be downloaded here). Values are
checked equal, then the ratios are printed.

    python benchmarks/rewards_speed.py [--epochs 3] [--steps 4]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reference.rouge import plain_rouge1  # noqa: E402
from benchmarks.rouge1_speed import synthetic_reasons  # noqa: E402
from malpyeong_eval import load_items, sample_path  # noqa: E402
from malpyeong_eval.parsing import split_answer  # noqa: E402


def mbert_shaped(directory: Path, texts: list[str]) -> str:
    """A 12-layer, 768-wide BERT (mBERT's shape) with a local vocabulary and random weights."""
    import torch
    from transformers import BertConfig, BertModel

    from malpyeong_eval.tiny_models import build_tiny_bert

    build_tiny_bert(directory, texts)
    vocab_size = len((directory / "vocab.txt").read_text(encoding="utf-8").splitlines())
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=vocab_size)).save_pretrained(directory)
    return str(directory)


def batches(epochs: int, steps: int, rng: random.Random) -> list[tuple[list[str], list[str]]]:
    """(completions, golds) per step: 16 golds x 8 fresh completions, golds repeating each epoch."""
    golds = [f'"문장 {i}."가 옳다. {reason}' for i, reason in enumerate(synthetic_reasons(16 * steps, rng))]
    completions = iter(synthetic_reasons(16 * 8 * steps * epochs, rng))
    result = []
    for _ in range(epochs):
        for step in range(steps):
            step_golds = [gold for gold in golds[step * 16 : (step + 1) * 16] for _ in range(8)]
            result.append(([f'"문장."가 옳다. {next(completions)}' for _ in step_golds], step_golds))
    return result


def timed(function, steps) -> tuple[float, list[float]]:
    start = time.perf_counter()
    values = [value for completions, golds in steps for value in function(completions, golds)]
    return time.perf_counter() - start, values


def report(name: str, reference: tuple[float, list[float]], ours: tuple[float, list[float]], tolerance: float) -> None:
    worst = max(abs(a - b) for a, b in zip(reference[1], ours[1], strict=True))
    if worst > tolerance:
        raise SystemExit(f"{name}: values differ by {worst:g} (> {tolerance:g})")
    print(f"{name:<16} reference={reference[0]:7.3f}s  ours={ours[0]:7.3f}s  speed-up={reference[0] / ours[0]:5.1f}x  max |diff|={worst:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--steps", type=int, default=4, help="steps per epoch")
    parser.add_argument("--skip-bertscore", action="store_true")
    args = parser.parse_args()
    steps = batches(args.epochs, args.steps, random.Random(0))
    print(f"{len(steps)} steps of {len(steps[0][0])} completions ({args.epochs} epochs)")

    from rewards import MetricReward, ScorerOptions, rouge1_reward

    def plain(completions, golds):
        return [plain_rouge1(split_answer(g).reason, split_answer(c).reason) for c, g in zip(completions, golds, strict=True)]

    report("rouge1_reward", timed(plain, steps), timed(lambda c, g: rouge1_reward(c, answer=g), steps), 0.0)
    if args.skip_bertscore:
        return
    import bert_score

    with tempfile.TemporaryDirectory() as folder:
        texts = [item.answer for item in load_items(sample_path("gold"))] + [c for completions, _ in steps[:2] for c in completions]
        model = mbert_shaped(Path(folder), texts)
        reward = MetricReward("bertscore", ScorerOptions(bertscore_model=model, bertscore_layers=9, device="cpu"), clip=False)
        scorer = bert_score.BERTScorer(model_type=model, num_layers=9, device="cpu")

        def reference(completions, golds):
            cands = [split_answer(c).reason for c in completions]
            refs = [split_answer(g).reason for g in golds]
            return scorer.score(cands, refs)[2].tolist()

        report("bertscore_reward", timed(reference, steps), timed(lambda c, g: reward(c, answer=g), steps), 1e-5)


if __name__ == "__main__":
    main()
