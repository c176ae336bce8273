"""GRPO reward functions built on the contest metrics in ``malpyeong_eval`` (TRL's protocol).

    from rewards import ContestReward, MetricReward, ScorerOptions, exact_match_reward, format_reward, rouge1_reward
    bertscore_reward = MetricReward("bertscore", ScorerOptions(device="cuda:0", batch_size="auto"))
    trainer = GRPOTrainer(..., reward_funcs=[format_reward, exact_match_reward, rouge1_reward, bertscore_reward])

Importing this package loads no model, tagger or framework: each reward builds its scorers on
first use from the core's per-process pool (:mod:`malpyeong_eval.metrics.pool`, re-exported here:
``shared_scorer``, ``loaded_scorers``, ``clear_scorers``), and pickles without them.
"""

from malpyeong_eval.metrics.options import ScorerOptions
from malpyeong_eval.metrics.pool import clear_scorers, loaded_scorers, shared_scorer

from .completions import MAX_COMPLETION_CHARS, completion_text
from .functions import (
    EXTRA_COLUMNS,
    FORMAT_CREDIT,
    ContestReward,
    MetricReward,
    PartsLogging,
    context_reward,
    exact_match_reward,
    format_reward,
    rouge1_reward,
)

__all__ = [
    "EXTRA_COLUMNS",
    "FORMAT_CREDIT",
    "MAX_COMPLETION_CHARS",
    "ContestReward",
    "MetricReward",
    "PartsLogging",
    "ScorerOptions",
    "clear_scorers",
    "completion_text",
    "context_reward",
    "exact_match_reward",
    "format_reward",
    "loaded_scorers",
    "rouge1_reward",
    "shared_scorer",
]
