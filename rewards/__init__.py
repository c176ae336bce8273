"""GRPO reward functions built on the contest metrics in ``malpyeong_eval`` (TRL's protocol).

    from rewards import format_reward, rouge1_reward, exact_match_reward, ContestReward
    trainer = GRPOTrainer(..., reward_funcs=[format_reward, exact_match_reward, rouge1_reward])
"""

from .completions import MAX_COMPLETION_CHARS, completion_text
from .functions import (
    FORMAT_CREDIT,
    BertScoreReward,
    BleurtReward,
    ContestReward,
    ExactMatchReward,
    FormatReward,
    MetricReward,
    Rouge1Reward,
    exact_match_reward,
    format_reward,
    rouge1_reward,
)

__all__ = [
    "FORMAT_CREDIT",
    "MAX_COMPLETION_CHARS",
    "BertScoreReward",
    "BleurtReward",
    "ContestReward",
    "ExactMatchReward",
    "FormatReward",
    "MetricReward",
    "Rouge1Reward",
    "completion_text",
    "exact_match_reward",
    "format_reward",
    "rouge1_reward",
]
