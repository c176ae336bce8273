"""GRPO reward functions built on the contest metrics in ``malpyeong_eval`` (TRL's protocol).

    from rewards import format_reward, rouge1_reward, exact_match_reward, ContestReward
    trainer = GRPOTrainer(..., reward_funcs=[format_reward, exact_match_reward, rouge1_reward])

Importing this package loads no model, tagger or framework: each reward builds its scorers on
first use from the core's per-process pool (:mod:`malpyeong_eval.metrics.pool`, re-exported here:
``shared_scorer``, ``loaded_scorers``, ``clear_scorers``), and pickles without them.
"""

from malpyeong_eval.metrics.pool import clear_scorers, loaded_scorers, shared_scorer

from .completions import MAX_COMPLETION_CHARS, completion_text
from .functions import (
    EXTRA_COLUMNS,
    FORMAT_CREDIT,
    BertScoreReward,
    BleurtReward,
    ContestReward,
    ContextReward,
    ExactMatchReward,
    FormatReward,
    MetricReward,
    Rouge1Reward,
    ScorerReward,
    context_reward,
    exact_match_reward,
    format_reward,
    metric_reward,
    rouge1_reward,
)

__all__ = [
    "EXTRA_COLUMNS",
    "FORMAT_CREDIT",
    "MAX_COMPLETION_CHARS",
    "BertScoreReward",
    "BleurtReward",
    "ContestReward",
    "ContextReward",
    "ExactMatchReward",
    "FormatReward",
    "MetricReward",
    "Rouge1Reward",
    "ScorerReward",
    "clear_scorers",
    "completion_text",
    "context_reward",
    "exact_match_reward",
    "format_reward",
    "loaded_scorers",
    "metric_reward",
    "rouge1_reward",
    "shared_scorer",
]
