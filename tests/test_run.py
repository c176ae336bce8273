"""`malpyeong-eval run` offline with a tiny Qwen2 chat model: model dir, LoRA adapter, training folder."""

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from leaderboard.store import Leaderboard
from malpyeong_eval.data import load_items, sample_path
from malpyeong_eval.evaluation import ContestScorer
from malpyeong_eval.generation import GenerationSettings
from malpyeong_eval.prompts import clean_output, load_prompt
from malpyeong_eval.checkpoints import resolve_targets
from malpyeong_eval.runner import CheckpointRunner

FAST = ["--max-new-tokens", "12", "--metrics", "em,rouge1", "--limit", "6", "--batch-size", "4"]  # two batches, the second partial



@pytest.fixture(scope="module")
def lora_adapter(tiny_policy, tmp_path_factory):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_policy),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    folder = tmp_path_factory.mktemp("lora")
    model.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def training_folder(tiny_policy, tmp_path_factory):
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("training")
    for step in (20, 10):
        target = folder / f"checkpoint-{step}"
        shutil.copytree(tiny_policy, target)
        model = AutoModelForCausalLM.from_pretrained(target)
        with torch.no_grad():
            model.lm_head.weight.add_(torch.randn_like(model.lm_head.weight) * 0.01 * step)
        model.save_pretrained(target)
    (folder / "README.md").write_text("not a checkpoint")
    return str(folder)


def test_model_dir_end_to_end(tiny_policy, tmp_path, cli):
    db = f"sqlite:///{tmp_path / 'board.db'}"
    code, out, err = cli("run", tiny_policy, "--db", db, "--runs-dir", str(tmp_path / "runs"),
                             "--output", str(tmp_path / "sub.json"), "--json", *FAST)
    assert code == 0, err
    summary = json.loads(out)[0]
    assert summary["metrics"]["exact_match"] is not None and summary["step"] is None
    submission = load_items(tmp_path / "sub.json", require_answer=True)
    assert [item.id for item in submission] == [item.id for item in load_items(sample_path("gold"))[:6]]
    runs = Leaderboard(db).runs()
    assert len(runs) == 1 and runs[0].prompt_id == "malpyeong-contest-v1" and runs[0].generation["max_new_tokens"] == 12
    # the same run from Python, no command line: the request the command's flags parse to, the same scores
    from malpyeong_eval.cli import click_command
    from malpyeong_eval.cli.run import run_request
    from malpyeong_eval.generation import Decoding
    from malpyeong_eval.runs import RunData, RunRequest, run_checkpoints

    request = RunRequest(tiny_policy, data=RunData(limit=6), decoding=Decoding(GenerationSettings(max_new_tokens=12), 4),
                         metrics=("em", "rouge1"), runs_dir=tmp_path / "api-runs")
    words = [tiny_policy, *FAST, "--runs-dir", str(tmp_path / "api-runs")]
    assert run_request(click_command().commands["run"].make_context("run", words).params) == request  # type: ignore[attr-defined]
    outcomes = run_checkpoints(request)  # no recorder: nothing recorded
    (entry,) = outcomes.to_json()
    assert entry["metrics"] == summary["metrics"] and entry.keys() == summary.keys() and entry["run"] is None
    assert outcomes[0].predictions == {item.id: item.answer for item in submission}
    assert Path(entry["results"]).is_relative_to(tmp_path / "api-runs") and Leaderboard(db).count() == 1
    # the same checkpoint, data and settings again: no second run, the submission is still written
    (tmp_path / "sub.json").unlink()
    code, out, _ = cli("run", tiny_policy, "--db", db, "--runs-dir", str(tmp_path / "runs"),
                           "--output", str(tmp_path / "sub.json"), "--json", *FAST)
    assert code == 0 and json.loads(out)[0]["already_recorded"] and (tmp_path / "sub.json").exists()
    assert Leaderboard(db).count() == 1


def test_an_already_recorded_run_loads_no_scorer_model(tiny_policy, tiny_bert, tiny_bleurt, tmp_path, cli, monkeypatch):
    """The fingerprint needs each metric's configuration string, which is known without loading the
    model: the second run of a recorded checkpoint with the default metrics (BERTScore and BLEURT
    included) builds no scorer and no generator."""
    from malpyeong_eval import runner
    from malpyeong_eval.metrics import bertscore, bleurt, pool

    args = ["run", tiny_policy, "--db", f"sqlite:///{tmp_path / 'board.db'}", "--runs-dir", str(tmp_path / "runs"),
            "--bertscore-model", tiny_bert, "--bertscore-layers", "2", "--bleurt-model", tiny_bleurt, "--device", "cpu",
            "--max-new-tokens", "8", "--limit", "4", "--json"]
    code, out, err = cli(*args)
    assert code == 0, err
    assert json.loads(out)[0]["metrics"]["bleurt"] is not None  # the default metrics: all four scored
    monkeypatch.setattr(pool, "_POOL", {})  # a fresh process's pool

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded")

    for module, name in ((bertscore, "BertScoreScorer"), (bleurt, "BleurtScorer"), (runner, "make_generator")):
        monkeypatch.setattr(module, name, refuse)
    code, out, err = cli(*args)
    assert code == 0, err
    assert json.loads(out)[0]["already_recorded"] and not pool.loaded_scorers()


def test_lora_adapter_end_to_end(lora_adapter, tiny_policy, tmp_path, cli):
    db = f"sqlite:///{tmp_path / 'board.db'}"
    code, _, err = cli("run", lora_adapter, "--db", db, "--runs-dir", str(tmp_path / "runs"), *FAST)
    assert code == 0, err
    (run,) = Leaderboard(db).runs()
    assert run.checkpoint == lora_adapter and run.base_model == tiny_policy


def test_training_folder_runs_each_checkpoint_in_step_order(training_folder, tmp_path, cli):
    db = f"sqlite:///{tmp_path / 'board.db'}"
    code, out, err = cli("run", training_folder, "--db", db, "--runs-dir", str(tmp_path / "runs"), "--json", *FAST)
    assert code == 0, err
    assert [row["step"] for row in json.loads(out)] == [10, 20]
    runs = sorted(Leaderboard(db).runs(), key=lambda run: run.step)
    assert [(run.step, run.name.split("/")[-1]) for run in runs] == [(10, "checkpoint-10"), (20, "checkpoint-20")]
    code, out, _ = cli("run", training_folder, "--db", db, "--runs-dir", str(tmp_path / "runs"), "--json", *FAST)
    assert code == 0 and all(row["already_recorded"] for row in json.loads(out)) and Leaderboard(db).count() == 2


def test_torn_generation_lines_are_regenerated(tmp_path):
    from malpyeong_eval.submission import GenerationStore

    from malpyeong_eval.submission import Generation, generation_files, read_generations, run_folder_name

    store = GenerationStore(tmp_path / run_folder_name("team/ckpt 1", "0123456789abcdef"))
    assert store.folder.name == "team_ckpt_1-0123456789"  # the one naming rule of run folders
    store.append([Generation("1", "가"), Generation("2", "나", "프롬프트", "<규정 - 제1항>")])
    with store.path.open("ab") as handle:
        handle.write('{"id": "3", "prediction": "다'.encode()[:-1])  # cut inside a UTF-8 character
    assert {item_id: slots[0].prediction for item_id, slots in store.candidates().items()} == {"1": "가", "2": "나"}
    assert read_generations(store.path) == {"1": Generation("1", "가"), "2": Generation("2", "나", "프롬프트", "<규정 - 제1항>")}
    assert list(generation_files(tmp_path)) == [store.path]


def test_submission_is_the_items_records_with_the_predictions(tmp_path):
    from malpyeong_eval.data import Item
    from malpyeong_eval.submission import write_submission

    records = [{"id": 7, "input": {"question_type": "교정형", "question": "q", "mine": [1]},
                "output": {"answer": "gold", "article": "<a - 제1항>"}, "team_note": {"kept": True}},
               {"id": "b", "input": {"question": "r"}}]
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records), encoding="utf-8")
    built = Item("c", "선택형", "s", None, extra_inputs={"references": ["p"]})  # an item made in code has no record
    write_submission(tmp_path / "sub.json", [*load_items(data), built], {"7": "A", "b": "B", "c": "C"})
    assert json.loads((tmp_path / "sub.json").read_text(encoding="utf-8")) == [
        {**records[0], "output": {"answer": "A", "article": "<a - 제1항>"}},  # every field as read, the id a number still
        {**records[1], "output": {"answer": "B"}},
        {"id": "c", "input": {"question_type": "선택형", "question": "s", "references": ["p"]}, "output": {"answer": "C"}},
    ]
    assert load_items(data)[0].record == records[0]  # writing changed no item's record


def test_run_reads_the_data_once(tiny_policy, tmp_path, cli, monkeypatch):
    """One read of DATA gives the items, the sha256 the run records and the records the submission is written from."""
    from reading_support import count_reads

    records = json.loads(sample_path("gold").read_text(encoding="utf-8"))[:3]
    for record in records:
        record["team_note"] = {"kept": [1, 2]}
    data = tmp_path / "data.json"
    data.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    sha256 = hashlib.sha256(data.read_bytes()).hexdigest()
    reads = count_reads(monkeypatch, data)
    code, out, err = cli("run", tiny_policy, "--data", str(data), "--no-record", "--runs-dir", str(tmp_path / "runs"),
                         "--output", str(tmp_path / "sub.json"), "--json", "--metrics", "em", "--max-new-tokens", "4")
    assert code == 0, err
    assert reads == ["rb"]
    [summary] = json.loads(out)
    assert json.loads(Path(summary["results"]).read_text(encoding="utf-8"))["dataset"]["sha256"] == sha256
    [generations] = (tmp_path / "runs").glob("*/generations.jsonl")
    predictions = {line["id"]: line["prediction"] for line in map(json.loads, generations.read_text(encoding="utf-8").splitlines())}
    written = json.loads((tmp_path / "sub.json").read_text(encoding="utf-8"))
    assert written == [{**record, "output": {**record["output"], "answer": predictions[record["id"]]}} for record in records]


def test_greedy_decoding_is_deterministic(tiny_policy, tmp_path):
    items = load_items(sample_path("gold"))[:8]
    outcomes = []
    for attempt in range(2):
        runner = CheckpointRunner(items, data=None, dataset_name="sample", prompt=load_prompt(),
                                  settings=GenerationSettings(max_new_tokens=10), batch_size=3,
                                  scorer=ContestScorer(["em", "rouge1"]), runs_root=tmp_path / f"runs{attempt}")
        outcomes.append(runner.run(resolve_targets(tiny_policy)[0]))
    assert outcomes[0].predictions == outcomes[1].predictions
    assert outcomes[0].result.metrics == outcomes[1].result.metrics


@pytest.mark.slow
def test_killed_run_resumes_without_regenerating(tiny_policy, tmp_path, cli):
    """A real process killed (SIGKILL) mid-run; the same command again (in-process) resumes from its lines."""
    db = f"sqlite:///{tmp_path / 'board.db'}"
    args = ["run", tiny_policy, "--db", db, "--runs-dir", str(tmp_path / "runs"),
            "--max-new-tokens", "64", "--batch-size", "1", "--metrics", "em,rouge1", "--limit", "8"]
    process = subprocess.Popen([sys.executable, "-m", "malpyeong_eval", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    generations = None
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        found = list((tmp_path / "runs").glob("*/generations.jsonl"))
        if found and len(found[0].read_text(encoding="utf-8").splitlines()) >= 3:
            generations = found[0]
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert generations is not None, "the run finished or failed before it could be interrupted"
    before = generations.read_text(encoding="utf-8").splitlines()
    assert 3 <= len(before) < 8 and Leaderboard(db).count() == 0
    code, out, err = cli(*args, "--json")
    assert code == 0, err
    after = generations.read_text(encoding="utf-8").splitlines()
    assert after[: len(before)] == before and len(after) == 8  # nothing generated twice
    assert json.loads(out)[0]["resumed"] == len(before)
    assert Leaderboard(db).count() == 1


@pytest.mark.parametrize("case", ["wrong_path", "not_a_model", "adapter_without_base", "empty_data", "unknown_backend", "no_items"])
def test_bad_input_one_line_exit_2_nothing_recorded(case, tiny_policy, lora_adapter, tmp_path, cli):
    db = f"sqlite:///{tmp_path / 'board.db'}"
    checkpoint, extra = tiny_policy, []
    if case == "wrong_path":
        checkpoint = str(tmp_path / "no" / "such" / "model")
    elif case == "not_a_model":
        (tmp_path / "folder").mkdir()
        (tmp_path / "folder" / "notes.txt").write_text("hi")
        checkpoint = str(tmp_path / "folder")
    elif case == "adapter_without_base":
        checkpoint = str(tmp_path / "adapter")
        shutil.copytree(lora_adapter, checkpoint)
        config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
        config["base_model_name_or_path"] = str(tmp_path / "gone")
        (tmp_path / "adapter" / "adapter_config.json").write_text(json.dumps(config))
    elif case in ("empty_data", "no_items"):
        (tmp_path / "data.json").write_text("" if case == "empty_data" else "[]")
        extra = ["--data", str(tmp_path / "data.json")]
    else:
        extra = ["--backend", "tgi"]
    code, _, err = cli("run", checkpoint, "--db", db, "--runs-dir", str(tmp_path / "runs"), *extra, *FAST)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert Leaderboard(db).count() == 0


def test_vllm_backend_without_vllm_is_one_line(tiny_policy, tmp_path, cli):
    try:
        import vllm  # noqa: F401

        pytest.skip("vLLM is installed here")
    except ImportError:
        pass
    code, _, err = cli("run", tiny_policy, "--backend", "vllm", "--no-record",
                           "--runs-dir", str(tmp_path / "runs"), *FAST)
    assert code == 2 and "vLLM" in err and len(err.strip().splitlines()) == 1


def test_answer_prefix_is_stripped_and_prompt_recorded():
    assert clean_output('  답변: "가"가 옳다. 이유') == '"가"가 옳다. 이유'
    prompt = load_prompt()
    messages = prompt.messages("선택형", "질문이다")
    assert messages[0]["role"] == "system" and messages[1]["content"].endswith("[질문]\n질문이다")
    assert "예시" in messages[1]["content"] and len(prompt.hash) == 64


def test_prompt_file(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"id": "mine", "system": "s", "instructions": {"default": "d"}}), encoding="utf-8")
    assert load_prompt(path).id == "mine" and load_prompt(path).hash != load_prompt().hash


def _write_checkpoint(source: str, target, *, pause: float = 0.0) -> None:
    """Copy a model into a checkpoint folder as training does: weights first, trainer_state.json last."""
    target.mkdir(parents=True)
    for path in sorted(Path(source).iterdir()):
        shutil.copy2(path, target / path.name)
    time.sleep(pause)  # a watcher polling now sees the weights without the trainer state
    step = int(target.name.split("-")[1])
    (target / "trainer_state.json").write_text(json.dumps({"global_step": step}), encoding="utf-8")


@pytest.mark.slow
def test_follow_scores_a_checkpoint_written_while_it_watches_once(tiny_policy, tmp_path, cli, monkeypatch):
    import malpyeong_eval.checkpoints as checkpoints

    db = f"sqlite:///{tmp_path / 'board.db'}"
    folder = tmp_path / "training"
    folder.mkdir()
    follow = ["run", str(folder), "--follow", "--poll-seconds", "0.1", "--db", db, "--runs-dir", str(tmp_path / "runs"),
              "--metrics", "em,rouge1", "--max-new-tokens", "8", "--limit", "4", "--json"]
    watching = threading.Event()
    listing = checkpoints.checkpoint_dirs

    def watched(path):
        found = listing(path)
        watching.set()  # the watcher has looked at least once
        return found

    monkeypatch.setattr(checkpoints, "checkpoint_dirs", watched)

    def write_when_watched() -> None:
        if watching.wait(timeout=60):
            _write_checkpoint(tiny_policy, folder / "checkpoint-10", pause=0.5)

    writer = threading.Thread(target=write_when_watched)
    writer.start()
    try:
        code, out, err = cli(*follow, "--idle-timeout", "4")
    finally:
        writer.join(timeout=60)
    assert code == 0, err
    assert "no new checkpoint for 4 s" in err and "skipped" not in err
    (outcome,) = json.loads(out)
    assert outcome["step"] == 10 and not outcome["already_recorded"] and outcome["run"] == "training/checkpoint-10"
    (run,) = Leaderboard(db).runs()
    assert run.step == 10 and run.name == "training/checkpoint-10" and run.n == 4
    # a second pass records nothing new; --until-step ends it at once
    code, out, err = cli(*follow, "--until-step", "10")
    assert code == 0, err
    assert "step 10 reached" in err
    assert [row["already_recorded"] for row in json.loads(out)] == [True]
    assert Leaderboard(db).count() == 1


def test_watch_yields_complete_checkpoints_once_in_step_order(tmp_path):
    from malpyeong_eval.checkpoints import watch_checkpoints

    def checkpoint(step: int, complete: bool = True):
        folder = tmp_path / f"checkpoint-{step}"
        folder.mkdir(exist_ok=True)
        (folder / "config.json").write_text("{}")
        (folder / "model.safetensors").write_bytes(b"weights")
        if complete:
            (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))

    checkpoint(20)
    checkpoint(10)
    checkpoint(30, complete=False)
    (tmp_path / "checkpoint-40").mkdir()  # an empty folder: not a checkpoint yet
    now = [0.0]
    script = {1: lambda: (tmp_path / "checkpoint-30" / "trainer_state.json").write_text("{\"global_st"),  # half written
              2: lambda: checkpoint(30), 3: lambda: checkpoint(50), 4: lambda: checkpoint(40)}
    calls = [0]

    def sleep(seconds: float) -> None:
        calls[0] += 1
        now[0] += seconds
        script.get(calls[0], lambda: None)()

    seen = [step for step, _ in watch_checkpoints(tmp_path, poll_seconds=1, idle_timeout=3, sleep=sleep, clock=lambda: now[0])]
    assert seen == [10, 20, 30, 50, 40]  # each once: step order within a poll, then as they come
    now[0], calls[0] = 0.0, 0
    assert [step for step, _ in watch_checkpoints(tmp_path, until_step=30, sleep=sleep, clock=lambda: now[0])] == [10, 20, 30]
    assert calls[0] == 0  # step 30 was already there: no waiting


def test_follow_refuses_a_model_directory_and_stray_flags(tiny_policy, tmp_path, cli):
    code, _, err = cli("run", tiny_policy, "--follow", "--no-record", *FAST)
    assert code == 2 and "model directory" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("run", tiny_policy, "--idle-timeout", "3", "--no-record", *FAST)
    assert code == 2 and "--idle-timeout goes with --follow" in err
    code, _, err = cli("run", str(tmp_path / "no" / "such"), "--follow", "--no-record", *FAST)
    assert code == 2 and "no such directory" in err


def test_follow_stops_cleanly_on_ctrl_c(tmp_path):
    folder = tmp_path / "training"
    folder.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "malpyeong_eval", "run", str(folder), "--follow", "--poll-seconds", "0.1", "--no-record",
         "--metrics", "em", "--limit", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Ctrl-C as at a terminal: a shell's background job (`nohup ... &`) starts with SIGINT ignored, and Python keeps that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    first = process.stderr.readline()  # printed once it watches
    assert "following" in first, first + process.stderr.read()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0 and "stopped (Ctrl-C)" in err and "Traceback" not in err, err


RETRIEVAL = {"retriever": "bm25-mecab", "corpus": "sample_corpus.txt", "corpus_hash": "c0ffee", "top_k": 2,
             "field": "references"}
FAST_CONTEXT = ["--metrics", "em,rouge1", "--max-new-tokens", "8", "--limit", "4"]


def _retrieved_data(tmp_path):
    """The sample's first four items with two passages each in input.references and a retrieval record."""
    records = json.loads(sample_path("gold").read_text(encoding="utf-8"))[:4]
    for number, record in enumerate(records):
        record["input"]["references"] = [f"<한글 맞춤법 - 제{number}항>\n규정 {number}의 본문이다.", "<띄어쓰기 - 제2항>\n단어는 띄어 쓴다."]
        record["retrieval"] = {**RETRIEVAL, "passage_ids": [f"p{number}", "p2"], "scores": [3.5, 1.25]}
    path = tmp_path / "retrieved.json"
    path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def test_run_on_retrieved_data_keeps_prompts_and_records_retrieval(tiny_policy, tmp_path, cli):
    db = f"sqlite:///{tmp_path / 'board.db'}"
    data = _retrieved_data(tmp_path)
    code, out, err = cli("run", tiny_policy, "--data", str(data), "--db", db, "--runs-dir", str(tmp_path / "runs"),
                         "--name", "with-context", "--json", *FAST_CONTEXT)
    assert code == 0, err
    [lines] = [path.read_text(encoding="utf-8").splitlines() for path in (tmp_path / "runs").glob("*/generations.jsonl")]
    generations = [json.loads(line) for line in lines]
    assert len(generations) == 4 and all({"id", "prediction", "prompt"} <= set(g) for g in generations)
    by_id = {g["id"]: g["prompt"] for g in generations}
    first = load_items(data)[0]
    assert ("[기타 정보]\n- references:\n  - <한글 맞춤법 - 제0항> 규정 0의 본문이다.\n  - <띄어쓰기 - 제2항> 단어는 띄어 쓴다."
            f"\n\n[질문]\n{first.question}") in by_id[first.id]
    assert "passage_ids" not in by_id[first.id] and "retriever" not in by_id[first.id]  # the record is not an input
    run = Leaderboard(db).get("with-context")
    assert run.retrieval == RETRIEVAL and run.context == "bm25-mecab k=2"
    # the run without context on the same items, then what the board shows
    code, _, err = cli("run", tiny_policy, "--db", db, "--runs-dir", str(tmp_path / "runs"), "--name", "no-context",
                       *FAST_CONTEXT)
    assert code == 0, err
    code, out, _ = cli("leaderboard", "--db", db)
    assert code == 0 and "context" in out and "bm25-mecab k=2" in out and "—" in out
    code, out, _ = cli("leaderboard", "--db", db, "--json")
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["with-context"]["retrieval"] == RETRIEVAL and rows["no-context"]["retrieval"] is None
    assert rows["with-context"]["context"] == "bm25-mecab k=2" and rows["no-context"]["context"] is None  # JSON: null, not the screen's dash
    code, out, _ = cli("show", "with-context", "--db", db)
    assert code == 0 and "retriever=bm25-mecab" in out and "corpus_hash=c0ffee" in out and "top_k=2" in out
    code, out, _ = cli("show", "with-context", "--db", db, "--json")
    assert json.loads(out)["run"]["retrieval"] == RETRIEVAL
    code, out, err = cli("compare", "no-context", "with-context", "--db", db)
    assert code == 0, err
    assert "context of no-context: — (no context)" in out and "context of with-context: retriever=bm25-mecab" in out
    code, out, _ = cli("export", "--format", "csv", "--db", db)
    assert code == 0 and "bm25-mecab k=2" in out and "corpus_hash" in out


def test_own_extra_fields_are_recorded_by_name_and_old_generation_lines_resume(tiny_policy, tmp_path, cli):
    from malpyeong_eval.runner import retrieval_settings
    from malpyeong_eval.submission import Generation, GenerationStore

    records = json.loads(sample_path("gold").read_text(encoding="utf-8"))[:4]
    for record in records:
        record["input"]["my_passages"] = ["가", "나"]
    data = tmp_path / "own.json"
    data.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    assert retrieval_settings(load_items(data)) == {"fields": ["my_passages"]}
    assert retrieval_settings(load_items(sample_path("gold"))) is None
    db = f"sqlite:///{tmp_path / 'board.db'}"
    code, _, err = cli("run", tiny_policy, "--data", str(data), "--db", db, "--runs-dir", str(tmp_path / "runs"),
                       "--name", "own", *FAST_CONTEXT)
    assert code == 0, err
    assert Leaderboard(db).get("own").context == "fields: my_passages"
    store = GenerationStore(tmp_path / "old")  # a line written before prompts were kept still resumes
    store.path.parent.mkdir()
    store.path.write_text('{"id": "1", "prediction": "가"}\n', encoding="utf-8")
    store.append([Generation("2", "나", "프롬프트")])
    assert store.candidates() == {"1": {0: Generation("1", "가")}, "2": {0: Generation("2", "나", "프롬프트")}}  # what a run resumes from
    assert json.loads(store.path.read_text(encoding="utf-8").splitlines()[1])["prompt"] == "프롬프트"
