"""Every kind of broken submission: one line on stderr naming the problem and where, exit 2."""

import json
import subprocess
import sys

import pytest

from malpyeong_eval.data import sample_path

GOLD = json.loads(sample_path("gold").read_text(encoding="utf-8"))
SUBMISSION = json.loads(sample_path("submission").read_text(encoding="utf-8"))


def _dump(records) -> bytes:
    return json.dumps(records, ensure_ascii=False, indent=1).encode("utf-8")


def _with(index: int, change) -> bytes:
    records = json.loads(json.dumps(SUBMISSION))
    change(records, records[index])
    return _dump(records)


def _set_output(value):
    def change(records, item):
        item["output"] = value

    return change


def _set_answer(value):
    def change(records, item):
        item["output"]["answer"] = value

    return change


CASES = {
    "fewer_items": (_dump(SUBMISSION[:-1]), ["39 items", "40", repr(SUBMISSION[-1]["id"])]),
    "more_items": (_dump(SUBMISSION + [{**SUBMISSION[0], "id": "extra-1"}]), ["41 items", "'extra-1'"]),
    "duplicate_id": (_with(4, lambda r, item: item.update(id=r[1]["id"])), ["duplicate id", "items 2 and 5"]),
    "unknown_id": (_with(2, lambda r, item: item.update(id="999")), ["'999'", "not in the gold"]),
    "missing_id": (_with(3, lambda r, item: item.pop("id")), ["item 4", "no 'id'"]),
    "missing_output": (_with(5, lambda r, item: item.pop("output")), ["item 6", "no 'output'"]),
    "missing_answer": (_with(5, lambda r, item: item["output"].pop("answer")), ["item 6", "no 'output.answer'"]),
    "null_answer": (_with(6, _set_answer(None)), ["item 7", "'output.answer' is null"]),
    "number_answer": (_with(7, _set_answer(3.5)), ["item 8", "'output.answer' is a number"]),
    "list_answer": (_with(7, _set_answer(["a"])), ["item 8", "'output.answer' is a list"]),
    "output_not_object": (_with(8, _set_output("답")), ["item 9", "'output' is a string"]),
    "item_not_object": (_with(9, lambda r, item: r.__setitem__(9, "item")), ["item 10", "is a string, expected an object"]),
    "top_level_not_list": (json.dumps({"items": SUBMISSION}).encode(), ["top level is an object"]),
    "top_level_number": (b"42", ["top level is a number"]),
    "empty_file": (b"", ["file is empty"]),
    "whitespace_file": (b" \n\t\n", ["file is empty"]),
    "empty_list": (b"[]", ["holds no items"]),
    "not_json": (b"id,answer\n1,hello\n", ["neither JSON nor JSONL", "line 1"]),
    "truncated_json": (_dump(SUBMISSION)[:-400], ["truncated"]),
    "invalid_utf8": (_dump(SUBMISSION[:2])[:20] + b"\xff\xfe" + _dump(SUBMISSION[:2])[20:], ["not valid UTF-8", "0xff"]),
    "cp949_file": (json.dumps(SUBMISSION, ensure_ascii=False).encode("cp949", errors="replace"), ["not valid UTF-8"]),
    "lone_surrogate_answer": (_dump(SUBMISSION).replace(b'"answer": "', b'"answer": "\\ud800', 1), ["item 1", "lone surrogate"]),
    "absurd_nesting": (b"[" * 100_000, ["cannot be read as JSON"]),
    "markup_like_unknown_id": (_with(2, lambda r, item: item.update(id="[/a]")), ["'[/a]'", "not in the gold"]),
    "bad_jsonl_line": (
        b"\n".join(json.dumps(item, ensure_ascii=False).encode() for item in SUBMISSION[:3]) + b"\n{broken\n",
        ["line 4", "invalid JSONL"],
    ),
}



@pytest.mark.parametrize("case", sorted(CASES))
def test_broken_submission_one_line_exit_2(case, tmp_path, cli):
    content, expected = CASES[case]
    path = tmp_path / f"{case}.json"
    path.write_bytes(content)
    code, out, err = cli("score", str(path), "--gold", str(sample_path("gold")), "--metrics", "em")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err and str(path) in lines[0]
    for fragment in expected:
        assert fragment in lines[0]


def test_missing_file(tmp_path, cli):
    code, _, err = cli("score", str(tmp_path / "nope.json"), "--gold", str(sample_path("gold")))
    assert code == 2 and err.strip().splitlines() == [f"error: {tmp_path / 'nope.json'}: file not found"]


def test_directory_instead_of_file(tmp_path, cli):
    code, _, err = cli("score", str(tmp_path), "--gold", str(sample_path("gold")))
    assert code == 2 and "is a directory" in err and len(err.strip().splitlines()) == 1


def test_gold_with_duplicate_id(tmp_path, cli):
    gold = tmp_path / "gold.json"
    gold.write_bytes(_dump(GOLD + [GOLD[0]]))
    code, _, err = cli("score", str(sample_path("submission")), "--gold", str(gold))
    assert code == 2 and "duplicate id" in err and str(gold) in err


def test_gold_without_answers(tmp_path, cli):
    code, _, err = cli("score", str(sample_path("submission")), "--gold", str(sample_path("test")))
    assert code == 2 and "no 'output'" in err


def test_jsonl_submission_scores_like_json(tmp_path, cli):
    path = tmp_path / "sub.jsonl"
    path.write_text("\n".join(json.dumps(item, ensure_ascii=False) for item in SUBMISSION) + "\n", encoding="utf-8")
    code, out, _ = cli("score", str(path), "--gold", str(sample_path("gold")), "--metrics", "em", "--json")
    jsonl = json.loads(out)
    code2, out2, _ = cli("score", str(sample_path("submission")), "--gold", str(sample_path("gold")), "--metrics", "em", "--json")
    assert code == code2 == 0 and jsonl["metrics"] == json.loads(out2)["metrics"]


@pytest.mark.parametrize("device", ["toaster", "cuda:0"])
def test_bad_device_is_one_line(device, cli):
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        pytest.skip("a CUDA device is visible here")
    code, _, err = cli("score", "--sample", "--metrics", "bleurt", "--device", device)
    assert code == 2 and device in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_real_process_exit_status_and_no_traceback(tmp_path):
    path = tmp_path / "broken.json"
    path.write_bytes(b"[{")
    process = subprocess.run(
        [sys.executable, "-m", "malpyeong_eval", "score", str(path), "--gold", str(sample_path("gold"))],
        capture_output=True, text=True, timeout=120,
    )
    assert process.returncode == 2
    assert process.stderr.count("\n") == 1 and "Traceback" not in process.stderr
