"""``RunRequest``: the run as one value, checked in one place with the messages ``run`` printed before
it existed (each naming its flag), spelled back as ``run``'s words; ``RunOutcome`` as a table. No model
is loaded here."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.generation import Decoding, EngineOptions, GenerationSettings
from malpyeong_eval.metrics.options import ScorerOptions
from malpyeong_eval.recording import Recording
from malpyeong_eval.generation import MAX_SEED
from malpyeong_eval.runs import FLAGS, Follow, RunData, RunRequest, Sampling
from malpyeong_eval.tracking import Tracking

SERVED = EngineOptions(backend="openai", base_url="http://127.0.0.1:8000/v1")


@pytest.mark.parametrize(("request_fields", "message"), [
    ({"engine": EngineOptions(backend="tgi")}, "unknown --backend 'tgi'; choose from transformers, vllm, openai"),
    ({"follow": Follow(poll_seconds=1.0)}, "--poll-seconds goes with --follow"),
    ({"follow": Follow(idle_timeout=3.0)}, "--idle-timeout goes with --follow"),
    ({"follow": Follow(until_step=10)}, "--until-step goes with --follow"),
    ({"follow": Follow(enabled=True), "engine": SERVED},
     "--follow evaluates checkpoints as they are written; a served model has none"),
    ({"checkpoint": None}, "give a CHECKPOINT (a model directory, adapter, training folder or Hub id)"),
    ({"engine": EngineOptions(base_url="http://x")}, "--base-url goes with --backend openai"),
    ({"engine": EngineOptions(api_key_env="KEY")}, "--api-key-env goes with --backend openai"),
    ({"engine": EngineOptions(model_name="m")}, "--model-name goes with --backend openai"),
    ({"engine": EngineOptions(vllm_args=(("tensor_parallel_size", 2),))}, "--vllm-args goes with --backend vllm"),
    ({"engine": EngineOptions(backend="openai")}, "--backend openai needs --base-url (e.g. http://127.0.0.1:8000/v1)"),
    ({"follow": Follow(enabled=True), "recording": Recording(name="x")},
     "--name names one run; --follow records one run per checkpoint"),
    ({"follow": Follow(enabled=True), "output": Path("sub.json")},
     "--output writes one submission; --follow writes one per checkpoint in --runs-dir"),
    ({"metrics": ("em", "bleu")}, "unknown metric 'bleu'; choose from em,rouge1,bertscore,bleurt"),
    ({"sampling": Sampling(4, "vote")}, "--samples 4 draws 4 answers per item, and greedy decoding gives the same one "
                                        "each time: add --do-sample (and --temperature) or --preset baseline"),
    ({"sampling": Sampling(2, "vote"), "decoding": Decoding(GenerationSettings(do_sample=True, seed=MAX_SEED))},
     f"--seed {MAX_SEED}: candidate k is drawn with seed+k, which must stay at most {MAX_SEED}"),
])
def test_each_rule_refuses_with_the_message_naming_the_flags(request_fields, message):
    with pytest.raises(MalpyeongError) as refused:
        RunRequest(**{"checkpoint": "model", **request_fields})
    assert str(refused.value) == message


def test_a_request_is_normalized_and_the_served_model_needs_no_checkpoint():
    assert RunRequest("model", metrics=("rouge1", "em")).metrics == ("em", "rouge1")  # canonical order
    assert RunRequest(engine=SERVED).checkpoint is None
    assert Follow(enabled=True, until_step=3) == RunRequest("folder", follow=Follow(enabled=True, until_step=3)).follow


def _run_command():
    from malpyeong_eval.cli import click_command

    return click_command().commands["run"]  # type: ignore[attr-defined]


@pytest.mark.parametrize("request_value", [
    RunRequest("model"),
    RunRequest("folder", base_model="base", data=RunData(Path("/d/items.json"), 5, "dev"), prompt_file="contest-cite",
               decoding=Decoding(GenerationSettings(max_new_tokens=64, do_sample=True, temperature=0.5, top_p=0.9,
                                                    repetition_penalty=1.1, seed=3), None),
               engine=EngineOptions(backend="vllm", device="cpu", trust_remote_code=True,
                                    vllm_args=(("dtype", "bfloat16"), ("enforce_eager", True), ("tensor_parallel_size", 2))),
               scorer=ScorerOptions("bert", 2, "bleurt", "cpu", "auto"), metrics=("em", "bleurt"),
               runs_dir=Path("/r"), recording=Recording(False, "sqlite:///b.db", None, ("a", "b c")),
               follow=Follow(True, 0.5, 4.0, 20), tracking=Tracking("trackio", "team")),
    RunRequest("model", decoding=Decoding.of(temperature=0.8), sampling=Sampling(8, "vote+mbr:bertscore,rouge1")),
    RunRequest("served-name", decoding=Decoding.of("baseline", max_new_tokens=8),
               engine=replace(SERVED, api_key_env="KEY", model_name="m", concurrency=2, request_timeout=9.5, max_retries=0),
               scorer=ScorerOptions(batch_size=16), output=Path("/o/sub.json"), recording=Recording(name="n")),
])
def test_command_words_read_back_as_the_same_request(request_value):
    """Spelled with run's flags and parsed by run's own click command (the same parse as the command's),
    a request comes back whole: a renamed flag or a field the spelling forgets fails here."""
    from malpyeong_eval.cli.run import run_request

    words = request_value.command_words()
    assert run_request(_run_command().make_context("run", list(words)).params) == request_value
    if request_value.decoding.settings.preset:
        assert "--preset" in words and "--temperature" not in words  # the preset's own values are its name


@pytest.mark.parametrize(("sampling", "message"), [
    ((1, "vote"), "--select chooses among candidates: give --samples N (2 or more) with it"),
    ((3, None), "--samples 3 needs --select RULE to choose the answer (vote, mbr:rouge1, vote+mbr:rouge1,bertscore ...)"),
    ((0, None), "--samples 0: must be a whole number from 1"),
    ((2, "mbr:bleu"), "--select 'mbr:bleu': unknown metric 'bleu'; give vote, mbr:METRIC[,METRIC...] or "
                      "vote+mbr:METRIC[,METRIC...] (METRIC: rouge1, bertscore, bleurt)"),
])
def test_sampling_refuses_a_rule_without_candidates_and_candidates_without_a_rule(sampling, message, cli):
    with pytest.raises(MalpyeongError) as refused:
        Sampling(*sampling)
    assert str(refused.value) == message
    words = ["--samples", str(sampling[0]), *(["--select", sampling[1]] if sampling[1] else []), "--do-sample"]
    code, out, err = cli("run", "no-such-model", *words)  # refused as the flags are read: nothing loads
    lines = err.strip().splitlines()
    assert (code, out, len(lines)) == (2, "", 1)
    assert lines[0] == f"error: {message}" if sampling[0] else "'--samples'" in lines[0]  # 0: click's own range check
    assert RunRequest("model").sampling == Sampling() and not Sampling().enabled  # one greedy answer by default


def test_what_runs_flags_cannot_say_is_refused_and_every_flag_is_runs():
    with pytest.raises(MalpyeongError, match="one --device"):
        RunRequest("model", scorer=ScorerOptions(device="cuda:1")).command_words()
    with pytest.raises(MalpyeongError, match="run has no flag for tracking.run_name"):
        RunRequest("model", tracking=Tracking(run_name="x")).command_words()
    options = {opt for param in _run_command().params for opt in param.opts}
    assert set(FLAGS.values()) - {"CHECKPOINT"} <= options


def test_an_outcome_renders_as_its_table_with_model_text_inert(tmp_path):
    """In a notebook (HTML) and a terminal (rich): the scores and the status line, a checkpoint's name
    escaped (no markup, no HTML)."""
    from rich.console import Console

    from malpyeong_eval.checkpoints import Target
    from malpyeong_eval.data import Item
    from malpyeong_eval.evaluation import ContestScorer
    from malpyeong_eval.runner import RunOutcome
    from malpyeong_eval.runs import RunNote, RunOutcomes

    items = [Item("1", "선택형", "q", '"가"가 옳다. 이유'), Item("2", "교정형", "q", '"나"가 옳다. 이유')]
    result = ContestScorer(["em"]).evaluate(items, ['"가"가 옳다. 이유', '"다"가 옳다. 이유'])
    outcome = RunOutcome(Target("m", None, None, "<b>[red]x"), {"1": "a", "2": "b"}, tmp_path / "sub.json", result=result)
    outcomes = RunOutcomes([outcome], [RunNote("stopped (Ctrl-C)")])
    page = outcomes._repr_html_()
    assert "&lt;b&gt;[red]x" in page and "<b>" not in page and "0.5000" in page and "stopped (Ctrl-C)" in page
    console = Console(record=True, width=200)
    console.print(outcomes)
    text = console.export_text()
    assert "<b>[red]x: not recorded; submission" in text and "0.5000" in text
    assert outcomes.to_json() == [outcome.to_json()] and outcome.to_json()["metrics"]["exact_match"] == 0.5
    assert outcomes.failed == 0 and len(outcomes) == 1 and list(outcomes) == [outcome]
