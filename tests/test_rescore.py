"""``malpyeong-eval rescore``: old-rules runs recomputed from their stored predictions and gold, on a
real SQLite file and, where configured (always in CI), a real PostgreSQL server."""

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from leaderboard.models import METRIC_COLUMNS, GroupMetric, ItemResult, Run, RunTag
from leaderboard.store import Leaderboard
from malpyeong_eval.data import sample_path
from malpyeong_eval.metrics.aggregate import SCORING_RULES, summarize
from tests.leaderboard_support import postgres_url

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    return f"sqlite:///{tmp_path / 'board.db'}" if request.param == "sqlite" else postgres_url()


@pytest.fixture
def files(tmp_path):
    """The packaged sample written out as files: (submission, gold)."""
    submission, gold = tmp_path / "submission.json", tmp_path / "gold.json"
    shutil.copy(sample_path("submission"), submission)
    shutil.copy(sample_path("gold"), gold)
    return submission, gold


def _old_rules(rows):
    """The pre-2025 rules' table: the reason metrics averaged over every item."""
    return summarize({**row, "counted": True} for row in rows)


def make_old_rules_run(board: Leaderboard, run_id: int) -> None:
    """Turn a recorded run into what the pre-2025 code left in the database: no rules, no counted
    flags, reason metrics averaged over every item, configuration strings without the rules."""
    with Session(board.engine) as session, session.begin():
        items = list(session.scalars(select(ItemResult).where(ItemResult.run_id == run_id).order_by(ItemResult.position)))
        rows = [{c: getattr(item, c) for c in ("exact_match", "exact_match_lenient", "rouge1", "bertscore", "bleurt")}
                for item in items]
        run = session.get(Run, run_id)
        for column, value in _old_rules(rows).items():
            setattr(run, column, value)
        run.scoring_rules, run.n_counted, run.tool_version = None, None, "0.1.0"
        run.metric_config = {k: v.split(" rules=")[0] for k, v in run.metric_config.items() if k not in ("rules", "malpyeong_eval")}
        for group in session.scalars(select(GroupMetric).where(GroupMetric.run_id == run_id)):
            group_rows = [row for row, item in zip(rows, items, strict=True) if item.question_type == group.question_type]
            for column, value in _old_rules(group_rows).items():
                setattr(group, column, value)
            group.n_counted = None
        session.execute(update(ItemResult).where(ItemResult.run_id == run_id).values(counted=None))
        stale = items[0]  # the old split and an old per-item number, which rescore must replace
        stale.reason, stale.answer_clause, stale.rouge1 = "stale reason", "stale clause", 0.123


def snapshot(board: Leaderboard, run_id: int) -> dict:
    """Every stored value of one run: its row, tags, by-type metrics and items."""
    with board.engine.connect() as connection:
        def rows(table, order):
            query = select(table).where((table.c.id if table is Run.__table__ else table.c.run_id) == run_id)
            return [tuple(row) for row in connection.execute(query.order_by(order))]

        return {
            "run": rows(Run.__table__, Run.__table__.c.id),
            "tags": rows(RunTag.__table__, RunTag.__table__.c.tag),
            "groups": rows(GroupMetric.__table__, GroupMetric.__table__.c.question_type),
            "items": rows(ItemResult.__table__, ItemResult.__table__.c.position),
        }


def record_old_run(cli, board: Leaderboard, db_url: str, submission: Path, gold: Path, name: str = "old", *extra: str):
    code, _, err = cli("score", str(submission), "--gold", str(gold), "--metrics", "em,rouge1", "--record", "--name", name,
                       "--db", db_url, "--tag", "t1", *extra)
    assert code == 0, err
    run_id = board.get(name).id
    make_old_rules_run(board, run_id)
    return board.get(name)


def assert_equals_fresh_score(board: Leaderboard, name: str, fresh: dict) -> None:
    run = board.get(name)
    assert run.scoring_rules == SCORING_RULES and run.current_rules
    assert run.n == fresh["n"] and run.n_counted == fresh["n_counted"] and run.aligned_by_id == fresh["aligned_by_id"]
    assert run.metrics == {column: fresh["metrics"][column] for column in METRIC_COLUMNS}
    assert run.metric_config == fresh["config"]
    groups = {row.question_type: row.to_json() for row in board.groups(run)}
    assert set(groups) == set(fresh["by_type"])
    for question_type, expected in fresh["by_type"].items():
        assert {key: groups[question_type][key] for key in expected} == expected
    stored = [item.to_json() for item in board.items(run)]
    assert [row["item_id"] for row in stored] == [item["id"] for item in fresh["items"]]
    for row, item in zip(stored, fresh["items"], strict=True):
        for key in ("question_type", "prediction", "gold", "answer_clause", "reason", "counted",
                    "exact_match", "exact_match_lenient", "rouge1", "bertscore", "bleurt"):
            assert row[key] == item[key], (item["id"], key)


def test_rescore_makes_old_runs_equal_a_fresh_score(db_url, files, cli):
    submission, gold = files
    board = Leaderboard(db_url)
    before = record_old_run(cli, board, db_url, submission, gold)
    assert before.scoring_rules is None and board.runs() == [] and board.old_rules_count() == 1
    code, fresh_text, _ = cli("score", str(submission), "--gold", str(gold), "--metrics", "em,rouge1", "--json")
    fresh = json.loads(fresh_text)
    assert 0 < fresh["n_counted"] < fresh["n"]  # predictions without a reason: counted matters
    assert before.metrics["rouge1"] != pytest.approx(fresh["metrics"]["rouge1"])  # the old rules' number differs

    code, out, err = cli("rescore", "--db", db_url)
    assert code == 0, err
    assert "rescored under organizers-2025" in out and "old" in out and "→" in out
    after = board.get("old")
    assert (after.id, after.name, after.tags, after.checkpoint, after.step, after.fingerprint, after.created_at) == (
        before.id, before.name, before.tags, before.checkpoint, before.step, before.fingerprint, before.created_at)
    assert_equals_fresh_score(board, "old", fresh)
    assert [run.name for run in board.runs()] == ["old"] and board.old_rules_count() == 0
    code, out, _ = cli("leaderboard", "--db", db_url, "--json")
    assert code == 0 and [row["name"] for row in json.loads(out)] == ["old"]
    assert json.loads(out)[0]["n_counted"] == fresh["n_counted"]

    code, out, _ = cli("rescore", "--db", db_url)  # nothing left under the old rules
    assert code == 0 and "nothing to rescore" in out
    code, out, _ = cli("rescore", "old", "--db", db_url, "--json")  # a current run, asked for by name
    summary = json.loads(out)
    assert code == 0 and [entry["name"] for entry in summary["rescored"]] == ["old"] and summary["skipped"] == []
    assert summary["rescored"][0]["old"] == summary["rescored"][0]["new"] and summary["rescored"][0]["metrics"] == ["em", "rouge1"]
    assert_equals_fresh_score(board, "old", fresh)


def test_rescore_json_names_and_errors(db_url, files, cli):
    submission, gold = files
    board = Leaderboard(db_url)
    first = record_old_run(cli, board, db_url, submission, gold, "first")
    record_old_run(cli, board, db_url, submission, gold, "second")
    code, out, _ = cli("rescore", f"#{first.id}", "--db", db_url, "--json")
    summary = json.loads(out)
    assert code == 0 and [entry["name"] for entry in summary["rescored"]] == ["first"]
    entry = summary["rescored"][0]
    assert entry["old"]["scoring_rules"] is None and entry["new"]["scoring_rules"] == SCORING_RULES
    assert entry["old"]["n_counted"] is None and entry["new"]["n_counted"] == board.get("first").n_counted
    assert entry["new"]["final_score"] is None and entry["new"]["rouge1"] == board.get("first").metrics["rouge1"]
    assert board.get("second").scoring_rules is None  # only the run asked for
    code, _, err = cli("rescore", "first", "no-such-run", "--db", db_url)
    assert code == 2 and "no run named 'no-such-run'" in err and len(err.strip().splitlines()) == 1
    assert board.get("second").scoring_rules is None  # names are checked before any work
    code, out, _ = cli("rescore", "--db", db_url, "--json")
    assert [entry["name"] for entry in json.loads(out)["rescored"]] == ["second"]


def test_rescore_keeps_alignment_and_skips_runs_without_items(db_url, files, cli):
    submission, gold = files
    reordered = json.loads(submission.read_text(encoding="utf-8"))
    reordered[0], reordered[1] = reordered[1], reordered[0]
    submission.write_text(json.dumps(reordered, ensure_ascii=False), encoding="utf-8")
    board = Leaderboard(db_url)
    record_old_run(cli, board, db_url, submission, gold, "aligned", "--align-by-id")
    with Session(board.engine) as session, session.begin():
        session.add(Run(name="empty", tool_version="0.0.1", n=0, metric_config={}, generation={}))
    code, out, err = cli("rescore", "--db", db_url)
    assert code == 0 and "skipped: run 'empty'" in err and "no metric" in err
    assert board.get("aligned").aligned_by_id and board.get("aligned").current_rules
    code, fresh, _ = cli("score", str(submission), "--gold", str(gold), "--metrics", "em,rouge1", "--align-by-id", "--json")
    assert_equals_fresh_score(board, "aligned", json.loads(fresh))
    code, out, _ = cli("leaderboard", "--db", db_url)
    assert "aligned†" in out and "aligned by id: not the organizers' score" in out
    code, _, err = cli("rescore", "empty", "--db", db_url)
    assert code == 2 and "cannot be rescored" in err


@pytest.mark.slow
def test_killed_rescore_leaves_the_run_exactly_as_it_was(db_url, files, cli, tmp_path):
    submission, gold = files
    board = Leaderboard(db_url)
    run = record_old_run(cli, board, db_url, submission, gold)
    before = snapshot(board, run.id)
    flag = tmp_path / "flushed"
    child = textwrap.dedent(
        f"""
        import os, pathlib, sys, time
        from sqlalchemy import event
        from sqlalchemy.orm import Session
        from leaderboard.models import GroupMetric
        from malpyeong_eval.cli import main

        @event.listens_for(Session, "after_flush")
        def stall(session, context):
            if not any(isinstance(obj, GroupMetric) for obj in session.new):
                return  # not the rescore's write
            seen = session.connection().exec_driver_sql("SELECT scoring_rules FROM runs WHERE id = {run.id}").scalar()
            pathlib.Path({str(flag)!r} + ".tmp").write_text(str(seen))
            os.replace({str(flag)!r} + ".tmp", {str(flag)!r})
            time.sleep(120)

        sys.argv = ["malpyeong-eval", "rescore", "--db", {db_url!r}]
        main()
        """
    )
    process = subprocess.Popen([sys.executable, "-c", child], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while not flag.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert flag.exists(), "the child never reached the middle of its transaction"
    assert flag.read_text() == SCORING_RULES  # inside its transaction the run was already rewritten
    process.send_signal(signal.SIGKILL)
    process.wait()
    board = Leaderboard(db_url)
    assert snapshot(board, run.id) == before
    assert board.get("old").scoring_rules is None and board.runs() == []
    code, _, err = cli("rescore", "--db", db_url)  # and it can be rescored afterwards
    assert code == 0, err
    assert board.get("old").current_rules and snapshot(board, run.id) != before


def test_rescore_with_model_metrics_takes_the_score_flags(tmp_path, files, cli, tiny_bert, tiny_bleurt):
    submission, gold = files
    url = f"sqlite:///{tmp_path / 'models.db'}"
    flags = ("--bertscore-model", tiny_bert, "--bertscore-layers", "2", "--bleurt-model", tiny_bleurt, "--device", "cpu")
    board = Leaderboard(url)
    code, _, err = cli("score", str(submission), "--gold", str(gold), "--record", "--name", "full", "--db", url, *flags)
    assert code == 0, err
    make_old_rules_run(board, board.get("full").id)
    code, out, err = cli("rescore", "--db", url, "--batch-size", "8", *flags)
    assert code == 0, err
    code, fresh, _ = cli("score", str(submission), "--gold", str(gold), "--json", *flags)
    fresh = json.loads(fresh)
    assert fresh["metrics"]["final_score"] is not None
    run = board.get("full")
    assert run.n_counted == fresh["n_counted"] and run.metric_config == fresh["config"]
    for column in METRIC_COLUMNS:
        assert run.metrics[column] == pytest.approx(fresh["metrics"][column], abs=1e-6)
    for row, item in zip([stored.to_json() for stored in board.items(run)], fresh["items"], strict=True):
        assert row["counted"] == item["counted"]
        assert row["bertscore"] == pytest.approx(item["bertscore"], abs=1e-6)
        assert row["bleurt"] == pytest.approx(item["bleurt"], abs=1e-6)
