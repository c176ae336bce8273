"""`malpyeong-eval completions`: the completions logs of a real GRPO run (``--grpo log_completions=true``), read back."""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

from malpyeong_eval.data import sample_path

REWARD_NAMES = ["format_reward", "exact_match_reward", "rouge1_reward"]
BATCH = 8  # completions per step: 2 prompts, 4 generations each
TINY_GRPO = ["--grpo", f"per_device_train_batch_size={BATCH}", "--grpo", "num_generations=4", "--grpo", "max_completion_length=16",
             "--grpo", "use_cpu=true", "--grpo", "gradient_accumulation_steps=1"]


def mean_or_none(values: pd.Series) -> float | None:
    """The mean as the command reports it: ``None`` where no completion was scored."""
    mean = float(values.mean())
    return None if math.isnan(mean) else mean


@pytest.fixture(scope="module")
def trained(tiny_policy, tmp_path_factory) -> Path:
    """The output folder of one 2-step GRPO run that logs its completions at each step."""
    from malpyeong_eval.cli import main

    output_dir = tmp_path_factory.mktemp("grpo-completions") / "run"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", [
            "malpyeong-eval", "train", "--model", tiny_policy, "--data", str(sample_path("gold")),
            "--output-dir", str(output_dir), "--rewards", "format,em,rouge1", "--max-steps", "2", "--save-steps", "2",
            "--grpo", "logging_steps=1", "--grpo", "log_completions=true", "--grpo", "report_to=none", *TINY_GRPO])
        with pytest.raises(SystemExit) as info:
            main()
    assert info.value.code == 0
    return output_dir


@pytest.mark.slow
def test_summary_matches_the_parquet_files(trained, cli):
    code, out, err = cli("completions", str(trained), "--json")
    assert code == 0, err
    steps = json.loads(out)["steps"]
    assert [entry["step"] for entry in steps] == [1, 2]  # one per logging step
    for entry in steps:
        frame = pd.read_parquet(trained / "completions" / f"completions_{entry['step']:05d}.parquet")
        assert {"answer_clause", "reason"} <= set(frame.columns)  # logged by PartsLogging around the first reward
        assert frame["answer_clause"].notna().any()
        assert entry["n"] == len(frame) == BATCH
        assert list(entry["rewards"]) == REWARD_NAMES
        for name in REWARD_NAMES:
            assert entry["rewards"][name] == pytest.approx(mean_or_none(frame[name]))
        assert entry["format_ok"] == pytest.approx(float((frame["format_reward"] == 1.0).mean()))


@pytest.mark.slow
def test_one_step_lists_its_completions(trained, cli):
    code, out, err = cli("completions", str(trained), "--step", "2", "--json")
    assert code == 0, err
    rows = json.loads(out)["completions"]
    frame = pd.read_parquet(trained / "completions" / "completions_00002.parquet")
    assert [row["completion"] for row in rows] == [messages[-1]["content"] for messages in frame["completion"]]
    assert all("[질문]" in row["prompt"] and "어시스턴트" not in row["prompt"] for row in rows)  # the user's, not the system's
    assert [row["rewards"]["rouge1_reward"] for row in rows] == pytest.approx(frame["rouge1_reward"].tolist())
    code, out, err = cli("completions", str(trained), "--step", "2")
    assert code == 0 and "completions at step 2" in out and "advantage" in out


@pytest.mark.slow
def test_a_missing_step_is_one_line_naming_the_logged_steps(trained, cli):
    code, _, err = cli("completions", str(trained), "--step", "9")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "logged steps: 1, 2" in err, err


@pytest.mark.slow
def test_a_damaged_file_is_one_line_naming_it(trained, tmp_path, cli):
    copy = tmp_path / "run"
    shutil.copytree(trained / "completions", copy / "completions")
    (copy / "completions" / "completions_00002.parquet").write_bytes(b"\x00garbage, not parquet\n" * 8)
    code, _, err = cli("completions", str(copy))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "completions_00002.parquet" in err, err


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
