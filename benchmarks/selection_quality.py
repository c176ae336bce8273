"""Sample and select, measured: greedy decoding against one sample and three selection rules.

On the packaged sample (40 items), with the demo's policy (a tiny Qwen2 warm-started on that sample:
``train.demo.warm_policy``), per seed:

- greedy: ``run`` as it is by default, one answer per item;
- N candidates per item sampled once (``run --samples N --select vote --do-sample --temperature T
  --seed SEED``, through the library: :func:`malpyeong_eval.runs.run_checkpoints`), read back from the
  run's ``generations.jsonl``; then chosen among by each rule with :func:`malpyeong_eval.selection.select`:
  ``one sample`` (candidate 0, what a plain sampled run submits), ``vote``, ``mbr:rouge1`` and
  ``vote+mbr:rouge1,bertscore`` (BERTScore on a tiny local BERT, ``malpyeong_eval.tiny_models``);
- each rule's answers scored (EM, ROUGE-1: :class:`~malpyeong_eval.evaluation.ContestScorer`) and compared
  with greedy's by ``compare``'s paired bootstrap (:func:`leaderboard.compare.interval_deltas`, 2000
  resamples, 95%).

The policy was trained on these very items and is tiny: what a rule gains here says nothing about a
real model on unseen items; the benchmark shows the machinery and how to measure it.

    python benchmarks/selection_quality.py [--samples 8] [--temperature 0.8] [--seeds 0,1,2] [--max-new-tokens 160]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from leaderboard.compare import interval_deltas  # noqa: E402
from malpyeong_eval.data import Item, load_items, sample_path  # noqa: E402
from malpyeong_eval.evaluation import ContestScorer  # noqa: E402
from malpyeong_eval.generation import Decoding, GenerationSettings  # noqa: E402
from malpyeong_eval.metrics.aggregate import summarize  # noqa: E402
from malpyeong_eval.metrics.options import ScorerOptions  # noqa: E402
from malpyeong_eval.recording import Recording  # noqa: E402
from malpyeong_eval.runs import RunRequest, run_checkpoints  # noqa: E402
from malpyeong_eval.sampling import Sampling  # noqa: E402
from malpyeong_eval.selection import SelectionRule, select  # noqa: E402
from malpyeong_eval.submission import read_candidates  # noqa: E402
from malpyeong_eval.tiny_models import TINY_MODELS_VERSION, build_tiny_bert  # noqa: E402
from train.demo import tiny_model_texts, warm_policy  # noqa: E402

RULES = ("vote", "mbr:rouge1", "vote+mbr:rouge1,bertscore")
METRICS = ("em", "rouge1")
SHOWN = ("exact_match", "rouge1")


def rows_of(scorer: ContestScorer, items: list[Item], predictions: list[str]) -> list[dict]:
    """The per-item rows of these answers (what ``compare`` bootstraps)."""
    return [asdict(item) for item in scorer.evaluate(items, predictions).items]


def generate(policy: str, runs: Path, settings: GenerationSettings, sampling: Sampling, options: ScorerOptions,
             batch_size: int) -> tuple[list[list[str]], float]:
    """Each item's candidates (one for greedy) as the run stored them, and the seconds the run took."""
    request = RunRequest(policy, decoding=Decoding(settings, batch_size), sampling=sampling, metrics=METRICS,
                         scorer=options, runs_dir=runs, recording=Recording(record=False))
    started = time.perf_counter()
    outcome = run_checkpoints(request)[0]
    seconds = time.perf_counter() - started
    stored = read_candidates(outcome.submission.parent / "generations.jsonl")
    items = load_items(sample_path("gold"))
    return [[stored[item.id][k].prediction for k in range(sampling.n)] for item in items], seconds


def line(name: str, rows: list[dict], greedy: list[dict], seconds: float | None) -> str:
    """One rule's row: its scores, its deltas against greedy with their intervals, and its seconds."""
    summary = summarize(rows)
    cells = [f"{summary[key]:.4f}" for key in SHOWN]
    if rows is not greedy:
        deltas = interval_deltas(greedy, rows)
        cells += [f"{deltas[key][0]:+.4f} [{deltas[key][1]:+.4f}, {deltas[key][2]:+.4f}]" for key in SHOWN]
    else:
        cells += ["", ""]
    cells.append("" if seconds is None else f"{seconds:.2f}")
    widths = (9, 9, 30, 30, 10)
    return f"{name:<28}" + "".join(f"{cell:>{width}}" for cell, width in zip(cells, widths, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds: one greedy run and one sampled run each")
    parser.add_argument("--max-new-tokens", type=int, default=160)  # the sample's answers: 94 tokens on average, 129 at most
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--cache", type=Path, help="a folder to keep the built models in (default: a temporary one)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temporary:
        cache = (args.cache or Path(temporary)) / TINY_MODELS_VERSION  # models of an older builder are not reused
        texts = tiny_model_texts()
        policy, bert = cache / "policy", cache / "bert"
        started = time.perf_counter()
        if not (policy / "complete").exists():
            warm_policy(policy, texts)
            (policy / "complete").write_text("")
        if not (bert / "complete").exists():
            build_tiny_bert(bert, texts)
            (bert / "complete").write_text("")
        print(f"models ready in {time.perf_counter() - started:.1f} s (policy: the demo's warm start; BERT: tiny, for the bertscore utility)")
        options = ScorerOptions(bertscore_model=str(bert), bertscore_layers=2, device="cpu")  # the tiny BERT has 2 layers
        scorer = ContestScorer(METRICS)
        items = load_items(sample_path("gold"))
        header = f"{'rule':<28}{'EM':>9}{'ROUGE-1':>9}{'EM − greedy [95% CI]':>30}{'ROUGE-1 − greedy [95% CI]':>30}{'seconds':>10}"
        for seed in (int(text) for text in args.seeds.split(",")):
            runs = cache / f"runs-{seed}"
            greedy_sets, greedy_seconds = generate(str(policy), runs, GenerationSettings(args.max_new_tokens, seed=seed),
                                                   Sampling(), options, args.batch_size)
            sampled = GenerationSettings(args.max_new_tokens, do_sample=True, temperature=args.temperature, seed=seed)
            candidate_sets, sampled_seconds = generate(str(policy), runs, sampled, Sampling(args.samples, "vote"), options,
                                                       args.batch_size)
            print(f"\nseed {seed}: {len(items)} items; greedy run {greedy_seconds:.1f} s; {args.samples} candidates per item "
                  f"at temperature {args.temperature:g} in {sampled_seconds:.1f} s (seconds below: the choice alone)")
            print(header)
            greedy = rows_of(scorer, items, [answers[0] for answers in greedy_sets])
            print(line("greedy", greedy, greedy, None))
            print(line("one sample (candidate 0)", rows_of(scorer, items, [answers[0] for answers in candidate_sets]), greedy, None))
            for text in RULES:
                rule = SelectionRule.parse(text)
                started = time.perf_counter()
                selections = select(rule, candidate_sets, options)
                seconds = time.perf_counter() - started
                chosen = [answers[selection.chosen] for answers, selection in zip(candidate_sets, selections, strict=True)]
                print(line(rule.describe(), rows_of(scorer, items, chosen), greedy, seconds))
        print("\nA tiny policy trained on these items: gains here say nothing about a real model on unseen items.")


if __name__ == "__main__":
    main()
