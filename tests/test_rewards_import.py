"""Importing and building the rewards loads nothing; what a reward loads is what its metrics need."""

import doctest
import json
import subprocess
import sys
from pathlib import Path

import malpyeong_eval.metrics.pool

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("mecab", "_mecab", "torch", "transformers")


def python(code: str) -> str:
    """Run ``code`` in a fresh interpreter (nothing imported yet) and return its last output line."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_import_loads_no_tagger_model_or_framework():
    loaded = python(f"import rewards, sys; print(any(m.startswith({HEAVY!r}) for m in sys.modules))")
    assert loaded == "False"


def test_constructing_and_pickling_rewards_loads_nothing():
    code = f"""
import pickle, sys
from rewards import ContestReward, MetricReward, PartsLogging, ScorerOptions, loaded_scorers
options = ScorerOptions(bertscore_model="no-such-bert", bertscore_layers=2, bleurt_model="no-such-bleurt", device="cpu",
                        batch_size=8)
built = [MetricReward("bertscore", options), MetricReward("bleurt", options), ContestReward(),
         PartsLogging(ContestReward(("em", "bertscore"), options))]
for reward in built:
    pickle.loads(pickle.dumps(reward))
print(any(m.startswith({HEAVY!r}) for m in sys.modules) or bool(loaded_scorers()))
"""
    assert python(code) == "False"


def test_contest_reward_loads_only_its_metrics():
    code = """
import json, sys
from rewards import ContestReward, loaded_scorers
reward = ContestReward(metrics=("em", "rouge1"))
values = reward(['"가"가 옳다. 어간이 바뀐다.'], answer=['"가"가 옳다. 어간이 바뀐다.'])
print(json.dumps({"values": values, "pool": [key[0] for key in loaded_scorers()],
                  "frameworks": sorted({m.split(".")[0] for m in sys.modules if m.startswith(("torch", "transformers", "bert_score", "nltk"))})}))
"""
    # only its own metrics: strict EM (Final's), not the lenient EM that --metrics em adds; ROUGE-1
    # without nltk (rouge-score's stemmer, ~3 s a process, never used here)
    assert json.loads(python(code)) == {"values": [1.0], "pool": ["exact_match", "rouge1"], "frameworks": []}


def test_pool_docstring_examples():
    result = doctest.testmod(malpyeong_eval.metrics.pool)
    assert result.attempted > 0 and result.failed == 0
