"""Choosing the gold context: the cited answer (``근거: [N]``), the context reward, selection accuracy.

The task the tests learn and measure is built so a tiny model can learn it: each question carries
a marked word (사과 or 바다), the two candidates are the rules titled with each word, and the
gold rule is the candidate whose title shares the question's word.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from malpyeong_eval.citation import choose, split_citation
from malpyeong_eval.prompts import clean_output, load_prompt
from rewards import completions as completions_module
from rewards import context_reward

MARKS = ("사과", "바다")
TITLES = tuple(f"<규정 {mark}>" for mark in MARKS)
ANSWER = '"가"가 옳다. 이유이다.'
SHORT_CITE_PROMPT = {"id": "tiny-cite", "system": "규범", "instructions": {"default": "근거: [번호]"},
                     "user": "{candidates}[질문]\n{question}"}


def task_records(n: int, *, unmeasured: int = 0) -> list[dict]:
    """Items of the learnable task; the last ``unmeasured`` have no gold rule (every other of them)
    or no candidates."""
    records = []
    for index in range(n):
        mark = MARKS[index % 2]
        record = {"id": f"c{index}",
                  "input": {"question_type": "선택형", "question": f"{mark} {index}",
                            "references": [f"{title}\n{word} 규정의 본문이다." for title, word in zip(TITLES, MARKS, strict=True)]},
                  "output": {"answer": ANSWER, "article": f"규범 모음 - 규정 {mark}"}}
        if index >= n - unmeasured:
            if index % 2:
                del record["output"]["article"]
            else:
                del record["input"]["references"]
        records.append(record)
    return records


def gold_number(record: dict) -> int:
    """The gold candidate's number, by hand: the title that shares the question's marked word."""
    return 1 + [mark in record["input"]["question"].split()[0] for mark in MARKS].index(True)


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("context-task")
    (folder / "prompt.json").write_text(json.dumps(SHORT_CITE_PROMPT, ensure_ascii=False), encoding="utf-8")
    (folder / "train.json").write_text(json.dumps(task_records(32), ensure_ascii=False), encoding="utf-8")
    (folder / "dev.json").write_text(json.dumps(task_records(12, unmeasured=2), ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def cite_policy(task_dir, tmp_path_factory) -> str:
    """A tiny Qwen2 warm-started to write ``근거: [1]`` or ``근거: [2]`` (either, whatever the question)
    and then an answer: it cites, but has not learnt which candidate is the gold one."""
    from malpyeong_eval.tiny_models import build_tiny_qwen2, warm_start_policy
    from malpyeong_eval.data import load_items

    prompt = load_prompt(task_dir / "prompt.json")
    items = load_items(task_dir / "train.json")
    pairs = [(prompt.item_messages(item), f"근거: [{number}]\n{ANSWER}") for item in items for number in (1, 2)]
    texts = [message["content"] for messages, _ in pairs for message in messages] + [answer for _, answer in pairs]
    folder = tmp_path_factory.mktemp("cite-policy")
    build_tiny_qwen2(folder, texts)
    return str(warm_start_policy(folder, pairs, steps=80))


# -- the citation line and clean_output -------------------------------------------------------------------

@pytest.mark.parametrize(("text", "answer", "reference"), [
    (f"근거: [2]\n{ANSWER}", ANSWER, "[2]"),
    (f"  근거 ： [1] <규정 사과>\n\n답변: {ANSWER}  ", ANSWER, "[1] <규정 사과>"),
    (f"근거: <규정 바다>\n{ANSWER}", ANSWER, "<규정 바다>"),
    (f"근거: [1]\n근거: [2]\n{ANSWER}", ANSWER, "[1]"),  # two lines: both stripped, the first counts
    (f"\n근거: [3]\r\n{ANSWER}", ANSWER, "[3]"),
    (ANSWER, ANSWER, None),
    (f"답변: {ANSWER}", ANSWER, None),
    (f"{ANSWER}\n근거: [1]", f"{ANSWER}\n근거: [1]", None),  # only leading lines are citations
    ("근거가 되는 규정은 없다. " + ANSWER, "근거가 되는 규정은 없다. " + ANSWER, None),  # no colon: answer text
])
def test_clean_output_on_a_cited_completion_gives_exactly_the_uncited_answer(text, answer, reference):
    assert clean_output(text) == answer
    assert split_citation(text.strip()).reference == reference


def test_the_cite_prompt_numbers_the_candidates_and_asks_for_the_line():
    prompt = load_prompt("contest-cite")
    extra = {"references": ["<규정 사과>\n사과 본문", "<규정 바다>\n바다\n본문"], "note": "x"}
    user = prompt.messages("선택형", "질문", extra)[1]["content"]
    assert "[후보 규범]\n[1] <규정 사과>\n사과 본문\n[2] <규정 바다>\n바다 본문\n\n[기타 정보]\n- note: x\n\n[질문]\n질문" in user
    assert "근거: [번호]" in user and "- references" not in user
    assert prompt.cites and not load_prompt().cites and prompt.hash != load_prompt().hash
    plain = load_prompt().messages("선택형", "질문", extra)[1]["content"]
    assert "[후보 규범]" not in plain and "- references:" in plain  # the default prompt is unchanged


# -- the context reward -------------------------------------------------------------------------------

def test_context_reward_agrees_with_a_hand_count(caplog, monkeypatch):
    monkeypatch.setattr(completions_module, "_warned", set())
    caplog.set_level(logging.WARNING, logger=completions_module.logger.name)
    candidates = list(TITLES)
    table = [  # completion, candidates, gold rule, the reward counted by hand
        (f"근거: [1]\n{ANSWER}", candidates, "규정 사과", 1.0),  # the right number
        (f"근거: [2]\n{ANSWER}", candidates, "규정 사과", 0.0),  # a wrong number
        (f"근거: [3]\n{ANSWER}", candidates, "규정 사과", 0.0),  # out of range
        (f"근거: [0]\n{ANSWER}", candidates, "규정 사과", 0.0),  # out of range
        (f"근거: <규정 바다>\n{ANSWER}", candidates, "규범 모음 - 규정 바다", 1.0),  # the title instead of the number
        (f"근거: 규정 바다\n{ANSWER}", candidates, "규정 사과", 0.0),  # another rule's title
        (f"근거: 없는 규정\n{ANSWER}", candidates, "규정 사과", 0.0),  # a title no candidate has
        (ANSWER, candidates, "규정 사과", 0.0),  # no citation line
        (f"근거: [2]\n근거: [1]\n{ANSWER}", candidates, "규정 사과", 0.0),  # two lines: the first counts
        (f"근거: [1]\n근거: [2]\n{ANSWER}", candidates, "규정 사과", 1.0),
        ([{"role": "assistant", "content": f"근거: [2]\n{ANSWER}"}], candidates, "규정 바다", 1.0),  # a conversation
        (None, candidates, "규정 사과", 0.0),  # malformed completions score 0.0, never raise
        (17, candidates, "규정 사과", 0.0),
        (f"근거: [1]\n{ANSWER}", candidates, None, None),  # no gold rule: left out
        (f"근거: [1]\n{ANSWER}", [], "규정 사과", None),  # no candidates: left out
        (f"근거: [1]\n{ANSWER}", None, "규정 사과", None),
        (None, candidates, None, None),
    ]
    logged = {}
    values = context_reward([row[0] for row in table], candidates=[row[1] for row in table],
                            article=[row[2] for row in table], answer=[ANSWER] * len(table),
                            log_metric=lambda key, value: logged.__setitem__(key, value))
    assert values == [row[3] for row in table]
    measured = [row for row in table if row[3] is not None]
    assert logged == {"context/cited": sum(isinstance(row[0], (str, list)) and "근거" in str(row[0])
                                           for row in measured) / len(measured)}
    assert len(caplog.records) == 2  # one warning per kind of malformed completion (None, a number)


def test_context_reward_needs_its_columns():
    with pytest.raises(KeyError, match="candidates"):
        context_reward(["근거: [1]"], article=["규정 사과"])


def test_choose_matches_titles_the_way_retrieval_recall_does():
    choice = choose("[2]", ["<한글 맞춤법, 표준어 규정 - 한글 맞춤법 제18항>", "<한글 맞춤법, 표준어 규정 - 한글 맞춤법 제19항>"],
                    "한글 맞춤법, 표준어 규정 - 한글 맞춤법 제19항")
    assert (choice.number, choice.correct) == (2, True)
    short = choose("한글 맞춤법 제19항", ["<한글 맞춤법, 표준어 규정 - 한글 맞춤법 제18항>",
                                   "<한글 맞춤법, 표준어 규정 - 한글 맞춤법 제19항>"], "<한글 맞춤법, 표준어 규정 - 한글 맞춤법 제19항>")
    assert (short.number, short.correct) == (2, True)


# -- run: the submission never holds the line; the choices are recorded; the leaderboard's selection ------

def _generate_raw(policy: str, prompts: list[str], max_new_tokens: int) -> list[str]:
    """What the policy writes for each rendered prompt, greedy, as decoded (line included)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer, model = AutoTokenizer.from_pretrained(policy), AutoModelForCausalLM.from_pretrained(policy)
    texts = []
    for prompt in prompts:
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt")
        with torch.inference_mode():
            output = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                                    pad_token_id=tokenizer.pad_token_id)
        texts.append(tokenizer.decode(output[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
    return texts


def test_run_on_cited_completions_writes_and_scores_the_answers_alone(cite_policy, task_dir, tmp_path, cli):
    db = f"sqlite:///{tmp_path / 'board.db'}"
    submission, runs = tmp_path / "submission.json", tmp_path / "runs"
    code, out, err = cli("run", cite_policy, "--data", str(task_dir / "dev.json"), "--prompt-file", str(task_dir / "prompt.json"),
                         "--max-new-tokens", "24", "--metrics", "em,rouge1", "--db", db, "--name", "cited",
                         "--output", str(submission), "--runs-dir", str(runs), "--device", "cpu", "--json")
    assert code == 0, err[-2000:]
    (generations,) = runs.glob("*/generations.jsonl")
    lines = [json.loads(line) for line in generations.read_text(encoding="utf-8").splitlines()]
    raw = dict(zip([line["id"] for line in lines], _generate_raw(cite_policy, [line["prompt"] for line in lines], 24), strict=True))
    assert all(text.lstrip().startswith("근거:") for text in raw.values()), raw  # the completions cite
    assert {line["id"]: line["citation"] for line in lines} == {key: split_citation(text).reference for key, text in raw.items()}
    written = json.loads(submission.read_text(encoding="utf-8"))
    assert not any("근거" in record["output"]["answer"] for record in written)
    # the same answers written without the line (its first line dropped by hand) score the same
    uncited = [{**record, "output": {**record["output"], "answer": raw[record["id"]].split("\n", 1)[1].strip()}}
               for record in written]
    with_line = [{**record, "output": {**record["output"], "answer": raw[record["id"]]}} for record in written]
    scores = {}
    for name, records in (("run", written), ("uncited", uncited), ("with-line", with_line)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
        code, out, err = cli("score", str(path), "--gold", str(task_dir / "dev.json"), "--metrics", "em,rouge1", "--json")
        assert code == 0, err
        scores[name] = json.loads(out)
    parts = ("answer_clause", "reason", "exact_match", "rouge1", "counted")
    for name in ("run", "uncited"):
        scores[name]["items"] = [{key: item[key] for key in parts} for item in scores[name]["items"]]
    assert scores["run"]["items"] == scores["uncited"]["items"] and scores["run"]["metrics"] == scores["uncited"]["metrics"]
    assert scores["run"]["metrics"]["exact_match"] > 0.8  # the warm-started answers are (nearly all) right
    assert scores["with-line"]["metrics"]["exact_match"] == 0.0  # the line left in would cost every EM


def test_selection_on_the_leaderboard_equals_the_hand_count_of_the_stored_choices(cite_policy, task_dir, tmp_path, cli):
    from leaderboard.store import Leaderboard

    db = f"sqlite:///{tmp_path / 'board.db'}"
    common = ["--data", str(task_dir / "dev.json"), "--prompt-file", str(task_dir / "prompt.json"), "--metrics", "em,rouge1",
              "--db", db, "--runs-dir", str(tmp_path / "runs"), "--device", "cpu", "--do-sample", "--temperature", "1.5"]
    for name, seed in (("cited-a", "1"), ("cited-b", "2")):
        code, _, err = cli("run", cite_policy, *common, "--max-new-tokens", "12", "--seed", seed, "--name", name)
        assert code == 0, err[-2000:]
    code, _, err = cli("score", "--sample", "--metrics", "em,rouge1", "--record", "--name", "uncited", "--db", db)
    assert code == 0, err
    board = Leaderboard(db)
    records = {record["id"]: record for record in task_records(12, unmeasured=2)}
    for name in ("cited-a", "cited-b"):
        run = board.get(name)
        items = [item.to_json() for item in board.items(run)]
        measured = [row for row in items if "article" in records[row["item_id"]]["output"]
                    and "references" in records[row["item_id"]]["input"]]
        right = sum(row["cited"] == gold_number(records[row["item_id"]]) for row in measured)  # by hand
        assert len(measured) == 10 and run.n_selection == 10
        assert run.metrics["context_selection"] == pytest.approx(right / len(measured))
        assert [row["context_selection"] for row in items if row not in measured] == [None, None]
        # every item keeps its own gold rule (output.article), measured or not: the unmeasured ones are the
        # item without candidates (it has a rule) and the item without a rule
        assert [row["gold_article"] for row in items] == [records[row["item_id"]]["output"].get("article") for row in items]
        assert [row["gold_article"] is None for row in items if row not in measured] == [False, True]
        assert any(row["citation"] is not None for row in items)
    shares = [board.get(name).metrics["context_selection"] for name in ("cited-a", "cited-b")]
    assert any(0.0 < share < 1.0 for share in shares), shares  # sampled choices: some right, some wrong

    code, out, _ = cli("leaderboard", "--db", db)
    assert code == 0 and "Selection" in out
    row_a = next(line for line in out.splitlines() if "cited-a" in line)
    assert f"{shares[0]:.4f} (n=10)" in row_a
    assert "—" in next(line for line in out.splitlines() if "uncited" in line)  # a run without citations
    code, out, _ = cli("leaderboard", "--db", db, "--json")
    by_name = {row["name"]: row for row in json.loads(out)}
    assert by_name["cited-a"]["context_selection"] == shares[0] and by_name["cited-a"]["n_selection"] == 10
    assert by_name["uncited"]["context_selection"] is None
    code, out, _ = cli("show", "cited-a", "--db", db, "--worst", "12")
    flat = " ".join(out.split())
    assert code == 0 and "Selection" in out and "selection: over the 10 items with a gold rule" in flat and "cited" in out
    code, out, _ = cli("compare", "cited-a", "cited-b", "--db", db, "--json")
    assert code == 0
    delta = json.loads(out)["deltas"]["context_selection"]
    assert delta["delta"] == pytest.approx(shares[1] - shares[0]) and delta["ci_low"] <= delta["delta"] <= delta["ci_high"]
    code, out, _ = cli("export", "--format", "csv", "--db", db)
    assert "context_selection" in out.splitlines()[0] and "n_selection" in out.splitlines()[0]
    code, out, _ = cli("export", "--format", "json", "--run", "cited-a", "--db", db)
    exported = json.loads(out)
    assert [row["cited"] for row in exported] == [row.cited for row in board.items(board.get("cited-a"))]
    # rescoring keeps the choices and the selection, judged again from the stored choices
    code, _, err = cli("rescore", "cited-a", "--db", db)
    assert code == 0, err
    assert board.get("cited-a").metrics["context_selection"] == shares[0] and board.get("cited-a").n_selection == 10


# -- training: the context reward teaches the choice ---------------------------------------------------

def test_train_refuses_the_context_reward_without_candidates_or_a_citing_prompt(task_dir, tmp_path, cli):
    from malpyeong_eval.data import sample_path

    base = ["train", "--model", str(tmp_path / "no-such-model"), "--output-dir", str(tmp_path / "out"),
            "--rewards", "format,context"]
    code, _, err = cli(*base, "--data", str(sample_path("gold")), "--prompt-file", "contest-cite")
    assert code == 2 and "needs items with candidates" in err and len(err.strip().splitlines()) == 1, err
    code, _, err = cli(*base, "--data", str(task_dir / "train.json"))
    assert code == 2 and "--prompt-file contest-cite" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.slow
def test_real_grpo_training_with_the_context_reward_raises_it(cite_policy, task_dir, tmp_path, cli):
    """A real GRPOTrainer run on CPU. The policy cites either candidate at chance; on this training set
    the gold rule is always the one titled with 사과 (listed first), so the context reward alone can
    teach it which to name. With a constant reward in its place nothing would move."""
    data = tmp_path / "apple.json"
    records = [record for record in task_records(64) if record["input"]["question"].startswith(MARKS[0])]
    data.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    steps = 20
    code, out, err = cli(
        "train", "--model", cite_policy, "--data", str(data), "--prompt-file", str(task_dir / "prompt.json"),
        "--output-dir", str(tmp_path / "grpo"), "--rewards", "context", "--max-steps", str(steps), "--json",
        "--grpo", "per_device_train_batch_size=16", "--grpo", "num_generations=4", "--grpo", "max_completion_length=6",
        "--grpo", "learning_rate=5e-3", "--grpo", "use_cpu=true", "--grpo", "gradient_accumulation_steps=1",
        "--grpo", "seed=0", "--grpo", "disable_tqdm=true",
    )
    assert code == 0, err[-2000:]
    rewards = [row["rewards/context_reward/mean"] for row in json.loads(out)["rewards"]]
    assert len(rewards) == steps
    first, last = sum(rewards[:5]) / 5, sum(rewards[-5:]) / 5
    assert 0.25 < first < 0.75, rewards  # it starts at chance: it cites, either candidate
    assert last > first + 0.2, rewards


def test_the_task_is_balanced():
    records = task_records(32)
    assert sorted(gold_number(record) for record in records) == [1] * 16 + [2] * 16
