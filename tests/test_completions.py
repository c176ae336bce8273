"""`malpyeong-eval completions` on a file of known values in TRL's layout. The logs of a real GRPO run
(``--grpo log_completions=true``) are read back in tests/test_train.py, from the training run its tests share."""

from __future__ import annotations

import json

import pandas as pd
import pytest


def test_means_skip_unscored_completions_and_format_needs_a_reason(tmp_path, cli):
    """A file in TRL's layout with known values: a reward of None (NaN) is left out of its mean."""
    folder = tmp_path / "completions"
    folder.mkdir()
    user = [{"role": "system", "content": "system"}, {"role": "user", "content": "질문"}]
    pd.DataFrame({
        "step": [3, 3, 3],
        "prompt": [user] * 3,
        "completion": [[{"role": "assistant", "content": text}] for text in ('"가"가 옳다. 이유', '"가"가 옳다.', "설명")],
        "format_reward": [1.0, 0.6, 0.0],
        "rouge1_reward": [0.5, None, 0.25],
        "answer_clause": ['"가"가 옳다', '"가"가 옳다', "설명"],
        "reason": ["이유", "", None],
        "advantage": [1.0, 0.0, -1.0],
    }).to_parquet(folder / "completions_00003.parquet")
    code, out, err = cli("completions", str(tmp_path), "--json")
    assert code == 0, err
    assert json.loads(out)["steps"] == [{"step": 3, "n": 3, "rewards": {"format_reward": pytest.approx(1.6 / 3),
                                                                        "rouge1_reward": 0.375}, "format_ok": pytest.approx(1 / 3)}]
    code, out, _ = cli("completions", str(tmp_path), "--step", "3", "--json")
    assert json.loads(out)["completions"][1] == {"prompt": "질문", "completion": '"가"가 옳다.',
                                                 "rewards": {"format_reward": 0.6, "rouge1_reward": None}, "advantage": 0.0}
    code, _, err = cli("completions", str(tmp_path / "elsewhere"))
    assert code == 2 and "log_completions=true" in err and len(err.strip().splitlines()) == 1, err
