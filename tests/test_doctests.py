"""The docstring examples run (trl.rewards style: every reward's example is real)."""

import doctest
import importlib

import pytest

MODULES = [
    "malpyeong_eval.parsing",
    "malpyeong_eval.cache",
    "malpyeong_eval.metrics.rouge",
    "malpyeong_eval.metrics.pairwise",
    "malpyeong_eval.selection",
    "malpyeong_eval.sampling",
    "malpyeong_eval.norms",
    "malpyeong_eval.evaluation",
    "rewards.functions",
    "malpyeong_eval.batching",
    "malpyeong_eval.metrics.options",
    "leaderboard.store",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
