"""ROUGE-1: ours against the plain organizers' algorithm, same 5,000 pairs, one run.

Two sets: GRPO-shaped (each gold reason repeats 8 times against distinct
predictions) and 5,000 distinct pairs. Prints the time of each and the ratio, and
checks the values are identical.

    python benchmarks/rouge1_speed.py [--pairs 5000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reference.rouge import plain_rouge1  # noqa: E402
from malpyeong_eval import load_items, sample_path, split_answer  # noqa: E402
from malpyeong_eval.metrics.rouge import Rouge1Scorer  # noqa: E402


def synthetic_reasons(count: int, rng: random.Random) -> list[str]:
    """Distinct reason-like texts (~150 characters) recombined from the sample's words."""
    words = [w for name in ("gold", "submission") for item in load_items(sample_path(name)) for w in split_answer(item.answer or "").reason.split()]
    texts: set[str] = set()
    while len(texts) < count:
        texts.add(" ".join(rng.choice(words) for _ in range(rng.randint(20, 45))))
    return sorted(texts)


def timed(function, pairs) -> tuple[float, list[float]]:
    start = time.perf_counter()
    values = [function(reference, prediction) for reference, prediction in pairs]
    return time.perf_counter() - start, values


def compare(name: str, pairs: list[tuple[str, str]]) -> float:
    plain_time, plain_values = timed(plain_rouge1, pairs)
    scorer = Rouge1Scorer()  # fresh: nothing cached before the run
    ours_time, our_values = timed(lambda reference, prediction: scorer.score([reference], [prediction])[0], pairs)
    if our_values != plain_values:
        raise SystemExit(f"{name}: values differ from the plain implementation")
    ratio = plain_time / ours_time
    print(f"{name:<28} pairs={len(pairs):>5}  plain={plain_time:7.3f}s  ours={ours_time:7.3f}s  speed-up={ratio:6.1f}x  (values identical)")
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5000)
    args = parser.parse_args()
    rng = random.Random(0)
    golds = synthetic_reasons(args.pairs // 8, rng)
    predictions = synthetic_reasons(args.pairs * 2, rng)
    rng.shuffle(predictions)
    repeated = [(golds[i // 8], predictions[i]) for i in range(args.pairs)]
    distinct = list(zip(predictions[args.pairs :], predictions[: args.pairs], strict=False))  # as many as the shorter side
    compare("GRPO-shaped (gold x 8)", repeated)
    compare("distinct pairs", distinct)


if __name__ == "__main__":
    main()
