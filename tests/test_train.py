"""`malpyeong-eval train`: a real GRPO run on CPU whose checkpoints land on the leaderboard."""

import json
import math
import shutil

import pandas as pd

import pytest

from leaderboard.store import Leaderboard
from malpyeong_eval.data import sample_path

TINY_GRPO = ["--grpo", "per_device_train_batch_size=8", "--grpo", "num_generations=4", "--grpo", "max_completion_length=24",
             "--grpo", "learning_rate=1e-2", "--grpo", "use_cpu=true", "--grpo", "gradient_accumulation_steps=1"]



@pytest.fixture(scope="module")
def trained(tiny_policy, tmp_path_factory, run_cli):
    """One real GRPO run on CPU (2 steps, a checkpoint every step, each scored inline, step 0 too) reported
    to trackio and logging its completions, read by the tests below: what the leaderboard holds, what
    trackio holds, what ``completions`` reads."""
    import uuid

    folder = tmp_path_factory.mktemp("train")
    project = f"malpyeong-test-{uuid.uuid4().hex[:8]}"
    db = f"sqlite:///{folder / 'board.db'}"
    code, out, err = run_cli(
        "train", "--model", tiny_policy, "--data", str(sample_path("gold")),
        "--output-dir", str(folder / "grpo-run"), "--rewards", "format,rouge1", "--max-steps", "2", "--save-steps", "1",
        "--eval-data", str(sample_path("gold")), "--eval-limit", "6", "--eval-metrics", "em,rouge1",
        "--eval-max-new-tokens", "12", "--eval-start", "--db", db, "--report-to", "trackio", "--grpo", f"project={project}",
        "--grpo", "log_completions=true", "--json", *TINY_GRPO,
    )
    assert code == 0, err[-2000:]
    return {"summary": json.loads(out), "db": db, "project": project, "folder": folder, "err": err}


def test_train_records_each_checkpoint(trained, cli):
    summary, db = trained["summary"], trained["db"]
    assert [row["step"] for row in summary["evaluations"]] == [0, 1, 2]  # --eval-start scores step 0
    runs = sorted(Leaderboard(db).runs(tag="train:grpo-run"), key=lambda run: run.step)
    assert [(run.step, run.name) for run in runs] == [
        (0, "grpo-run/checkpoint-0"), (1, "grpo-run/checkpoint-1"), (2, "grpo-run/checkpoint-2")]
    assert all(run.n == 6 and run.metrics["rouge1"] is not None for run in runs)
    assert [row["step"] for row in summary["rewards"]] == [1, 2]
    assert all("rewards/format_reward/mean" in row and "rewards/rouge1_reward/mean" in row for row in summary["rewards"])
    code, out, _ = cli("plot", "--tag", "train:grpo-run", "--db", db, "-o", str(trained["folder"] / "c.png"))
    assert code == 0 and "3 checkpoints" in out


def test_train_says_what_it_does_and_nothing_a_user_cannot_act_on(trained, tiny_policy):
    """Each logged step is one line (not the trainer's raw dictionaries); TRL's calls of transformers'
    deprecated names (FutureWarning) and the tokenizer's length warning for prompts within the model's
    context stay out; the model card names the base model, a local folder (TRL's own card says None)."""
    err = trained["err"]
    assert "step 1/2: reward" in err and "step 2/2: reward" in err and "trained 2 steps in" in err
    assert "{'loss'" not in err and "FutureWarning" not in err and "Token indices sequence length" not in err
    card = (trained["folder"] / "grpo-run" / "README.md").read_text(encoding="utf-8")
    assert f"fine-tuned version of the local model `{tiny_policy}`" in card and "huggingface.co/None" not in card
    assert f'model="{trained["folder"] / "grpo-run" / "checkpoint-2"}"' in card


def test_log_line():
    from train.trainer import log_line

    logs = {"loss": 0.00123, "reward": 0.4149, "rewards/format_reward/mean": 0.9, "rewards/rouge1_reward/mean": 0.21,
            "rewards/format_reward/std": 0.1}
    assert log_line(logs, 3, 40) == "step 3/40: reward 0.415 (format 0.9, rouge1 0.21), loss 0.00123"
    assert log_line({"train_runtime": 43.12, "train_loss": 0.0}, 40, 40) == "trained 40 steps in 43.1 s"
    assert log_line({"eval_loss": 1.0}, 3, 40) is None


def test_yaml_config_with_lora_is_read(tmp_path):
    from train.config import LoraSettings, load_settings, validate

    config = tmp_path / "grpo.yaml"
    config.write_text(
        f"model: /models/qwen\ndata: {sample_path('gold')}\nrewards: [format, em, contest]\nreward_weights: [0.5, 1, 1]\n"
        "lora: {r: 8, alpha: 16}\ngrpo:\n  learning_rate: 3e-6\n  beta: 0.04\n",
        encoding="utf-8",
    )
    settings = load_settings(config, {"output_dir": str(tmp_path / "out")}, ["num_generations=4"])
    grpo = validate(settings)
    assert settings.lora == LoraSettings(r=8, alpha=16) and settings.rewards == ["format", "em", "contest"]
    assert grpo.learning_rate == 3e-6 and grpo.beta == 0.04 and grpo.reward_weights == [0.5, 1.0, 1.0]
    assert grpo.gradient_accumulation_steps == 2 and grpo.num_train_epochs == 3  # the recipe's defaults
    assert grpo.chat_template_kwargs == {"enable_thinking": False}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--rewards", "format,bleu"], "unknown reward 'bleu'"),
        (["--grpo", "learning_rat=1e-5"], "unknown GRPOConfig field 'learning_rat'"),
        (["--reward-weights", "1,2,3"], "3 reward weights for 2 rewards"),
        (["--data", "/nonexistent/train.json"], "training data file not found"),
        (["--eval-data", "/nonexistent/dev.json"], "evaluation data file not found"),
        (["--grpo", "per_device_train_batch_size=3", "--grpo", "num_generations=4", "--grpo", "gradient_accumulation_steps=1"], "invalid GRPO configuration"),
        (["--grpo", "nonsense"], "KEY=VALUE"),
        (["--grpo", "learning_rate=abc"], "GRPOConfig field 'learning_rate' takes float"),
        (["--use-vllm"], "--use-vllm needs"),
        (["--eval-mode", "later"], "--eval-mode: input should be 'inline' or 'follow', got 'later'"),
        (["--eval-mode", "follow"], "--eval-mode follow needs --eval-data"),
        (["--eval-mode", "follow", "--eval-data", str(sample_path("gold")), "--eval-start"], "--eval-start needs --eval-mode inline"),
    ],
)
def test_bad_configuration_fails_before_any_model_is_loaded(args, expected, tmp_path, cli):
    base = ["train", "--model", str(tmp_path / "no-such-model"), "--data", str(sample_path("gold")),
            "--rewards", "format,rouge1", "--output-dir", str(tmp_path / "out")]
    code, _, err = cli(*base, *args)
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err
    assert "no-such-model" not in err  # the model was never touched


@pytest.mark.parametrize("body", ["eval: foo\n", "lora: 5\n", "grpo: [1, 2]\n", "rewards: 5\n", "model: [a]\n",
                                  "eval: {data: 5}\n", "reward_weights: [a, b]\n"])
def test_wrongly_typed_yaml_is_one_line(body, tmp_path, cli):
    config = tmp_path / "typed.yaml"
    config.write_text(body, encoding="utf-8")
    code, _, err = cli("train", "--config", str(config), "--data", str(sample_path("gold")))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_unknown_yaml_key(tmp_path, cli):
    config = tmp_path / "bad.yaml"
    config.write_text("learning_rate: 1e-5\n", encoding="utf-8")
    code, _, err = cli("train", "--config", str(config), "--data", str(sample_path("gold")))
    assert code == 2 and "unknown key 'learning_rate'" in err and "grpo:" in err


def test_shipped_configs_are_valid(tmp_path):
    from pathlib import Path

    import yaml

    from train.config import load_settings, validate

    folder = Path(__file__).resolve().parent.parent / "train" / "configs"
    settings = load_settings(folder / "grpo_qwen3.yaml", {"data": str(sample_path("gold")), "output_dir": str(tmp_path)},
                             ["bf16=false", "use_cpu=true"])
    grpo = validate(settings)
    assert settings.rewards == ["format", "em", "rouge1", "bertscore", "contest"] and grpo.num_generations == 4
    for name in ("accelerate_multi_gpu.yaml", "deepspeed_zero2.yaml", "deepspeed_zero3.yaml"):
        config = yaml.safe_load((folder / name).read_text())
        assert config["distributed_type"] in ("MULTI_GPU", "DEEPSPEED") and config["num_processes"] >= 2
    assert yaml.safe_load((folder / "deepspeed_zero3.yaml").read_text())["deepspeed_config"]["zero_stage"] == 3


def test_resume_continues_from_the_last_checkpoint(tiny_policy, tmp_path, cli):
    common = ["train", "--model", tiny_policy, "--data", str(sample_path("gold")), "--output-dir", str(tmp_path / "run"),
              "--rewards", "format", "--save-steps", "2", "--json", "--grpo", "per_device_train_batch_size=4",
              "--grpo", "num_generations=4", "--grpo", "max_completion_length=8", "--grpo", "use_cpu=true",
              "--grpo", "gradient_accumulation_steps=1"]
    code, out, err = cli(*common, "--max-steps", "2")
    assert code == 0, err[-1000:]
    unscored = [line for line in err.splitlines() if line.startswith("no --eval-data: the checkpoints will not be scored")]
    assert len(unscored) == 1 and f"malpyeong-eval run {tmp_path / 'run'} --follow" in unscored[0]  # said once, with the fix
    first_state = tmp_path / "run" / "checkpoint-2" / "trainer_state.json"
    written = first_state.stat().st_mtime_ns
    code, out, err = cli(*common, "--max-steps", "4", "--resume")
    assert code == 0, err[-1000:]
    assert [row["step"] for row in json.loads(out)["rewards"]] == [1, 2, 3, 4]  # 1-2 restored from checkpoint-2
    assert first_state.stat().st_mtime_ns == written  # checkpoint-2 was not trained and saved again
    assert json.loads((tmp_path / "run" / "checkpoint-4" / "trainer_state.json").read_text())["global_step"] == 4


def test_follow_mode_only_notes_checkpoints_and_prints_the_command_that_scores_them(tiny_policy, tmp_path, cli):
    import shlex

    db = f"sqlite:///{tmp_path / 'board.db'}"
    code, out, err = cli(
        "train", "--model", tiny_policy, "--data", str(sample_path("gold")), "--output-dir", str(tmp_path / "grpo-follow"),
        "--rewards", "format", "--max-steps", "2", "--save-steps", "1", "--eval-mode", "follow",
        "--eval-data", str(sample_path("gold")), "--eval-limit", "4", "--eval-metrics", "em,rouge1",
        "--eval-max-new-tokens", "8", "--db", db, "--json", "--grpo", "per_device_train_batch_size=4",
        "--grpo", "num_generations=4", "--grpo", "max_completion_length=8", "--grpo", "use_cpu=true",
        "--grpo", "gradient_accumulation_steps=1",
    )
    assert code == 0, err[-2000:]
    summary = json.loads(out)
    assert summary["evaluations"] == [] and [row["step"] for row in summary["checkpoints"]] == [1, 2]
    command = summary["follow_command"]
    assert command in err and "--follow" in command and "--until-step 2" in command
    assert not (tmp_path / "board.db").exists() or Leaderboard(db).count() == 0  # nothing scored in training
    words = shlex.split(command)
    assert words[:2] == ["malpyeong-eval", "run"]
    code, out, err = cli(*words[1:], "--json")  # as printed: ends by itself at the last step
    assert code == 0, err
    assert [row["step"] for row in json.loads(out)] == [1, 2]
    runs = sorted(Leaderboard(db).runs(tag="train:grpo-follow"), key=lambda run: run.step)
    assert [(run.step, run.name, run.n) for run in runs] == [
        (1, "grpo-follow/checkpoint-1", 4), (2, "grpo-follow/checkpoint-2", 4)]


def test_contest_reward_loads_only_the_metrics_asked_for():
    from malpyeong_eval.errors import MalpyeongError
    from malpyeong_eval.metrics.pool import clear_scorers, loaded_scorers
    from train.config import TrainSettings, validate
    from train.trainer import build_rewards

    clear_scorers()
    settings = TrainSettings(data=str(sample_path("gold")), rewards=["format", "em", "contest"], contest_metrics="em,rouge1")
    validate(settings)
    rewards = build_rewards(settings, device="cpu")
    assert [reward.__name__ for reward in rewards] == ["format_reward", "exact_match_reward", "contest_reward"]
    assert rewards[2](['"가"가 옳다. 이유가 있다.'], answer=['"가"가 옳다. 이유가 있다.']) == [1.0]
    assert {key[0] for key in loaded_scorers()} <= {"exact_match", "exact_match_lenient", "rouge1"}  # no BERT, no BLEURT
    with pytest.raises(MalpyeongError, match="bleu"):
        validate(TrainSettings(data=str(sample_path("gold")), contest_metrics="em,bleu"))


def test_train_reports_each_checkpoint_to_trackio(trained):
    """--report-to trackio: the training's own trackio run (local, $TRACKIO_DIR) holds each checkpoint's
    EM and ROUGE-1, equal to the leaderboard's, and its per-item table; read back through trackio."""
    import os
    import tempfile
    from pathlib import Path

    import trackio
    from trackio.sqlite_storage import SQLiteStorage

    project = trained["project"]
    (run,) = list(trackio.Api().runs(project))
    assert run.name == "grpo-run"  # named after the output folder, as its leaderboard tag
    local = Path(os.environ["TRACKIO_DIR"]).resolve()  # conftest: a temporary folder, nothing under ~/.cache
    assert local.is_relative_to(Path(tempfile.gettempdir()).resolve())
    assert SQLiteStorage.get_project_db_path(project).resolve().is_relative_to(local)
    logs = SQLiteStorage.get_logs(project, run.name, run_id=run.id)
    evaluations = {row["train/global_step"]: row for row in logs if "eval/exact_match" in row}
    board = {r.step: r for r in Leaderboard(trained["db"]).runs(tag="train:grpo-run")}
    assert sorted(evaluations) == sorted(board) == [0, 1, 2]
    for step, row in evaluations.items():
        assert row["eval/exact_match"] == board[step].metrics["exact_match"]
        assert row["eval/rouge1"] == board[step].metrics["rouge1"]
        assert row["eval/n"] == 6 and "eval/items" in row
    assert any("train/reward" in row for row in logs)  # the same run as the training's own logs


@pytest.mark.parametrize("flag", [["--report-to", "tensorboardx"], ["--grpo", "report_to=mlflowish"]])
def test_unknown_tracker_is_one_line(flag, tmp_path, cli):
    code, _, err = cli("train", "--data", str(sample_path("gold")), "--output-dir", str(tmp_path / "o"), *flag)
    assert code == 2 and "unknown --report-to" in err and len(err.strip().splitlines()) == 1


def test_follow_command_carries_the_tracker(tmp_path):
    import shlex


    from malpyeong_eval.cli import click_command
    from train.config import load_settings, validate
    from train.plan import follow_command

    settings = load_settings(None, {"data": str(sample_path("gold")), "output_dir": str(tmp_path / "out"),
                                    "eval": {"data": str(sample_path("gold")), "mode": "follow"}},
                             ["report_to=trackio", "project=team-runs"])
    words = shlex.split(follow_command(settings, validate(settings)))
    assert words[words.index("--report-to") + 1] == "trackio" and words[words.index("--tracker-project") + 1] == "team-runs"
    run = click_command().commands["run"]  # type: ignore[attr-defined]
    assert {"--report-to", "--tracker-project"} <= {opt for param in run.params for opt in param.opts}
    plain = load_settings(None, {"data": str(sample_path("gold")), "output_dir": str(tmp_path / "out"),
                                 "eval": {"data": str(sample_path("gold")), "mode": "follow"}}, [])
    assert "--report-to" not in follow_command(plain, validate(plain))


def test_a_tracker_that_is_missing_is_one_line(tmp_path, cli):
    import importlib.util

    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    code, _, err = cli("train", "--data", str(sample_path("gold")), "--output-dir", str(tmp_path / "o"), "--report-to", "wandb")
    assert code == 2 and err.strip() == "error: --report-to wandb needs wandb: pip install wandb"


# `malpyeong-eval completions` on the same training's --grpo log_completions=true files
# (tests/test_completions.py has the command on a file of known values).


def mean_or_none(values: pd.Series) -> float | None:
    """The mean as the command reports it: ``None`` where no completion was scored."""
    mean = float(values.mean())
    return None if math.isnan(mean) else mean


@pytest.fixture
def completions_run(trained):
    return trained["folder"] / "grpo-run"


def test_summary_matches_the_parquet_files(completions_run, cli):
    code, out, err = cli("completions", str(completions_run), "--json")
    assert code == 0, err
    steps = json.loads(out)["steps"]
    assert [entry["step"] for entry in steps] == [1, 2]  # one per logging step
    for entry in steps:
        frame = pd.read_parquet(completions_run / "completions" / f"completions_{entry['step']:05d}.parquet")
        assert {"answer_clause", "reason"} <= set(frame.columns)  # logged by PartsLogging around the first reward
        assert frame["answer_clause"].notna().any()
        assert entry["n"] == len(frame) == 8  # per_device_train_batch_size
        assert list(entry["rewards"]) == ["format_reward", "rouge1_reward"]  # the training's --rewards, in order
        for name in entry["rewards"]:
            assert entry["rewards"][name] == pytest.approx(mean_or_none(frame[name]))
        assert entry["format_ok"] == pytest.approx(float((frame["format_reward"] == 1.0).mean()))


def test_one_step_lists_its_completions(completions_run, cli):
    code, out, err = cli("completions", str(completions_run), "--step", "2", "--json")
    assert code == 0, err
    rows = json.loads(out)["completions"]
    frame = pd.read_parquet(completions_run / "completions" / "completions_00002.parquet")
    assert [row["completion"] for row in rows] == [messages[-1]["content"] for messages in frame["completion"]]
    assert all("[질문]" in row["prompt"] and "어시스턴트" not in row["prompt"] for row in rows)  # the user's, not the system's
    assert [row["rewards"]["rouge1_reward"] for row in rows] == pytest.approx(frame["rouge1_reward"].tolist())
    code, out, err = cli("completions", str(completions_run), "--step", "2")
    assert code == 0 and "completions at step 2" in out and "advantage" in out


def test_a_missing_step_is_one_line_naming_the_logged_steps(completions_run, cli):
    code, _, err = cli("completions", str(completions_run), "--step", "9")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "logged steps: 1, 2" in err, err


def test_a_damaged_file_is_one_line_naming_it(completions_run, tmp_path, cli):
    copy = tmp_path / "run"
    shutil.copytree(completions_run / "completions", copy / "completions")
    (copy / "completions" / "completions_00002.parquet").write_bytes(b"\x00garbage, not parquet\n" * 8)
    code, _, err = cli("completions", str(copy))
    assert code == 2 and len(err.strip().splitlines()) == 1 and "completions_00002.parquet" in err, err
