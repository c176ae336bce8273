"""Hostile inputs: each is refused with exit status 2 and exactly one stderr line, no traceback, the
leaderboard database untouched and no output file written, within a time bound.

Every case runs against a real SQLite leaderboard holding one run (``MALPYEONG_DB``), real files
(FIFOs from ``os.mkfifo``), and copies of the tiny local models damaged by hand.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from leaderboard_support import make_result
from malpyeong_eval.data import sample_path

GOLD = sample_path("gold")
SAMPLE = json.loads(GOLD.read_text(encoding="utf-8"))
NESTED = 340


def _dump(path: Path, records) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


def _gold_with(tmp_path: Path, change) -> Path:
    records = json.loads(json.dumps(SAMPLE))
    change(records[0])
    return _dump(tmp_path / "gold.json", records)


def _deep(depth: int):
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture(scope="module")
def recorded_board(tmp_path_factory) -> Path:
    """A SQLite leaderboard, migrated, with one run recorded: built once, copied for each test."""
    from leaderboard.store import Leaderboard

    path = tmp_path_factory.mktemp("board") / "board.db"
    board = Leaderboard(str(path))
    board.record(make_result(1), name="kept")
    board.engine.dispose()
    return path


@pytest.fixture
def board(recorded_board, tmp_path, monkeypatch):
    """A fresh copy of ``recorded_board`` (SQLite's backup API: a consistent copy, WAL included), as
    MALPYEONG_DB; yields a function giving its whole content."""
    path = tmp_path / "board.db"
    with closing(sqlite3.connect(recorded_board)) as source, closing(sqlite3.connect(path)) as copy:
        source.backup(copy)
    monkeypatch.setenv("MALPYEONG_DB", str(path))

    def content() -> list[str]:
        with sqlite3.connect(path) as connection:
            return list(connection.iterdump())

    return content


def refused(result, *needles: str) -> str:
    code, out, err = result
    lines = err.strip().splitlines()
    assert code == 2, (code, out[-500:], err[-2000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-2000:]
    assert "Traceback" not in out + err
    for needle in needles:
        assert needle in err, err
    return lines[0]


# Each case: (name, build(tmp_path, models) -> argv, words the one line must hold)
def _score(path: Path) -> list[str]:
    return ["score", str(path), "--gold", str(GOLD), "--metrics", "em"]


def _score_gold(path: Path) -> list[str]:
    return ["score", str(GOLD), "--gold", str(path), "--metrics", "em"]


def _retrieve(tmp_path: Path, *extra: str, data: Path = GOLD, corpus: Path | None = None) -> list[str]:
    corpus = corpus or Path(str(sample_path("gold"))).parent / "sample_corpus.txt"
    return ["retrieve", str(data), "--corpus", str(corpus), "--top-k", "1", "-o", str(tmp_path / "out.json"), *extra]


def _corpus_jsonl(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "corpus.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    return path


def _yaml(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "c.yaml").write_text(text, encoding="utf-8")
    return ["train", "--config", str(tmp_path / "c.yaml"), "--data", str(GOLD)]


def _prompt(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "p.json").write_text(text, encoding="utf-8")
    return ["run", str(tmp_path / "nowhere"), "--prompt-file", str(tmp_path / "p.json"), "--no-record"]


def _run_flags(*flags: str):
    return lambda tmp_path: ["run", str(tmp_path / "nowhere"), "--no-record", *flags]


def _train_flags(*flags: str):
    def build(tmp_path: Path) -> list[str]:
        (tmp_path / "policy").mkdir()
        _write(tmp_path / "policy" / "config.json", "{}")  # a folder that passes the model check: the flag fails first
        return ["train", "--data", str(GOLD), "--model", str(tmp_path / "policy"), *flags]
    return build


FILE_CASES = {
    "deep extra input": (lambda t: _score(_gold_with(t, lambda r: r["input"].update(x=_deep(NESTED))).rename(t / "s.json")),
                         ["nested deeper"]),
    "deep gold": (lambda t: _score_gold(_gold_with(t, lambda r: r["input"].update(x=_deep(NESTED)))), ["nested deeper"]),
    "deep beyond the parser": (lambda t: _score(_write(t / "s.json", "[" * 100_000 + "]" * 100_000)), ["cannot be read as JSON"]),
    "surrogate question_type": (lambda t: _score_gold(_raw_gold(t, '"question_type": "\\ud800', '"question_type": "')), ["lone surrogate", "item 1"]),
    "surrogate extra key": (lambda t: _score_gold(_raw_gold(t, '"\\udfff": 1')), ["lone surrogate", "item 1"]),
    "surrogate in an extra list": (lambda t: _score_gold(_raw_gold(t, '"refs": [{"a": "\\ud83d"}]')), ["lone surrogate", "refs[0].a"]),
    "prompt file system surrogate": (lambda t: _prompt(t, '{"system": "\\ud800", "instructions": {"default": "x"}}'), ["lone surrogate", "system"]),
    "prompt file deep": (lambda t: _prompt(t, json.dumps({"instructions": {"default": "x"}, "x": _deep(NESTED)})), ["nested deeper"]),
    "prompt file not JSON": (lambda t: _prompt(t, "{"), ["not JSON"]),
    "corpus jsonl surrogate": (lambda t: _retrieve(t, corpus=_corpus_jsonl(t, '{"id": 1, "text": "\\ud800"}')), ["lone surrogate"]),
    "corpus jsonl deep": (lambda t: _retrieve(t, corpus=_corpus_jsonl(t, json.dumps({"id": 1, "text": "t", "x": _deep(NESTED)}))), ["nested deeper"]),
    "retrieve question surrogate": (lambda t: _retrieve(t, data=_raw_gold(t, '"question": "\\udc00', '"question": "')), ["lone surrogate"]),
    "retrieve deep data": (lambda t: _retrieve(t, data=_gold_with(t, lambda r: r["input"].update(x=_deep(NESTED)))), ["nested deeper"]),
    "labels deep": (lambda t: _retrieve(t, "--labels", str(_write(t / "l.json", json.dumps({"1": _deep(NESTED)})))), ["nested deeper"]),
    "labels surrogate": (lambda t: _retrieve(t, "--labels", str(_write(t / "l.json", '{"1": "\\ud800"}'))), ["lone surrogate"]),
    "yaml deep": (lambda t: _yaml(t, "grpo: " + "[" * NESTED + "]" * NESTED), ["nested deeper"]),
    "yaml very deep": (lambda t: _yaml(t, "grpo: " + "[" * 5000 + "]" * 5000), ["training config"]),
    "yaml surrogate": (lambda t: _yaml(t, 'model: "\\ud800"'), ["lone surrogate"]),
    "directory as submission": (lambda t: _score(t), ["is a directory"]),
    "adapter config a list": (lambda t: ["run", str(_adapter(t, "[]")), "--no-record"], ["not a JSON object"]),
    "adapter config garbage": (lambda t: ["run", str(_adapter(t, "garbage")), "--no-record"], ["not JSON"]),
}

FLAG_CASES = {
    **{f"device {d}": (lambda t, d=d: ["score", "--sample", "--metrics", "em", "--device", d], ["--device"])
       for d in ("mps", "xpu", "hpu", "meta", "vulkan", "cuda:7", "gpu")},
    "temperature 0": (_run_flags("--temperature", "0"), ["--temperature"]),
    "temperature -1": (_run_flags("--temperature", "-1"), ["--temperature"]),
    "temperature nan": (_run_flags("--temperature", "nan"), ["--temperature"]),
    "top-p 0": (_run_flags("--top-p", "0"), ["--top-p"]),
    "top-p 2": (_run_flags("--top-p", "2"), ["--top-p"]),
    "top-p nan": (_run_flags("--top-p", "nan"), ["--top-p"]),
    "repetition penalty 0": (_run_flags("--repetition-penalty", "0"), ["--repetition-penalty"]),
    "seed past 2**64": (_run_flags("--seed", str(2**64 + 1)), ["--seed"]),
    "seed negative": (_run_flags("--seed", "-1"), ["--seed"]),
    "batch size 0": (lambda t: ["score", "--sample", "--batch-size", "0"], ["--batch-size '0'", "positive integer or 'auto'"]),
    "limit 0": (_run_flags("--limit", "0"), ["--limit"]),
    "top 0": (lambda t: ["leaderboard", "--top", "0"], ["--top"]),
    "unknown option": (lambda t: ["score", "--sample", "--nope"], ["--nope"]),
    "unknown command": (lambda t: ["scroe"], ["scroe"]),
    "grpo num_generations 0": (_train_flags("--grpo", "num_generations=0"), ["num_generations"]),
    "lora r 0": (_train_flags("--lora-r", "0"), ["--lora-r"]),
    "reward weights nan": (_train_flags("--reward-weights", "nan,1,1"), ["--reward-weights"]),
    "max steps -5": (_train_flags("--max-steps", "-5"), ["--max-steps"]),
    "grpo learning rate inf": (_train_flags("--grpo", "learning_rate=.inf"), ["learning_rate"]),
    "show superscript two": (lambda t: ["show", "²"], ["no run named"]),
    "show huge id": (lambda t: ["show", "#99999999999999999999999"], ["no run named"]),
    "show huge bare id": (lambda t: ["show", "99999999999999999999999"], ["no run named"]),
    "db empty": (lambda t: ["leaderboard", "--db", ""], ["--db", "empty"]),
    "db blank": (lambda t: ["leaderboard", "--db", "   "], ["--db", "empty"]),
    "score record db empty": (lambda t: ["score", "--sample", "--metrics", "em", "--record", "--name", "x", "--db", ""], ["--db"]),
    "score record a taken name": (lambda t: ["score", "--sample", "--metrics", "em", "--record", "--name", "kept",
                                             "-o", str(t / "out.json")], ["already on the leaderboard"]),
    "train model missing dir": (lambda t: ["train", "--data", str(GOLD), "--model", str(t / "missing-dir")], ["no such directory"]),
    "train model not cached offline": (lambda t: ["train", "--data", str(GOLD), "--model", "missing-dir"], ["not in the Hub cache"]),
    "train model is a JSON file": (lambda t: ["train", "--data", str(GOLD), "--model", str(GOLD)], ["is a file"]),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _raw_gold(tmp_path: Path, inserted: str, marker: str | None = None) -> Path:
    """The sample gold with raw JSON text (escapes kept as written) put at the first ``marker``, by default
    first into item 1's input."""
    text = json.dumps(SAMPLE, ensure_ascii=False)
    if marker is None:
        marker, inserted = '"input": {', '"input": {' + inserted + ", "
    assert marker in text
    return _write(tmp_path / "gold-raw.json", text.replace(marker, inserted, 1))


def _adapter(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "adapter"
    folder.mkdir()
    _write(folder / "adapter_config.json", text)
    return folder


@pytest.mark.parametrize("case", [*FILE_CASES, *FLAG_CASES])
def test_hostile_input_is_one_line_exit_2(case, tmp_path, board, cli, monkeypatch):
    build, needles = {**FILE_CASES, **FLAG_CASES}[case]
    monkeypatch.chdir(tmp_path)
    before = board()
    args = build(tmp_path)
    started = time.monotonic()
    refused(cli(*args), *needles)
    assert time.monotonic() - started < 30
    assert board() == before
    assert not (tmp_path / "out.json").exists()
    assert not (tmp_path / "   ").exists()


# Files that are not regular files: refused before they are opened, in a real process, within seconds.
def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path


SPECIAL_CASES = {
    "fifo submission": lambda t: _score(_fifo(t)),
    "fifo gold": lambda t: _score_gold(_fifo(t)),
    "dev zero submission": lambda t: _score(Path("/dev/zero")),
    "fifo corpus": lambda t: _retrieve(t, corpus=_fifo(t)),
    "fifo config": lambda t: ["train", "--config", str(_fifo(t)), "--data", str(GOLD)],
    "fifo prompt file": lambda t: ["run", "nowhere", "--prompt-file", str(_fifo(t)), "--no-record"],
    "dev zero labels": lambda t: _retrieve(t, "--labels", "/dev/zero"),
}


@pytest.mark.parametrize("case", SPECIAL_CASES)
def test_pipes_and_devices_are_refused_within_seconds(case, tmp_path, board):
    args = SPECIAL_CASES[case](tmp_path)
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "malpyeong_eval", *args], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert time.monotonic() - started < 20
    refused((done.returncode, done.stdout, done.stderr), "not a regular file")


@pytest.mark.parametrize("flag", ["--name", "--tag", "--dataset-name"])
def test_arguments_that_are_not_utf8_are_refused_before_anything_is_written(flag, tmp_path, board, cli):
    output = tmp_path / "result.json"
    before = board()
    args = ["score", "--sample", "--metrics", "em", "--record", "--name", "run", "-o", str(output),
            flag, os.fsdecode(b"bad\xff")]
    refused(cli(*args), "not valid UTF-8")
    assert not output.exists() and board() == before


def test_retrieve_field_not_utf8(tmp_path, cli):
    refused(cli(*_retrieve(tmp_path, "--field", os.fsdecode(b"\xfe"))), "not valid UTF-8")
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085"])
def test_valid_jsonl_with_unicode_line_separators_in_strings_scores(separator, tmp_path, cli):
    records = json.loads(json.dumps(SAMPLE))
    records[0]["output"]["answer"] += f" 줄{separator}바꿈"
    jsonl = tmp_path / "submission.jsonl"
    jsonl.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    assert separator in jsonl.read_text(encoding="utf-8")
    code, out, err = cli("score", str(jsonl), "--gold", str(GOLD), "--metrics", "em", "--json")
    assert code == 0, err
    assert json.loads(out)["n"] == len(SAMPLE)


def test_retrieve_jsonl_output_reads_back(tmp_path, cli):
    records = json.loads(json.dumps(SAMPLE))
    records[0]["input"]["question"] += "\u2028둘째 줄"
    data = _dump(tmp_path / "data.json", records)
    out = tmp_path / "rag.jsonl"
    code, _, err = cli("retrieve", str(data), "--corpus", str(GOLD.parent / "sample_corpus.txt"), "--top-k", "2", "-o", str(out))
    assert code == 0, err
    assert "\u2028" in out.read_text(encoding="utf-8")
    code, out_text, err = cli("score", str(out), "--gold", str(GOLD), "--metrics", "em", "--json")
    assert code == 0, err


# Damaged model folders: copies of the tiny models, broken one way each.
def _damaged_copy(model: str, folder: Path, damage) -> Path:
    """A copy of the tiny ``model`` in ``folder``, broken by ``damage``."""
    shutil.copytree(model, folder)
    damage(folder)
    return folder


def _truncate(path: Path, keep: float) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])


def _remove_tokenizer(folder: Path) -> None:
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json"):
        (folder / name).unlink()


def _config(folder: Path, change) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps(change(config)))


BERT_DAMAGE = {
    "no tokenizer files": (_remove_tokenizer, "no tokenizer files"),
    "truncated safetensors": (lambda f: _truncate(f / "model.safetensors", 0.5), "cannot load BERTScore model"),
    "zeroed safetensors": (lambda f: (f / "model.safetensors").write_bytes(bytes(os.path.getsize(f / "model.safetensors"))), "cannot load"),
    "empty safetensors": (lambda f: (f / "model.safetensors").write_bytes(b""), "cannot load"),
    "config is a list": (lambda f: (f / "config.json").write_text("[]"), "cannot load"),
    "config is not JSON": (lambda f: (f / "config.json").write_text("{"), "cannot load"),
    "tokenizer missing keys": (lambda f: [(f / "tokenizer.json").write_text("{}"), (f / "vocab.txt").unlink()], "cannot load"),
    "mismatched shapes": (lambda f: _config(f, lambda c: {**c, "hidden_size": c["hidden_size"] * 2,
                                                         "intermediate_size": c["intermediate_size"] * 2}), "cannot load"),
    "no config": (lambda f: (f / "config.json").unlink(), "no config.json"),
}


@pytest.mark.parametrize("damage", BERT_DAMAGE)
def test_damaged_bertscore_model_is_one_line(damage, tiny_bert, tmp_path, board, cli):
    change, needle = BERT_DAMAGE[damage]
    folder = _damaged_copy(tiny_bert, tmp_path / "bert", change)
    before = board()
    line = refused(cli("score", "--sample", "--metrics", "bertscore", "--bertscore-model", str(folder),
                       "--bertscore-layers", "2", "--record", "--name", "x", "-o", str(tmp_path / "out.json")), needle)
    assert str(folder) in line
    assert board() == before and not (tmp_path / "out.json").exists()


def test_bleurt_without_its_sentencepiece_is_refused(tiny_bleurt, tmp_path, cli):
    folder = tmp_path / "bleurt"
    shutil.copytree(tiny_bleurt, folder)
    (folder / "spm.model").unlink()
    refused(cli("score", "--sample", "--metrics", "bleurt", "--bleurt-model", str(folder)), "no tokenizer files")


def _template(folder: Path, template: str) -> None:
    path = folder / "tokenizer_config.json"
    config = json.loads(path.read_text())
    config["chat_template"] = template
    path.write_text(json.dumps(config))
    jinja = folder / "chat_template.jinja"
    if jinja.exists():
        jinja.write_text(template)


POLICY_DAMAGE = {
    "template syntax error": (lambda f: _template(f, "{% for m in messages %}{{ m.content }"), "chat template"),
    "template raise_exception": (lambda f: _template(f, "{{ raise_exception('no system role') }}"), "no system role"),
    "truncated weights": (lambda f: _truncate(f / "model.safetensors", 0.3), "cannot load model"),
    "config is a list": (lambda f: (f / "config.json").write_text("[]"), "cannot load model"),
}


@pytest.mark.parametrize("damage", POLICY_DAMAGE)
def test_damaged_policy_is_one_line(damage, tiny_policy, tmp_path, board, cli):
    change, needle = POLICY_DAMAGE[damage]
    folder = _damaged_copy(tiny_policy, tmp_path / "policy", change)
    before = board()
    refused(cli("run", str(folder), "--limit", "2", "--max-new-tokens", "4", "--metrics", "em",
                "--runs-dir", str(tmp_path / "runs")), needle)
    assert board() == before


# Terminal escapes from model output are shown, not obeyed.
def test_show_makes_terminal_escapes_visible(tmp_path, cli):
    from dataclasses import replace

    from leaderboard.store import Leaderboard
    from leaderboard_support import result_of

    hostile = "\x1b[2J\x1b]8;;http://evil.example\x07click\x1b]8;;\x07\r\u202eevil\x9b31m"
    items = [replace(item, prediction=hostile + item.prediction, gold=hostile, id=f"\x1b[1m{item.id}")
             for item in make_result(3).items]
    url = f"sqlite:///{tmp_path / 'b.db'}"
    Leaderboard(url).record(result_of(items), name="evil\x1b[2Jname")
    for args in (["show", "evil\x1b[2Jname", "--worst", "3"], ["leaderboard"],
                 ["compare", "evil\x1b[2Jname", "evil\x1b[2Jname"]):
        code, out, err = cli(*args, "--db", url)
        assert code == 0, err
        for control in ("\x1b", "\x07", "\r", "\u202e", "\x9b"):
            assert control not in out + err, (args, control)
    code, out, _ = cli("show", "evil\x1b[2Jname", "--worst", "3", "--db", url)
    assert "\\x1b[2J" in out and "\\u202e" in out


# Passwords never print, in any URL form.
SECRET = "hunter2secret"
URL_FORMS = [
    f"postgresql+psycopg://team:{SECRET}@127.0.0.1:1/malpyeong",
    f"postgresql+psycopg://team@127.0.0.1:1/malpyeong?password={SECRET}",
    f"postgresql+psycopg://127.0.0.1:1/malpyeong?sslmode=disable&password={SECRET}",
    f"postgresql+psycopg://127.0.0.1:1/malpyeong?sslpassword={SECRET}",
    f"postgresql+psycopg://team:{SECRET}@127.0.0.1:1/malpyeong?password={SECRET}x",
    f"postgresql+psycopg://team:{SECRET}@x@127.0.0.1:1/malpyeong",
    f"postgresql+psycopg://team:{SECRET}@127.0.0.1:notaport/malpyeong",
    f"postgresql+psycopg://127.0.0.1:1/malpyeong?PASSWORD={SECRET}",
]


@pytest.mark.parametrize("url", URL_FORMS)
def test_no_command_prints_a_password(url, tmp_path, cli, monkeypatch):
    from malpyeong_eval.secrets import mask_url

    assert SECRET not in mask_url(url)
    commands = [["leaderboard", "--where"], ["leaderboard"], ["show", "x"], ["compare", "a", "b"],
                ["export"], ["plot", "--tag", "t"], ["rescore"], ["score", "--sample", "--metrics", "em", "--record", "--name", "x"]]
    for args in commands:
        for how in ("flag", "env"):
            if how == "flag":
                monkeypatch.delenv("MALPYEONG_DB", raising=False)
                code, out, err = cli(*args, "--db", url)
            else:
                monkeypatch.setenv("MALPYEONG_DB", url)
                code, out, err = cli(*args)
            assert SECRET not in out + err, (args, how, out + err)
            assert "Traceback" not in err
            if args != ["leaderboard", "--where"]:
                refused((code, out, err))


@pytest.mark.parametrize("url", URL_FORMS)
def test_follow_command_leaves_the_password_out(url, tmp_path):
    from train.plan import follow_command
    from train.config import TrainSettings

    class Config:  # the two GRPOConfig fields the command reads
        max_steps = 10
        max_completion_length = 64

    settings = TrainSettings(data=str(GOLD), output_dir=str(tmp_path / "out"), db=url, eval={"data": str(GOLD)})
    command = follow_command(settings, Config())
    assert SECRET not in command and "--db" not in command.split("#")[0] and "MALPYEONG_DB" in command


def test_recorded_line_masks_query_password(tmp_path, cli, monkeypatch):
    """'recorded run ... in URL' with a real database: PostgreSQL where available (password in the query)."""
    from leaderboard_support import postgres_url
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url())
    if not url.password:
        pytest.skip("the test PostgreSQL URL has no password")
    password = url.password
    query_form = url.set(password=None).update_query_dict({"password": password}).render_as_string(hide_password=False)
    code, out, err = cli("score", "--sample", "--metrics", "em", "--record", "--name", "pw", "--db", query_form)
    assert code == 0, err
    assert "recorded run" in err and password not in out + err
    code, out, err = cli("leaderboard", "--db", query_form)
    assert code == 0 and password not in out + err


# Hand-damaged databases.
def _damaged_db(tmp_path: Path, sql: str) -> str:
    from leaderboard.store import Leaderboard

    path = tmp_path / "damaged.db"
    Leaderboard(str(path)).record(make_result(1), name="kept")
    with sqlite3.connect(path) as connection:
        connection.executescript(sql)
    return str(path)


DAMAGED_DBS = {
    "stamped without runs": "PRAGMA foreign_keys=OFF; DROP TABLE run_tags; DROP TABLE item_results; DROP TABLE group_metrics; DROP TABLE runs;",
    "two alembic rows": "INSERT INTO alembic_version VALUES ('0000');",
    "invalid utf-8 in a name": "UPDATE runs SET name = CAST(X'6B65FF' AS TEXT);",
    "invalid JSON in generation": "UPDATE runs SET generation = '{not json';",
}


@pytest.mark.parametrize("damage", DAMAGED_DBS)
def test_hand_damaged_database_is_one_line(damage, tmp_path, cli):
    path = _damaged_db(tmp_path, DAMAGED_DBS[damage])
    refusals = 0
    for args in (["leaderboard"], ["show", "kept"], ["export", "--format", "json"]):
        code, out, err = cli(*args, "--db", path)
        if code == 0:
            assert "Traceback" not in out + err
            continue  # a damage this command never reads
        refused((code, out, err))
        refusals += 1
    assert refusals, "no command noticed the damage: the case tests nothing"


def test_lock_wait_is_one_busy_timeout(tmp_path, monkeypatch):
    """A rollback-journal database whose lock another connection holds: refused after one bounded wait."""
    from leaderboard import db
    from leaderboard.store import Leaderboard

    path = tmp_path / "locked.db"
    Leaderboard(str(path)).engine.dispose()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode = DELETE")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    monkeypatch.setattr(db, "BUSY_TIMEOUT_MS", 1500)
    started = time.monotonic()
    try:
        with pytest.raises(db.DatabaseError, match="locked"):
            Leaderboard(str(path))
    finally:
        holder.rollback()
        holder.close()
    assert 1.0 < time.monotonic() - started < 6


# demo --output-dir never deletes or writes into what it did not make.
def test_demo_refuses_a_folder_it_did_not_make(tmp_path, cli):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.txt").write_text("years of work")
    refused(cli("demo", "--output-dir", str(folder), "--db", str(tmp_path / "d.db")), "not a demo folder")
    assert (folder / "thesis.txt").read_text() == "years of work" and sorted(os.listdir(folder)) == ["thesis.txt"]


def test_demo_cleanup_deletes_only_what_it_wrote(tmp_path):
    from train.demo import DEMO_MARKER, prepare_output_dir, record_written

    folder = tmp_path / "demo"

    def demo_writes() -> None:  # what a demo run writes between the two calls
        (folder / "checkpoint-20").mkdir(exist_ok=True)
        (folder / "checkpoint-20" / "model.safetensors").write_bytes(b"x")
        (folder / "training-curve.png").write_bytes(b"png")

    kept = prepare_output_dir(folder)
    demo_writes()
    record_written(folder, kept)
    (folder / "notes.txt").write_text("mine")
    (folder / "checkpoint-20" / "my-analysis.ipynb").write_text("mine too")
    (folder / "empty-of-mine").mkdir()
    for _ in range(2):  # a second and a third demo: the user's files stay through both
        kept = prepare_output_dir(folder)
        assert not (folder / "training-curve.png").exists() and not (folder / "checkpoint-20" / "model.safetensors").exists()
        assert (folder / "notes.txt").read_text() == "mine"
        assert (folder / "checkpoint-20" / "my-analysis.ipynb").read_text() == "mine too"
        assert (folder / "empty-of-mine").is_dir() and (folder / DEMO_MARKER).exists()
        demo_writes()
        record_written(folder, kept)


@pytest.mark.parametrize("reference", ["#99999999999999999999999", "2147483648", "#9999999999", "²", "#-1"])
def test_run_references_on_postgres(reference, cli):
    """PostgreSQL refuses an id past its integer column with a DataError: such a reference is a name."""
    from leaderboard.store import Leaderboard
    from leaderboard_support import postgres_url

    url = postgres_url()
    Leaderboard(url).record(make_result(2), name="kept")
    refused(cli("show", reference, "--db", url), "no run named")


def test_mecab_text_it_refuses_whole_is_parsed_in_pieces(monkeypatch):
    """Mecab's parse returns None past a few MB (44 s to learn it on 10 MB here): such a text is parsed in
    pieces cut at spaces, giving the morphemes of the whole. Here Mecab refuses past 1,000 characters."""
    from malpyeong_eval.metrics import _vendor_api

    real = _vendor_api.mecab_wakati_tagger()._tagger

    class Refusing:
        def parse(self, text):
            return None if len(text) > 1000 else real.parse(text)

    monkeypatch.setattr(_vendor_api, "_MECAB_CHUNK", 700)
    text = "라면이 불기 전에 어서 먹어라. 한글 맞춤법 제43항에 따라 띄어 쓴다.\n" * 200
    assert _vendor_api._Wakati(Refusing()).parse(text).split() == real.parse(text).split()
    monkeypatch.setattr(_vendor_api, "_MECAB_CHUNK", 2000)
    with pytest.raises(ValueError, match="cannot analyse"):
        _vendor_api._Wakati(Refusing()).parse("가" * 5000)  # no space to cut a piece Mecab takes


def test_prompt_longer_than_the_context_is_refused(tiny_policy, tmp_path, board, cli):
    records = json.loads(json.dumps(SAMPLE[:2]))
    records[1]["input"]["references"] = ["가나다 라마바 사아자 " * 2000]
    data = _dump(tmp_path / "long.json", records)
    before = board()
    refused(cli("run", tiny_policy, "--data", str(data), "--max-new-tokens", "4", "--metrics", "em",
                "--runs-dir", str(tmp_path / "runs")), "more than the model's context")
    assert board() == before


# A newcomer's first hour.
def test_ctrl_c_says_how_to_resume(cli, monkeypatch):
    import malpyeong_eval.data as data

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(data, "load_data", interrupted)  # where `run` reads its data
    code, _, err = cli("run", "nowhere", "--no-record")
    assert code == 130 and "resumes" in err and "Traceback" not in err


def test_ranking_and_won_lost_rules_are_on_the_screen(tmp_path, cli):
    url = str(tmp_path / "b.db")
    for name in ("a", "b"):
        assert cli("score", "--sample", "--metrics", "em,rouge1", "--record", "--name", name, "--db", url)[0] == 0
    code, out, _ = cli("leaderboard", "--db", url)
    assert code == 0 and "without one by the mean of the reason metrics scored, then EM" in " ".join(out.split())
    assert "BERTScore" not in out  # no run has it: no empty column
    code, out, _ = cli("compare", "a", "b", "--db", url)
    assert code == 0 and "by each item's ROUGE-1, then EM: the runs have no Final Score" in " ".join(out.split())
    code, out, _ = cli("compare", "a", "b", "--db", url, "--json")
    assert json.loads(out)["decided_by"] == "rouge1,exact_match"


def test_plot_needs_one_training(cli, board):
    refused(cli("plot"), "--tag or --prefix")


def test_exports_are_tidy(tmp_path, cli):
    from leaderboard.store import Leaderboard
    from malpyeong_eval.recording import RunMetadata

    url = str(tmp_path / "b.db")
    Leaderboard(url).record(make_result(4), name="stepped", metadata=RunMetadata(step=40))
    out = tmp_path / "board.csv"
    assert cli("export", "--format", "csv", "-o", str(out), "--db", url)[0] == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert ",40," in text and "40.0" not in text and "None" not in text
    numbers = [cell for cell in text.splitlines()[1].split(",") if cell.startswith("0.")]
    assert numbers and all(len(cell) == 6 for cell in numbers)  # 4 places
    code, page, _ = cli("export", "--format", "html", "--db", url)
    assert code == 0 and "<style>" in page and "None" not in page
    code, rows, _ = cli("export", "--format", "json", "--db", url)
    assert json.loads(rows)[0]["context"] is None


def test_every_file_written_is_said(tmp_path, cli):
    """``score -o`` (stderr: stdout keeps the table or JSON) and ``export -o`` in each format say what they wrote."""
    from leaderboard.store import Leaderboard

    url = str(tmp_path / "b.db")
    Leaderboard(url).record(make_result(4), name="kept")
    result = tmp_path / "result.json"
    code, out, err = cli("score", "--sample", "--metrics", "em", "-o", str(result), "--json")
    assert code == 0 and f"wrote the result to {result}" in err and json.loads(out) and result.is_file()
    for fmt in ("csv", "md", "html", "json"):
        for run, what in ((None, "the leaderboard"), ("kept", "the items of run kept")):
            path = tmp_path / f"{run or 'board'}.{fmt}"
            code, out, _ = cli("export", "--format", fmt, "-o", str(path), "--db", url, *(["--run", run] if run else []))
            assert code == 0 and out.strip() == f"wrote {what} as {fmt} to {path}" and path.stat().st_size > 0


def test_show_json_is_strict_json_with_a_stored_nan(tmp_path, cli):
    path = _damaged_db(tmp_path, """UPDATE runs SET generation = '{"top_p": NaN, "seed": 0}';""")
    code, out, err = cli("show", "kept", "--json", "--db", path)
    assert code == 0, err
    assert "NaN" not in out and json.loads(out)["run"]["generation"]["top_p"] is None


# Round two (issue 29): outputs, disk faults, containers, caches, the server. Every refused or failed write
# leaves what the user had exactly as it was.
CORPUS = GOLD.parent / "sample_corpus.txt"


def _fill(folder: Path) -> None:
    """Fill the file system of ``folder`` to the last byte."""
    handle = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(handle, bytes(4096)):
            pass
    except OSError:  # full
        pass
    finally:
        os.close(handle)


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB tmpfs (root only: skipped otherwise), for the caller to fill with :func:`_fill`."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    folder = tmp_path / "small-disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True, text=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_writer_keeps_mode_follows_links_and_refuses_what_is_not_a_file(tmp_path):
    from malpyeong_eval.outputs import OutputError, write_output

    mine = tmp_path / "mine.json"
    mine.write_text("old")
    mine.chmod(0o640)
    write_output(mine, "new")
    assert mine.read_text() == "new" and stat.S_IMODE(mine.stat().st_mode) == 0o640
    link = tmp_path / "link.json"
    link.symlink_to(mine)
    write_output(link, "through the link")
    assert link.is_symlink() and mine.read_text() == "through the link"  # the link stays, its target is written
    fifo = _fifo(tmp_path)
    for refused_path, words in ((tmp_path, "is a directory"), (fifo, "not a regular file"), (Path("/dev/null"), "not a regular file"),
                                (tmp_path / "nowhere" / "x.json", "does not exist")):
        with pytest.raises(OutputError, match=words):
            write_output(refused_path, "x")
    assert stat.S_ISFIFO(fifo.stat().st_mode) and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "link.json", "mine.json"]  # no temporary left


TO_DEVICES = {
    "retrieve": ["retrieve", str(GOLD), "--corpus", str(CORPUS), "--top-k", "1"],
    "label": ["label", str(GOLD), "--corpus", str(CORPUS)],
    "score": ["score", "--sample", "--metrics", "em"],
    "run": ["run", "nowhere", "--no-record"],  # refused before the checkpoint is looked for
    "export": ["export", "--format", "csv"],
}


@pytest.mark.parametrize("command", TO_DEVICES)
def test_output_to_a_device_is_refused_and_the_device_stays(command, board, cli):
    """Run as root, the rename over /dev/null made the system's /dev/null a regular file."""
    for device in ("/dev/null", "/dev/full"):
        refused(cli(*TO_DEVICES[command], "-o", device), "not a regular file")
        assert stat.S_ISCHR(os.stat(device).st_mode)


@pytest.mark.parametrize("command", ["score", "export"])
def test_full_disk_leaves_the_previous_file(command, full_disk, board, cli):
    previous = full_disk / "result.json"
    previous.write_text('{"mine": true}')
    _fill(full_disk)
    args = (["score", "--sample", "--metrics", "em"] if command == "score" else ["export", "--format", "csv"])
    refused(cli(*args, "-o", str(previous)), "No space left on device")
    assert previous.read_text() == '{"mine": true}'
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler", "result.json"]


def test_site_is_swapped_in_whole_or_not_at_all(tmp_path, full_disk, board, cli):
    site = tmp_path / "site"
    assert cli("export", "--format", "site", "-o", str(site))[0] == 0
    first = sorted(p.relative_to(site) for p in site.rglob("*"))
    assert cli("export", "--format", "site", "-o", str(site))[0] == 0  # its own earlier site: replaced
    assert sorted(p.relative_to(site) for p in site.rglob("*")) == first
    (site / "notes.txt").write_text("mine")
    refused(cli("export", "--format", "site", "-o", str(site)), "did not write", "notes.txt")
    mine = tmp_path / "mine"
    (mine / "static").mkdir(parents=True)
    (mine / "index.html").write_text("my page")
    (mine / "static" / "app.js").write_text("my script")
    refused(cli("export", "--format", "site", "-o", str(mine)), "did not write")
    assert (mine / "index.html").read_text() == "my page" and (mine / "static" / "app.js").read_text() == "my script"
    _fill(full_disk)
    refused(cli("export", "--format", "site", "-o", str(full_disk / "site")), "No space left on device")
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]  # no half-written folder


def test_csv_cells_are_inert_json_keeps_the_raw_text(tmp_path, cli):
    import csv
    from dataclasses import replace

    from leaderboard.store import Leaderboard
    from leaderboard_support import result_of
    from malpyeong_eval.recording import RunMetadata

    formula, link = '=cmd|"/c calc"!A1', '=HYPERLINK("http://evil.example","x")'
    items = [replace(item, prediction=text, gold=text) for item, text in
             zip(make_result(4).items, [formula, "+1+1", "-2+3", "@SUM(1)"], strict=False)]
    url = str(tmp_path / "b.db")
    Leaderboard(url).record(result_of(items), name=link, metadata=RunMetadata(dataset_name="\t=1"))
    out = tmp_path / "items.csv"
    assert cli("export", "--run", link, "--format", "csv", "-o", str(out), "--db", url)[0] == 0
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert [row["prediction"] for row in rows] == ["'" + formula, "'+1+1", "'-2+3", "'@SUM(1)"]
    assert all(not row["exact_match"].startswith("'") for row in rows)  # numbers stay numbers
    board = tmp_path / "board.csv"
    assert cli("export", "--format", "csv", "-o", str(board), "--db", url)[0] == 0
    row = next(csv.DictReader(board.read_text(encoding="utf-8-sig").splitlines()))
    assert row["name"] == "'" + link and row["dataset_name"] == "'\t=1"
    code, out_json, _ = cli("export", "--run", link, "--format", "json", "--db", url)
    assert code == 0 and json.loads(out_json)[0]["prediction"] == formula


def _docx_with(tmp_path: Path, document_xml: bytes) -> Path:
    """A real Word document (python-docx's) whose ``word/document.xml`` is replaced by ``document_xml``."""
    import io
    import zipfile

    import docx

    source = io.BytesIO()
    docx.Document().save(source)
    path = tmp_path / "rules.docx"
    with zipfile.ZipFile(io.BytesIO(source.getvalue())) as original, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as copy:
        for member in original.infolist():
            copy.writestr(member.filename, document_xml if member.filename == "word/document.xml" else original.read(member))
    return path


ENTITIES = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
            b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">&lol2;</w:document>')
DOCX_CASES = {
    "zip bomb (ratio)": (b" " * (4 << 20), None, "times its size"),
    "unpacked size": (bytes(range(256)) * 8192, 1 << 20, "unpacks to"),  # 2 MiB past a bound set at 1 MiB
    "entities": (ENTITIES, None, "declares a DTD"),
    "malformed XML": (b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>',
                      None, "not a readable .docx"),
}


@pytest.mark.parametrize("case", DOCX_CASES)
def test_hostile_docx_is_one_line_before_it_is_read(case, tmp_path, cli, monkeypatch):
    from malpyeong_eval import inputs

    document_xml, bound, words = DOCX_CASES[case]
    if bound:
        monkeypatch.setattr(inputs, "MAX_DOCX_UNPACKED_BYTES", bound)
    path = _docx_with(tmp_path, document_xml)
    started = time.monotonic()
    refused(cli(*_retrieve(tmp_path, corpus=path)), words)
    assert time.monotonic() - started < 5 and not (tmp_path / "out.json").exists()


def _alias_bomb(levels: int = 9, width: int = 9) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    lines += [f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]" for level in range(1, levels)]
    return "grpo:\n  seed: 0\n" + "\n".join(lines) + "\n"


YAML_CASES = {
    "alias bomb": (lambda t: _yaml(t, _alias_bomb()), ["alias bomb"]),
    "10 MB": (lambda t: _yaml(t, "model: x\n" + ("#" * 79 + "\n") * (10 * 1024 * 1024 // 80)), ["more than the 65,536"]),
    "holds itself": (lambda t: _yaml(t, "grpo: &a {x: *a}\n"), ["holds it"]),
    "grpo unclosed": (_train_flags("--grpo", "beta=[unclosed"), ["--grpo", "not"]),
    "grpo python tag": (_train_flags("--grpo", 'beta=!!python/object/apply:os.system ["touch pwned"]'), ["python/object/apply"]),
}


@pytest.mark.parametrize("case", YAML_CASES)
def test_hostile_yaml_is_refused_within_a_second(case, tmp_path, board, cli, monkeypatch):
    build, needles = YAML_CASES[case]
    monkeypatch.chdir(tmp_path)
    args = build(tmp_path)
    started = time.monotonic()
    refused(cli(*args), *needles)
    assert time.monotonic() - started < 1  # the bomb would walk 9**9 nodes; the 10 MB file took 45 s
    assert not (tmp_path / "pwned").exists()


def test_perplexity_label_refuses_a_text_past_the_context(tiny_policy, tmp_path, cli):
    records = json.loads(json.dumps(SAMPLE[:2]))
    records[1]["output"]["answer"] = "가나다 라마바 " * 12_500  # 100,000 characters; the tiny model has 4,096 positions
    records[1]["output"].pop("article", None)
    data = _dump(tmp_path / "long.json", records)
    started = time.monotonic()
    refused(cli("label", str(data), "--corpus", str(CORPUS), "--method", "perplexity", "--model", tiny_policy,
                "--candidates", "1", "--device", "cpu", "-o", str(tmp_path / "out.json")), "more than the model's context")
    assert time.monotonic() - started < 20 and not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("damage", ["zero-length", "hand-edited"])
def test_damaged_bm25_cache_entry_is_rebuilt_and_said(damage, tmp_path, cli, monkeypatch, caplog):
    monkeypatch.setenv("MALPYEONG_CACHE_DIR", str(tmp_path / "cache"))
    args = ["retrieve", str(GOLD), "--corpus", str(CORPUS), "--retriever", "bm25-char", "--top-k", "1", "--json"]
    code, first, err = cli(*args)
    assert code == 0, err
    (entry,) = (tmp_path / "cache" / "bm25").iterdir()
    if damage == "zero-length":
        for part in entry.glob("*.npy"):
            part.write_bytes(b"")
    else:
        (entry / "params.index.json").write_text('{"k1": ')
    code, again, err = cli(*args)
    assert code == 0, err  # not 'interrupted' (130)
    notes = [record.getMessage() for record in caplog.records if record.name == "malpyeong_eval.retrieval.bm25"]
    assert len(notes) == 1 and "could not be read" in notes[0] and "rebuilding" in notes[0]  # on stderr outside pytest
    assert json.loads(again) == json.loads(first)
    caplog.clear()
    code, _, err = cli(*args)
    assert code == 0 and not [r for r in caplog.records if r.name == "malpyeong_eval.retrieval.bm25"]  # rebuilt for good


def test_plot_refuses_an_extension_it_cannot_write_and_a_folder(tmp_path, cli):
    from leaderboard.store import Leaderboard
    from malpyeong_eval.recording import RunMetadata

    url = str(tmp_path / "b.db")
    board = Leaderboard(url)
    for step in (10, 20):
        board.record(make_result(step), name=f"s{step}", metadata=RunMetadata(step=step, tags=("train:t",)))
    refused(cli("plot", "--tag", "train:t", "-o", str(tmp_path / "curve.xyz"), "--db", url), "cannot draw a .xyz")
    folder = tmp_path / "plots"
    folder.mkdir()
    refused(cli("plot", "--tag", "train:t", "-o", str(folder), "--db", url), "is a directory")
    assert list(folder.iterdir()) == [] and not (tmp_path / "plots.png").exists() and not (tmp_path / "curve.xyz").exists()
    code, out, err = cli("plot", "--tag", "train:t", "-o", str(tmp_path / "curve.svg"), "--db", url)
    assert code == 0, err
    assert (tmp_path / "curve.svg").read_text().lstrip().startswith("<?xml")


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder holding a recorded leaderboard, then made read-only: a tmpfs remounted read-only when root
    (whom permissions do not stop), else the folder's write permission taken away."""
    from leaderboard.store import Leaderboard

    folder = tmp_path / "ro"
    folder.mkdir()
    root = os.geteuid() == 0
    if root and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    board = Leaderboard(str(folder / "board.db"))
    board.record(make_result(1), name="kept")
    board.engine.dispose()
    for extra in folder.glob("board.db-*"):  # a closed database: no WAL files left beside it
        extra.unlink()
    if root:
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
    else:
        folder.chmod(0o555)
    try:
        yield folder / "board.db"
    finally:
        if root:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True)
        else:
            folder.chmod(0o755)


@pytest.mark.parametrize("args", [["leaderboard"], ["score", "--sample", "--metrics", "em", "--record", "--name", "x"]])
def test_database_in_a_read_only_folder_is_refused_within_seconds(args, read_only_folder, cli):
    started = time.monotonic()
    refused(cli(*args, "--db", str(read_only_folder)), str(read_only_folder))
    assert time.monotonic() - started < 10  # was 61 s: the switch to WAL retried for the whole busy timeout


def test_leaderboard_never_creates_a_database_or_its_folders(tmp_path, cli):
    missing = tmp_path / "no" / "such" / "board.db"
    for args in (["leaderboard"], ["show", "x"], ["export"], ["plot", "--tag", "t"], ["compare", "a", "b"]):
        refused(cli(*args, "--db", str(missing)), "no leaderboard database")
    assert not (tmp_path / "no").exists()


SMALL_CASES = {
    "serve on an IPv4-mapped address": (["serve", "--host", "::ffff:127.0.0.1", "--port", "0"], ["--host 127.0.0.1"]),
    "rerank model that does not exist": (["retrieve", str(GOLD), "--corpus", str(CORPUS), "--retriever", "bm25-char",
                                          "--rerank", "/nonexistent"], ["/nonexistent", "--rerank"]),
    "unknown argument in a SQLite URL": (["score", "--sample", "--metrics", "em", "--record", "--name", "x", "--db",
                                          "sqlite:///{tmp}/b.db?foo=bar"], ["'foo'", "not accepted"]),
}


@pytest.mark.parametrize("case", SMALL_CASES)
def test_small_ones_are_one_line(case, tmp_path, board, cli):
    args, needles = SMALL_CASES[case]
    line = refused(cli(*[arg.replace("{tmp}", str(tmp_path)) for arg in args]), *needles)
    assert "Background on this warning" not in line and "pinning" not in line
    assert not (tmp_path / "b.db").exists()
