"""GRPO reward functions built on the contest metrics in `malpyeong_eval`."""
