"""``label``: rule labels from the gold answer, lexical (BM25 with the reason) and perplexity (a
tiny local Qwen2's log-likelihood gain, checked against a direct forward pass), the agreement with
given labels counted by hand, and the command's one-line refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from malpyeong_eval.data import load_items, sample_path
from malpyeong_eval.prompts import load_prompt
from malpyeong_eval.retrieval import load_corpus
from malpyeong_eval.retrieval.corpus import sample_corpus_path
from malpyeong_eval.retrieval.labelling import (
    AnswerScorer,
    agreement,
    lexical_labels,
    lexical_query,
    perplexity_labels,
)

HEAD = "한글 맞춤법, 표준어 규정 - "
RULES = {
    "제18항": "어간 끝 받침 'ㄷ'이 모음으로 시작하는 어미 앞에서 'ㄹ'로 바뀌는 불규칙 활용은 바뀐 대로 적는다. "
              "자음 어미 앞에서는 'ㄷ'이 그대로이다. 예: 붇다-불어, 붇기, 걷다-걸어.",
    "제30항": "사이시옷은 합성어에서 앞말이 모음으로 끝나고 뒷말의 첫소리가 된소리로 날 때 받치어 적는다. "
              "예: 냇가, 햇볕, 나뭇잎, 최댓값.",
    "제47항": "보조 용언은 띄어 씀을 원칙으로 하되 붙여 씀도 허용한다. 예: 불이 꺼져 간다, 비가 올 듯하다.",
}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """BM25 indexes go to the test's own folder, never the user's cache."""
    monkeypatch.setenv("MALPYEONG_CACHE_DIR", str(tmp_path / "cache"))


def title(rule: str) -> str:
    return f"<{HEAD}한글 맞춤법 {rule}>"


@pytest.fixture
def corpus_path(tmp_path) -> Path:
    path = tmp_path / "rules.txt"
    path.write_text("".join(f"{title(rule)}\n{text}\n\n" for rule, text in RULES.items()), encoding="utf-8")
    return path


def answer(sentence: str, reason: str) -> str:
    return f'"{sentence}"가 옳다. {reason}'


ANSWERS = {  # each reason's words are those of one rule: the right label is decidable
    "ㄷ": answer("라면이 붇기 전에 먹어라.", "'붇다'는 받침 'ㄷ'이 모음 어미 앞에서 'ㄹ'로 바뀌는 불규칙 활용이고, "
                 "'-기'는 자음 어미이므로 'ㄷ'이 그대로여서 '붇기'로 적는다."),
    "사이시옷": answer("냇가에서 놀았다.", "합성어에서 앞말이 모음으로 끝나고 뒷말의 첫소리가 된소리로 나므로 사이시옷을 받치어 적는다."),
    "보조": answer("불이 꺼져 간다.", "'간다'는 보조 용언이므로 띄어 씀을 원칙으로 하되 붙여 씀도 허용한다."),
}


def item(item_id: str, text: str | None, article: str | None = None, question: str = "문장을 고치세요.") -> dict:
    record: dict = {"id": item_id, "input": {"question_type": "교정형", "question": question}}
    if text is not None:
        record["output"] = {"answer": text, **({"article": article} if article is not None else {})}
    return record


def write_json(path: Path, records: list[dict]) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


# -- lexical ------------------------------------------------------------------------------------------


def test_lexical_query_is_the_reason():
    assert lexical_query(ANSWERS["ㄷ"]) == ANSWERS["ㄷ"].split("가 옳다. ", 1)[1]
    assert lexical_query("  이유만 있는 답  ") == "이유만 있는 답"  # no clause end: the whole answer


def test_lexical_labels_pick_the_rule_of_each_reason(corpus_path):
    corpus = load_corpus(corpus_path)
    labels = lexical_labels(corpus, [ANSWERS["보조"], ANSWERS["ㄷ"], ANSWERS["사이시옷"]])
    assert [corpus.passages[label.passage].title for label in labels] == [title("제47항"), title("제18항"), title("제30항")]
    for label in labels:
        record = label.record
        assert record["method"] == "lexical" and record["corpus"] == "rules.txt"
        assert record["corpus_hash"] == hashlib.sha256(corpus_path.read_bytes()).hexdigest()
        assert record["title"] == corpus.passages[label.passage].title and record["passage_id"] == corpus.passages[label.passage].id
        assert record["score"] > record["runner_up_score"] >= 0
        assert record["runner_up_id"] != record["passage_id"]
        assert record["margin"] == pytest.approx(record["score"] - record["runner_up_score"])


def test_cli_writes_labels_keeps_given_ones_and_counts_agreement(cli, tmp_path, corpus_path):
    records = [
        item("a", ANSWERS["ㄷ"]),  # no label: ours is written
        item("b", ANSWERS["사이시옷"], article=title("제30항")),  # agrees
        item("c", ANSWERS["보조"], article=f"{HEAD}한글 맞춤법 제47항"),  # agrees, without the brackets
        item("d", ANSWERS["ㄷ"], article="한글 맞춤법 제30항"),  # disagrees (given: 제30항, ours: 제18항)
        item("e", ANSWERS["보조"], article=title("제18항")),  # disagrees
        item("f", None),  # no answer: copied unchanged, counted as skipped
    ]
    data = write_json(tmp_path / "items.json", records)
    out = tmp_path / "labelled.jsonl"
    status, stdout, err = cli("label", str(data), "--corpus", str(corpus_path), "--method", "lexical", "-o", str(out), "--json")
    assert status == 0, err
    summary = json.loads(stdout)
    # by hand: 4 items carry a label (b, c, d, e), ours agrees on b and c
    assert summary["agreement"] == {"n": 4, "agreeing": 2, "share": 0.5}
    assert (summary["n_items"], summary["n_labelled"], summary["n_written"], summary["n_kept"], summary["n_skipped"]) == (6, 5, 1, 4, 1)
    written = {row["id"]: row for row in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert written["a"]["output"]["article"] == title("제18항")
    assert [written[i]["output"]["article"] for i in "bcde"] == [records[i]["output"]["article"] for i in range(1, 5)]
    assert [written[i]["labelling"]["agrees_with_given"] for i in "abcde"] == [None, True, True, False, False]
    assert [written[i]["labelling"]["title"] for i in "de"] == [title("제18항"), title("제47항")]
    assert written["f"] == records[5]  # unchanged, no labelling record
    def without_label(record: dict) -> dict:
        return {**record, "output": {key: value for key, value in record["output"].items() if key != "article"}}

    for record in records[:5]:  # every other field as it was
        row = dict(written[record["id"]])
        row.pop("labelling")
        assert without_label(row) == without_label(record)

    # the same from Python, no command line: the same summary and the same records
    from malpyeong_eval.retrieval import LabelRequest, label

    outcome = label(LabelRequest(data, corpus_path, tmp_path / "again.jsonl"))
    assert outcome.to_json() == {**summary, "output": str(tmp_path / "again.jsonl")}
    assert outcome.summary.agreement.share == 0.5 and outcome.records == list(written.values())
    assert "agreement" in outcome._repr_html_()

def test_agreement_function_by_hand():
    counted = agreement([title("제18항"), title("제30항"), title("제47항"), title("제18항")],
                        [f"{HEAD}한글 맞춤법 제18항", title("제18항"), None, "한글 맞춤법 제18항"])
    # counted: 1st (agrees: brackets do not matter), 2nd (another rule), 4th (is_relevant is one way:
    # a passage titled with the short form matches a full label, not the reverse); the 3rd has no label
    assert counted.to_dict() == {"n": 3, "agreeing": 1, "share": pytest.approx(1 / 3)}
    assert agreement(["한글 맞춤법 제18항"], [title("제18항")]).to_dict()["agreeing"] == 1
    assert agreement([title("제18항")], [None]).to_dict() == {"n": 0, "agreeing": 0, "share": None}


def test_table_and_summary_line(cli, tmp_path, corpus_path):
    data = write_json(tmp_path / "items.json", [item("a", ANSWERS["ㄷ"]), item("b", ANSWERS["보조"], title("제47항"))])
    status, stdout, err = cli("label", str(data), "--corpus", str(corpus_path), "-o", str(tmp_path / "out.json"))
    assert status == 0, err
    assert "1 labels written into output.article, 1 given labels kept, 0 items without an answer" in err
    assert "agreement" in stdout and "1.0000" in stdout
    assert len(json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))) == 2


# -- perplexity ---------------------------------------------------------------------------------------


def direct_log_likelihood(model, tokenizer, messages: list[dict], text: str) -> float:
    """Sum of the log-probs of the assistant turn's tokens, by one unpadded forward pass."""
    import torch

    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template([*messages, {"role": "assistant", "content": text}], tokenize=False)
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    ids = tokenizer(full, add_special_tokens=False)["input_ids"]
    assert ids[: len(prompt_ids)] == prompt_ids
    assert tokenizer.decode(ids[len(prompt_ids):]) == text + "<|im_end|>\n"  # the assistant turn, nothing else
    with torch.no_grad():
        log_probs = model(torch.tensor([ids])).logits[0].double().log_softmax(-1)
    return sum(log_probs[t - 1, ids[t]].item() for t in range(len(prompt_ids), len(ids)))


def sample_items(n: int):
    return load_items(sample_path("gold"))[:n]


@pytest.mark.slow
def test_perplexity_numbers_equal_a_direct_forward_pass(tiny_policy):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    corpus = load_corpus(sample_corpus_path())
    items = sample_items(3)
    scorer = AnswerScorer(tiny_policy, device="cpu")
    labels = perplexity_labels(corpus, items, scorer, candidates=3, batch_size=4)
    model, tokenizer = AutoModelForCausalLM.from_pretrained(tiny_policy).eval(), AutoTokenizer.from_pretrained(tiny_policy)
    prompt = load_prompt()
    by_id = {passage.id: passage for passage in corpus.passages}
    for one, label in zip(items, labels, strict=True):
        record = label.record
        without = direct_log_likelihood(model, tokenizer, prompt.messages(one.question_type, one.question), one.answer)
        assert record["without_passage"]["log_likelihood"] == pytest.approx(without, abs=1e-5)
        assert len(record["candidates"]) == 3
        for candidate in record["candidates"]:
            messages = prompt.messages(one.question_type, one.question,
                                       {"references": [by_id[candidate["passage_id"]].render()]})
            direct = direct_log_likelihood(model, tokenizer, messages, one.answer)
            assert candidate["log_likelihood"] == pytest.approx(direct, abs=1e-5)
            assert candidate["gain"] == pytest.approx(direct - without, abs=1e-5)
            assert candidate["gain_per_token"] == pytest.approx((direct - without) / record["answer_tokens"], abs=1e-7)
        best = max(record["candidates"], key=lambda c: c["gain"])
        assert (record["passage_id"], record["score"]) == (best["passage_id"], best["gain"])
        assert corpus.passages[label.passage].id == best["passage_id"]
        assert record["margin"] == pytest.approx(best["gain"] - sorted(c["gain"] for c in record["candidates"])[-2])
        # the candidates are the lexical ranking's top 3
        lexical = lexical_labels(corpus, [one.answer])[0].record
        assert record["candidates"][0]["passage_id"] == lexical["passage_id"]
        assert record["model"] == tiny_policy and record["method"] == "perplexity"


@pytest.mark.slow
def test_batch_size_does_not_change_the_numbers(tiny_policy):
    corpus = load_corpus(sample_corpus_path())
    items = sample_items(4)
    scorer = AnswerScorer(tiny_policy, device="cpu")
    one = perplexity_labels(corpus, items, scorer, candidates=3, batch_size=1)
    four = perplexity_labels(corpus, items, scorer, candidates=3, batch_size=4)
    for a, b in zip(one, four, strict=True):
        assert a.passage == b.passage
        assert a.record["without_passage"]["log_likelihood"] == pytest.approx(b.record["without_passage"]["log_likelihood"], abs=1e-5)
        for x, y in zip(a.record["candidates"], b.record["candidates"], strict=True):
            assert x["passage_id"] == y["passage_id"]
            assert x["log_likelihood"] == pytest.approx(y["log_likelihood"], abs=1e-5)
            assert x["gain"] == pytest.approx(y["gain"], abs=1e-5)


@pytest.mark.slow
def test_cli_perplexity_writes_the_candidates(cli, tmp_path, tiny_policy):
    items = json.loads(sample_path("gold").read_text(encoding="utf-8"))[:3]
    items[0]["output"].pop("article")
    data = write_json(tmp_path / "items.json", items)
    out = tmp_path / "out.json"
    status, stdout, err = cli("label", str(data), "--corpus", str(sample_corpus_path()), "--method", "perplexity",
                              "--model", tiny_policy, "--candidates", "2", "--batch-size", "3", "--device", "cpu",
                              "-o", str(out), "--json")
    assert status == 0, err
    summary = json.loads(stdout)
    assert summary["settings"]["model"] == tiny_policy and summary["settings"]["candidates"] == 2
    assert summary["n_written"] == 1 and summary["n_kept"] == 2 and summary["agreement"]["n"] == 2
    written = json.loads(out.read_text(encoding="utf-8"))
    assert written[0]["output"]["article"] == written[0]["labelling"]["title"]
    assert all(len(row["labelling"]["candidates"]) == 2 for row in written)


# -- bad input ----------------------------------------------------------------------------------------


def not_a_model(tmp_path: Path) -> str:
    folder = tmp_path / "not-a-model"
    folder.mkdir()
    (folder / "notes.txt").write_text("no weights here", encoding="utf-8")
    return str(folder)


BAD = {
    "no-model": (lambda tmp: ["--method", "perplexity"], "needs --model"),
    "missing-model": (lambda tmp: ["--method", "perplexity", "--candidates", "2", "--model", str(tmp / "nowhere")],
                      "cannot load policy model"),
    "not-a-model": (lambda tmp: ["--method", "perplexity", "--candidates", "2", "--model", not_a_model(tmp)],
                    "is not a model directory (no config.json)"),
    "unknown-method": (lambda tmp: ["--method", "semantic"], "unknown method 'semantic'"),
    "no-answers": (lambda tmp: ["--data", str(sample_path("test"))], "no item has an answer"),
    "bad-corpus": (lambda tmp: ["--corpus", str(tmp / "empty.txt")], "corpus file is empty"),
    "missing-corpus": (lambda tmp: ["--corpus", str(tmp / "none.txt")], "corpus file not found"),
    "no-output-folder": (lambda tmp: ["-o", str(tmp / "nowhere" / "out.json")], "does not exist"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_exit_2_and_no_output(cli, tmp_path, corpus_path, case):
    make_args, message = BAD[case]
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    args = make_args(tmp_path)
    data = str(write_json(tmp_path / "items.json", [item("a", ANSWERS["ㄷ"])]))
    if "--data" in args:
        data = args.pop(args.index("--data") + 1)
        args.remove("--data")
    corpus = [] if "--corpus" in args else ["--corpus", str(corpus_path)]
    out = [] if "-o" in args else ["-o", str(tmp_path / "out.json")]
    status, _, err = cli("label", data, *corpus, *out, *args)
    assert status == 2
    assert message in err and err.strip().count("\n") == 0 and "Traceback" not in err
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith(("out", ".out"))) == []


def test_docstring_examples():
    import doctest

    import malpyeong_eval.retrieval.labelling as module

    result = doctest.testmod(module)
    assert result.attempted >= 2 and result.failed == 0


@pytest.mark.slow
def test_a_template_that_does_not_continue_the_prompt_is_refused(cli, tmp_path, tiny_policy, corpus_path):
    import shutil

    model = tmp_path / "other-template"
    shutil.copytree(tiny_policy, model)
    config_path = model / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    # the generation prompt opens a "model" turn, the conversation writes an "assistant" turn
    config["chat_template"] = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
                               "{% if add_generation_prompt %}<|im_start|>model\n{% endif %}")
    config_path.write_text(json.dumps(config), encoding="utf-8")
    (model / "chat_template.jinja").unlink(missing_ok=True)
    data = write_json(tmp_path / "items.json", [item("a", ANSWERS["ㄷ"])])
    status, _, err = cli("label", str(data), "--corpus", str(corpus_path), "--method", "perplexity", "--model", str(model),
                         "--candidates", "2", "-o", str(tmp_path / "out.json"))
    assert status == 2 and "answer's tokens cannot be told apart" in err and err.strip().count("\n") == 0
    assert not (tmp_path / "out.json").exists()
