"""GRPO reward functions built on the contest metrics in ``malpyeong_eval`` (TRL's protocol).

    from rewards import format_reward, rouge1_reward, exact_match_reward, ContestReward
    trainer = GRPOTrainer(..., reward_funcs=[format_reward, exact_match_reward, rouge1_reward])

Importing this package loads no model, tagger or framework: each reward builds its scorers on
first use from one per-process pool (``rewards.scorers``), and pickles without them.
"""

from .completions import MAX_COMPLETION_CHARS, completion_text
from .functions import (
    EXTRA_COLUMNS,
    FORMAT_CREDIT,
    BertScoreReward,
    BleurtReward,
    ContestReward,
    ExactMatchReward,
    FormatReward,
    MetricReward,
    Rouge1Reward,
    ScorerReward,
    exact_match_reward,
    format_reward,
    rouge1_reward,
)
from .scorers import clear_scorers, contest_scorer, loaded_scorers, shared_scorer

__all__ = [
    "EXTRA_COLUMNS",
    "FORMAT_CREDIT",
    "MAX_COMPLETION_CHARS",
    "BertScoreReward",
    "BleurtReward",
    "ContestReward",
    "ExactMatchReward",
    "FormatReward",
    "MetricReward",
    "Rouge1Reward",
    "ScorerReward",
    "clear_scorers",
    "completion_text",
    "contest_scorer",
    "exact_match_reward",
    "format_reward",
    "loaded_scorers",
    "rouge1_reward",
    "shared_scorer",
]
