"""``train``'s configuration: flags declared once over the YAML file's keys, strict types, and one
evaluation plan behind both the inline evaluation and the printed ``run --follow`` command."""

import dataclasses
import shlex
from pathlib import Path

import pytest
import typer

from malpyeong_eval.data import sample_path
from malpyeong_eval.errors import MalpyeongError
from tests.manual_support import blocks, manual_pages
from train.config import EvalSettings, LoraSettings, TrainSettings, load_settings

ROOT = Path(__file__).resolve().parent.parent
GOLD = str(sample_path("gold"))


def _train_command():
    from malpyeong_eval.cli import app

    return typer.main.get_group(app).commands["train"]


def _given(*args: str):
    from malpyeong_eval.cli.training import given_settings

    return given_settings(_train_command().make_context("train", list(args)))


def test_every_train_flag_has_a_settings_path():
    from trl import GRPOConfig

    from malpyeong_eval.cli.training import NOT_SETTINGS, setting_path

    sections = {"lora": LoraSettings, "eval": EvalSettings}
    grpo_fields = {field.name for field in dataclasses.fields(GRPOConfig)}
    for param in _train_command().params:
        if param.name in NOT_SETTINGS:
            continue
        head, *rest = setting_path(param.name)
        if not rest:
            assert head in TrainSettings.model_fields, param.name
        elif head == "grpo":
            assert rest[0] in grpo_fields, param.name
        else:
            assert rest[0] in sections[head].model_fields, param.name


def test_flags_lie_over_the_file_section_by_section(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("lora: {r: 16, alpha: 32}\neval: {limit: 5, start: true, metrics: em}\n"
                      "grpo: {max_steps: 7, learning_rate: 3e-6}\nrewards: [format, em]\n", encoding="utf-8")
    overrides, flags = _given("--lora-r", "8", "--eval-metrics", "em,rouge1", "--max-steps", "9", "--rewards", "format,rouge1",
                              "--lora-target-modules", "q_proj,v_proj")
    settings = load_settings(config, overrides, ["max_steps=11"], flags=flags)
    assert settings.lora == LoraSettings(r=8, alpha=32, target_modules=["q_proj", "v_proj"])
    assert settings.eval == EvalSettings(limit=5, start=True, metrics="em,rouge1")  # --eval-start not given: the file's
    assert settings.grpo == {"max_steps": 11, "learning_rate": 3e-6}  # --grpo KEY=VALUE wins over --max-steps
    assert settings.rewards == ["format", "rouge1"]
    assert flags[("lora", "r")] == "--lora-r" and ("eval", "start") not in flags
    assert load_settings(None, {}, []).lora is None and LoraSettings().peft_target_modules == "all-linear"


@pytest.mark.parametrize(("body", "key"), [
    ("bertscore_layers: true\n", "'bertscore_layers'"), ("rewards: 3\n", "'rewards'"), ("eval: {limit: 2.5}\n", "'eval.limit'"),
    ("lora: {r: '8'}\n", "'lora.r'"), ("resume: 1\n", "'resume'"), ("eval: {mode: later}\n", "'eval.mode'"),
    ("lora: {r: 0}\n", "'lora.r'"), ("reward_weights: [1, .inf]\n", "'reward_weights[1]'"), ("eval: {nope: 1}\n", "'eval.nope'"),
])
def test_a_wrongly_typed_key_is_refused_by_name(body, key, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(body, encoding="utf-8")
    with pytest.raises(MalpyeongError) as info:
        load_settings(config, {}, [])
    assert str(info.value).startswith(f"{config}: ") and key in str(info.value) and "\n" not in str(info.value)


def test_a_bad_flag_value_names_the_flag():
    with pytest.raises(MalpyeongError, match=r"^--eval-max-new-tokens: input should be greater than 0, got 0$"):
        overrides, flags = _given("--eval-max-new-tokens", "0")
        load_settings(None, overrides, [], flags=flags)


def _readme_train_commands():
    for block in [text for page in manual_pages() for _, text in blocks(page, ("bash", "shell"))]:
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line.split("  #")[0])
            if "train" in words and ("malpyeong-eval" in words or "malpyeong_eval" in words):
                yield words[words.index("train") + 1:]


@pytest.mark.parametrize("args", list(_readme_train_commands()))
def test_the_readme_train_commands_still_parse(args, monkeypatch):
    monkeypatch.chdir(ROOT)  # their --config paths are the repository's
    ctx = _train_command().make_context("train", list(args))
    overrides, flags = _given(*args)
    settings = load_settings(ctx.params["config"], overrides, ctx.params["grpo"] or [], flags=flags)
    assert settings.data == ctx.params["data"]


def _run_command():
    from malpyeong_eval.cli import app

    return typer.main.get_group(app).commands["run"]


def test_the_follow_command_reads_back_as_the_request_the_inline_evaluation_runs(tmp_path):
    """The printed command, parsed by ``run``'s own click command into ``run``'s request, is the training's
    evaluation request, every field of which was set away from its default; the inline runner is built
    from the same request: a renamed ``run`` flag fails here."""
    from malpyeong_eval.cli.run import run_request
    from malpyeong_eval.runs import FLAGS
    from train.config import validate
    from train.plan import evaluation_request, follow_command
    from train.trainer import evaluation_runner

    overrides, flags = _given(
        "--data", GOLD, "--output-dir", str(tmp_path / "out"), "--eval-data", GOLD, "--eval-limit", "3",
        "--eval-metrics", "em,rouge1", "--eval-max-new-tokens", "16", "--eval-mode", "follow", "--prompt-file", "contest-cite",
        "--bertscore-model", "some/bert", "--bertscore-layers", "3", "--bleurt-model", "some/bleurt", "--trust-remote-code",
        "--db", str(tmp_path / "board.db"), "--max-steps", "6", "--report-to", "trackio")
    settings = load_settings(None, overrides, ["project=team"], flags=flags)
    grpo_config = validate(settings)
    request = evaluation_request(settings, grpo_config)
    assert request is not None
    words = shlex.split(follow_command(settings, grpo_config))
    assert words[:2] == ["malpyeong-eval", "run"]
    parsed = _run_command().make_context("run", words[2:]).params
    assert run_request(parsed) == request  # every field read back as it was
    changed = set(request.changed())
    assert {"checkpoint", "data.path", "data.limit", "data.dataset_name", "prompt_file", "decoding.settings.max_new_tokens",
            "engine.trust_remote_code", "scorer.bertscore_model", "scorer.bertscore_layers", "scorer.bleurt_model",
            "metrics", "runs_dir", "recording.db", "recording.tags", "follow.enabled", "follow.until_step",
            "tracking.report_to", "tracking.project"} <= changed
    assert parsed["follow"] and parsed["checkpoint"] == str((tmp_path / "out").resolve())
    assert request.recording.tags == ("train:out",) and request.follow.until_step == 6 and request.tracking.project == "team"
    runner = evaluation_runner(request, device="cpu")
    assert runner.data is not None
    assert (runner.data.path, runner.dataset_name, runner.limit, runner.settings.max_new_tokens, runner.batch_size,
            runner.runs_root, runner.tags, runner.engine.trust_remote_code, runner.engine.device) == (
        request.data.path, request.data.dataset_name, request.data.limit, request.decoding.settings.max_new_tokens,
        request.decoding.batch_size, request.runs_dir, list(request.recording.tags), True, "cpu")
    assert runner.prompt.cites and list(runner.scorer.metrics) == ["em", "rouge1"]
    run_flags = {opt for param in _run_command().params for opt in param.opts}
    assert set(FLAGS.values()) - {"CHECKPOINT"} <= run_flags  # every flag the map names is one of run's
