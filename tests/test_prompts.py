"""The contest prompt with extra ``input`` fields: the organizers' ``[기타 정보]`` layout, prompt files, training."""

import hashlib
import json

import pytest

from malpyeong_eval.data import Item, load_items, sample_path
from malpyeong_eval.errors import MalpyeongError, SubmissionError
from malpyeong_eval.generation import render_prompts
from malpyeong_eval.prompts import DEFAULT_USER_TEMPLATE, load_prompt, render_extra

# Captured before extra fields were rendered (the packaged sample_test.json with the default prompt):
# the default prompt's hash, and a hash of every item's messages and of their plain-text rendering.
HASH_BEFORE = "45ea827f0aabd9f659acb3b390ba8d0043f3bc82e1ae996e54c8de67e84988f2"
MESSAGES_BEFORE = "488f654ea4b8e2ad43728e45704adf71f65fc27c909cf7ae1c30f5e5ab2ac6fd"
PLAIN_BEFORE = "466bd50f9385b0621daf9873d07855fc994bbb774ace9b04d29fc93a2997e2ae"

PASSAGES = ["<한글 맞춤법 - 제1항>\n한글 맞춤법은 표준어를 소리대로 적되,\n어법에 맞도록 함을 원칙으로 한다.",
            "<띄어쓰기 - 제2항>\n문장의 각 단어는 띄어 씀을 원칙으로 한다."]


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, ensure_ascii=False).encode()).hexdigest()


class _Plain:
    chat_template = None


def _item(**extra) -> Item:
    return Item("x", "선택형", "질문이다", None, extra_inputs=extra)


def test_items_without_extra_fields_render_as_before():
    prompt = load_prompt()
    items = load_items(sample_path("test"))
    assert all(not item.extra_inputs and item.retrieval is None for item in items)
    assert prompt.hash == HASH_BEFORE
    assert _digest([prompt.item_messages(item) for item in items]) == MESSAGES_BEFORE
    assert _digest([prompt.messages(item.question_type, item.question) for item in items]) == MESSAGES_BEFORE
    assert _digest(render_prompts(_Plain(), prompt, items)) == PLAIN_BEFORE


def test_extra_fields_render_in_the_baseline_layout():
    prompt = load_prompt()
    item = _item(references=PASSAGES, note="단서", score=1.5, flag=True, missing=None, meta={"k": "v"}, empty=[])
    user = prompt.item_messages(item)[1]["content"]
    instruction = prompt.instructions["선택형"]
    assert user == (
        f"{instruction}\n\n"
        "[기타 정보]\n"
        "- references:\n"
        "  - <한글 맞춤법 - 제1항> 한글 맞춤법은 표준어를 소리대로 적되, 어법에 맞도록 함을 원칙으로 한다.\n"
        "  - <띄어쓰기 - 제2항> 문장의 각 단어는 띄어 씀을 원칙으로 한다.\n"
        "- note: 단서\n"
        "- score: 1.5\n"
        "- flag: true\n"
        "- missing: null\n"
        '- meta: {"k": "v"}\n'
        "- empty: []\n\n"
        "[질문]\n질문이다"
    )
    # the baseline's make_chat, with a string value: the same text
    baseline_parts = [instruction, "\n".join(["[기타 정보]", "- note: 단서"]), "[질문]\n질문이다"]
    assert prompt.item_messages(_item(note="단서"))[1]["content"] == "\n\n".join(baseline_parts)
    assert render_extra({}) == ""


def test_extra_fields_keep_file_order_and_reach_plain_rendering(tmp_path):
    data = tmp_path / "data.json"
    data.write_text(json.dumps([{"id": "1", "input": {"zeta": "z", "question_type": "교정형", "alpha": "a",
                                                      "question": "문장"}}], ensure_ascii=False), encoding="utf-8")
    [item] = load_items(data)
    assert list(item.extra_inputs) == ["zeta", "alpha"]
    text = render_prompts(_Plain(), load_prompt(), [item])[0]
    assert "[기타 정보]\n- zeta: z\n- alpha: a\n\n[질문]\n문장" in text


def test_data_keeps_article_retrieval_and_refuses_bad_values(tmp_path):
    record = {"id": "1", "input": {"question_type": "선택형", "question": "q", "references": PASSAGES},
              "output": {"answer": "a", "article": "<한글 맞춤법 - 제1항>"},
              "retrieval": {"retriever": "bm25-mecab", "top_k": 2, "passage_ids": ["p1", "p2"], "scores": [2.0, 1.0]}}
    data = tmp_path / "data.json"
    data.write_text(json.dumps([record], ensure_ascii=False), encoding="utf-8")
    [item] = load_items(data)
    assert item.extra_inputs == {"references": PASSAGES} and item.article == "<한글 맞춤법 - 제1항>"
    assert item.retrieval["top_k"] == 2
    assert Item("a", "t", "q", "x") == Item("a", "t", "q", "x", {}, None, None)  # positional use still works
    # the source record, kept as read: not part of equality, hashing or repr, and handed out as a copy
    assert item.record == record and "record" not in repr(item)
    in_code = Item("1", "선택형", "q", "a", {"references": PASSAGES}, "<한글 맞춤법 - 제1항>", item.retrieval)
    assert in_code == item and hash(in_code) == hash(item) and not in_code.record
    assert in_code.as_record() == item.as_record() == record  # an item made in code: its fields in the contest format
    item.as_record()["input"]["references"].append("x")
    assert item.record == record
    for broken, message in (({**record, "retrieval": [1]}, "'retrieval' is a list"),
                            ({**record, "output": {"answer": "a", "article": 3}}, "'output.article' is a number"),
                            ({**record, "input": {**record["input"], "references": ["\ud800"]}}, "'input.references\\[0\\]'")):
        data.write_text(json.dumps([broken]), encoding="utf-8")
        with pytest.raises(SubmissionError, match=message) as info:
            load_items(data)
        assert "\n" not in str(info.value)


def test_prompt_file_places_the_extra_block(tmp_path):
    path = tmp_path / "p.json"
    base = {"id": "mine", "system": "s", "instructions": {"default": "d"}}
    path.write_text(json.dumps(base), encoding="utf-8")
    plain = load_prompt(path)
    assert plain.user == DEFAULT_USER_TEMPLATE
    assert plain.item_messages(_item(note="n"))[1]["content"] == "d\n\n[기타 정보]\n- note: n\n\n[질문]\n질문이다"
    path.write_text(json.dumps({**base, "user": "[질문]\n{question}\n\n{extra}{instruction} {braces}",
                                "extra_header": "[참고 자료]"}), encoding="utf-8")
    placed = load_prompt(path)
    assert placed.item_messages(_item(note="n"))[1]["content"] == "[질문]\n질문이다\n\n[참고 자료]\n- note: n\n\nd {braces}"
    assert placed.item_messages(_item())[1]["content"] == "[질문]\n질문이다\n\nd {braces}"
    assert placed.hash != plain.hash  # the template is part of the prompt's hash
    path.write_text(json.dumps({**base, "user": "{instruction} {extra}"}), encoding="utf-8")
    with pytest.raises(MalpyeongError, match="question"):
        load_prompt(path)


def test_train_dataset_renders_extra_fields_as_run_does():
    from train.trainer import build_dataset

    prompt = load_prompt()
    item = Item("1", "선택형", "질문이다", "답", extra_inputs={"references": PASSAGES})
    row = build_dataset([item], prompt)[0]
    assert row["prompt"] == prompt.item_messages(item)
    assert "[기타 정보]\n- references:\n  - <한글 맞춤법 - 제1항>" in row["prompt"][1]["content"]
