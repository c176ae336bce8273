"""Batched generation (`malpyeong-eval run`) against the baseline's one-item-at-a-time loop.

Both run as whole processes on the same tiny local Qwen2 model, the same items and the
same token budget (greedy decoding; the random tiny model rarely stops early, so both
spend the whole budget); prints both times and the ratio. Process start-up (importing
torch and transformers, a few seconds) is inside both times.

    python benchmarks/generation_speed.py [--items 40] [--max-new-tokens 512] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from malpyeong_eval.data import load_items, sample_path  # noqa: E402
from malpyeong_eval.tiny_models import build_tiny_qwen2  # noqa: E402


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--max-new-tokens", type=int, default=512, help="the baseline uses 1024")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--model", help="a local model directory (default: a tiny Qwen2 built here)")
    args = parser.parse_args()
    data = sample_path("gold")
    with tempfile.TemporaryDirectory() as folder:
        model = args.model
        if model is None:
            items = load_items(data)
            model = str(build_tiny_qwen2(Path(folder) / "policy", [i.answer or "" for i in items] + [i.question for i in items]))
        budget = ["--max-new-tokens", str(args.max_new_tokens), "--limit", str(args.items)]
        baseline = timed([sys.executable, str(Path(__file__).with_name("baseline_generate.py")), model, str(data),
                          str(Path(folder) / "baseline.json"), *budget])
        ours = timed([sys.executable, "-m", "malpyeong_eval", "run", model, "--no-record", "--metrics", "em",
                      "--batch-size", str(args.batch_size), "--runs-dir", str(Path(folder) / "runs"), *budget])
    print(f"items={args.items} max_new_tokens={args.max_new_tokens} batch_size={args.batch_size}")
    print(f"baseline one-at-a-time: {baseline:7.2f}s   malpyeong-eval run: {ours:7.2f}s   speed-up: {baseline / ours:4.1f}x")


if __name__ == "__main__":
    main()
