"""Provenance: every run's results.json, database row, ``show --json`` and export say what produced it,
filled from the real environment (versions, git, weights, chat template, device, timing)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

import pytest
import torch
import transformers
from sqlalchemy import create_engine

from leaderboard.store import Leaderboard
from malpyeong_eval.provenance import weights_hash
from tests.reference.provenance import plain_weights_sha

FAST = ["--max-new-tokens", "8", "--metrics", "em,rouge1", "--limit", "6", "--batch-size", "3"]


def git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=True).stdout.strip()


def make_repo(folder: Path) -> str:
    git(folder, "init", "-q")
    git(folder, "add", "-A")
    git(folder, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "model")
    return git(folder, "rev-parse", "HEAD")


@pytest.mark.slow
def test_run_provenance_is_the_real_environment(tiny_policy, tmp_path, cli, monkeypatch):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from malpyeong_eval.metrics.loading import resolve_device

    model = tmp_path / "model"
    shutil.copytree(tiny_policy, model)
    model_commit = make_repo(model)
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("one\n")
    work_commit = make_repo(work)
    (work / "notes.txt").write_text("changed\n")  # the working tree is dirty
    monkeypatch.chdir(work)
    db = f"sqlite:///{tmp_path / 'board.db'}"
    before = datetime.now().astimezone()
    started = time.perf_counter()
    code, out, err = cli("run", str(model), "--db", db, "--runs-dir", str(tmp_path / "runs"), "--seed", "7",
                         "--name", "prov", "--json", *FAST)
    elapsed = time.perf_counter() - started
    assert code == 0, err
    (summary,) = json.loads(out)
    results = json.loads(Path(summary["results"]).read_text(encoding="utf-8"))
    assert Path(summary["results"]).parent == next((tmp_path / "runs").iterdir())
    assert (Path(summary["results"]).parent / "generations.jsonl").exists()
    prov = results["provenance"]
    libraries = prov["libraries"]
    assert libraries["torch"] == torch.__version__ and libraries["transformers"] == transformers.__version__
    for name in ("trl", "peft", "malpyeong-eval", "accelerate"):
        assert libraries[name] == version(name)
    assert prov["model"]["source"] == str(model) and prov["model"]["revision"] is None  # a plain folder
    assert prov["model"]["git"] == {"commit": model_commit, "dirty": False, "root": str(model.resolve())}
    assert prov["model"]["weights"]["sha256"] == plain_weights_sha(model) and prov["model"]["weights"]["method"] == "sha256"
    assert prov["git"] == {"commit": work_commit, "dirty": True, "root": str(work.resolve())}
    template = AutoTokenizer.from_pretrained(model).chat_template
    assert prov["chat_template_sha256"] == hashlib.sha256(template.encode()).hexdigest()
    assert prov["device"]["device"] == resolve_device(None)
    assert prov["device"]["dtype"] == str(AutoModelForCausalLM.from_pretrained(model).dtype).removeprefix("torch.")
    assert prov["seed"] == 7 and prov["items_generated"] == 6
    assert 0 < prov["generation_seconds"] <= prov["wall_seconds"] <= elapsed
    assert prov["items_per_second"] == pytest.approx(6 / prov["generation_seconds"], rel=0.01)
    assert before.replace(microsecond=0) <= datetime.fromisoformat(prov["started_at"]) <= datetime.fromisoformat(prov["finished_at"])
    assert "--seed" in prov["command"]
    assert results["results"] == {"sample_gold[:6]": summary["metrics"]}  # a --limit run names its slice
    assert results["run"]["name"] == "prov" and results["fingerprint"] == Leaderboard(db).get("prov").fingerprint

    # the database, show --json and export hold the same record
    assert Leaderboard(db).get("prov").provenance == prov
    code, out, _ = cli("show", "prov", "--db", db, "--json")
    assert code == 0 and json.loads(out)["run"]["provenance"] == prov
    code, out, _ = cli("export", "--format", "json", "--db", db)
    assert code == 0 and json.loads(out)[0]["provenance"] == prov
    code, out, _ = cli("show", "prov", "--db", db)
    assert code == 0 and model_commit in out and prov["chat_template_sha256"] in out

    # other weights, other hash; resuming every item generates nothing and still records the template
    assert weights_hash(tiny_policy)["sha256"] == prov["model"]["weights"]["sha256"]
    with torch.no_grad():
        changed = AutoModelForCausalLM.from_pretrained(model)
        changed.lm_head.weight.add_(1.0)
    changed.save_pretrained(model)
    assert weights_hash(model)["sha256"] == plain_weights_sha(model) != prov["model"]["weights"]["sha256"]


def test_a_secret_in_the_command_is_masked(tmp_path, monkeypatch):
    import sys

    from malpyeong_eval.provenance import environment

    monkeypatch.setattr(sys, "argv", ["malpyeong-eval", "run", "--db", "postgresql+psycopg://team:s3cret@db:5432/m",
                                      "--db=postgresql://db/m?sslpassword=k3y&password=pw9", "--tag", "a://b?token=t0k"])
    command = environment()["command"]
    recorded = json.dumps(command)
    assert not any(secret in recorded for secret in ("s3cret", "k3y", "pw9", "t0k")), command  # every password form
    assert "postgresql+psycopg://team:***@db:5432/m" in command and command[-2] == "--tag"


def test_hub_snapshot_records_its_revision(tiny_policy, tmp_path):
    from malpyeong_eval.provenance import model_provenance

    sha = hashlib.sha1(b"a commit").hexdigest()
    snapshot = tmp_path / "hub" / "models--org--tiny" / "snapshots" / sha
    shutil.copytree(tiny_policy, snapshot)
    record = model_provenance(str(snapshot))
    assert record["revision"] == sha and record["git"] is None
    assert record["weights"]["sha256"] == plain_weights_sha(snapshot)


def test_large_weight_files_are_sampled_not_read_whole(tmp_path, monkeypatch):
    from malpyeong_eval import provenance

    monkeypatch.setattr(provenance, "FULL_HASH_LIMIT", 2**20)
    header = json.dumps({"w": {"dtype": "F32", "shape": [2**20], "data_offsets": [0, 2**22]}}).encode()
    path = tmp_path / "model.safetensors"
    body = bytearray(hashlib.sha256(b"seed").digest() * (2**22 // 32))
    path.write_bytes(len(header).to_bytes(8, "little") + header + body)
    first = provenance.weights_hash(tmp_path)
    assert first["method"] == "sha256-sampled" and first["files"] == 1
    body[-1] ^= 0xFF  # the last block is always sampled
    path.write_bytes(len(header).to_bytes(8, "little") + header + body)
    assert provenance.weights_hash(tmp_path)["sha256"] != first["sha256"]


def test_schema_0004_database_is_upgraded_to_0006_without_provenance(tmp_path, cli):
    from alembic import command

    from leaderboard.db import _alembic_config, schema_version

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0004")
        connection.exec_driver_sql(
            "INSERT INTO runs (id, name, generation, metric_config, fingerprint, tool_version, created_at, n, "
            "exact_match, scoring_rules) VALUES (3, 'run-0004', '{}', '{}', 'f04', '0.1.0', '2026-11-01 00:00:00', 1, "
            "1.0, 'organizers-2025')"
        )
    engine.dispose()
    board = Leaderboard(url)
    assert schema_version(board.engine) == "0006"
    assert board.get("run-0004").provenance is None and board.get("run-0004").metrics["exact_match"] == 1.0
    code, out, _ = cli("show", "run-0004", "--db", url)
    assert code == 0 and "not recorded" in out


def test_score_record_has_provenance(tmp_path, cli, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not a repository: no commit to record
    db = f"sqlite:///{tmp_path / 'board.db'}"
    code, _, err = cli("score", "--sample", "--metrics", "em", "--record", "--name", "s", "--db", db)
    assert code == 0, err
    prov = Leaderboard(db).get("s").provenance
    assert prov["libraries"]["torch"] == torch.__version__ and prov["git"] is None
    assert prov["wall_seconds"] >= 0 and prov["command"][:2] == ["malpyeong-eval", "score"]


@pytest.fixture
def private_pool(monkeypatch):
    """The scorer pool, empty for this test and as it was after it: rewards and scorers made by other
    tests keep sharing the pooled scorers they hold."""
    from malpyeong_eval.metrics import pool

    monkeypatch.setattr(pool, "_POOL", {})


def test_score_shows_model_scorer_progress_except_with_json(tiny_bert, cli, private_pool):
    options = ["score", "--sample", "--metrics", "em,bertscore", "--bertscore-model", tiny_bert,
               "--bertscore-layers", "2", "--batch-size", "8"]
    from malpyeong_eval.metrics.pool import clear_scorers

    clear_scorers()  # a fresh BERT: every text is embedded, none cached
    code, _, err = cli(*options)
    assert code == 0 and "BERTScore (texts embedded)" in err
    clear_scorers()
    code, out, err = cli(*options, "--json")
    assert code == 0 and "BERTScore" not in err and json.loads(out)["metrics"]["bertscore"] is not None


def test_run_reports_to_trackio(tiny_policy, tmp_path, cli):
    """run --report-to trackio: one local trackio run holding the checkpoint's metrics (equal to the
    leaderboard's) and its items; stdout stays the JSON summary."""
    import uuid

    import trackio
    from trackio.sqlite_storage import SQLiteStorage

    project = f"malpyeong-run-{uuid.uuid4().hex[:8]}"
    db = f"sqlite:///{tmp_path / 'board.db'}"
    code, out, err = cli("run", tiny_policy, "--db", db, "--runs-dir", str(tmp_path / "runs"), "--name", "tracked",
                         "--report-to", "trackio", "--tracker-project", project, "--json", *FAST)
    assert code == 0, err
    (summary,) = json.loads(out)
    (run,) = list(trackio.Api().runs(project))
    assert run.name == "tracked" and run.config["checkpoint"] == tiny_policy
    (row,) = [row for row in SQLiteStorage.get_logs(project, run.name, run_id=run.id) if "eval/exact_match" in row]
    stored = Leaderboard(db).get("tracked").metrics
    assert row["eval/exact_match"] == stored["exact_match"] == summary["metrics"]["exact_match"]
    assert row["eval/rouge1"] == stored["rouge1"] and row["eval/n"] == 6 and "eval/items" in row


def test_run_and_rescore_show_model_scorer_progress(tiny_policy, tiny_bert, tmp_path, cli, private_pool):
    from malpyeong_eval.metrics.pool import clear_scorers

    db = f"sqlite:///{tmp_path / 'board.db'}"
    bert = ["--bertscore-model", tiny_bert, "--bertscore-layers", "2"]
    clear_scorers()
    code, _, err = cli("run", tiny_policy, "--db", db, "--runs-dir", str(tmp_path / "runs"), "--name", "r",
                       "--max-new-tokens", "8", "--limit", "6", "--metrics", "em,bertscore", *bert)
    assert code == 0 and "BERTScore (texts embedded)" in err, err
    clear_scorers()
    code, _, err = cli("rescore", "r", "--db", db, *bert)
    assert code == 0 and "BERTScore (texts embedded)" in err, err
    clear_scorers()
    code, out, err = cli("rescore", "r", "--db", db, "--json", *bert)
    assert code == 0 and "BERTScore" not in err and json.loads(out)["rescored"]


def test_hub_id_in_the_hf_cache_records_the_resolved_revision(tiny_policy, tmp_path, monkeypatch):
    """A model named by Hub id and found in the HF cache: the revision refs/main resolves to, and the
    weights of that snapshot."""
    from huggingface_hub import constants

    from malpyeong_eval.provenance import model_provenance

    sha = hashlib.sha1(b"another commit").hexdigest()
    repo = tmp_path / "hub" / "models--org--tiny-policy"
    shutil.copytree(tiny_policy, repo / "snapshots" / sha)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))  # the cache huggingface_hub reads
    record = model_provenance("org/tiny-policy")
    assert record["revision"] == sha and record["source"] == "org/tiny-policy"
    assert record["weights"]["sha256"] == plain_weights_sha(repo / "snapshots" / sha)
    assert model_provenance("org/not-cached")["revision"] is None
