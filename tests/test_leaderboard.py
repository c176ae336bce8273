"""The leaderboard on a real SQLite file and, where configured (always in CI), a real PostgreSQL server."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sqlalchemy import create_engine

from leaderboard.db import BUSY_TIMEOUT_MS, DatabaseError, default_url, relative_where, resolve_url, schema_version
from malpyeong_eval.secrets import mask_url
from leaderboard.store import Leaderboard
from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.metrics.aggregate import SCORING_RULES, summarize
from malpyeong_eval.recording import RunMetadata
from tests.leaderboard_support import make_result, postgres_url, record_many, result_of


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    return f"sqlite:///{tmp_path / 'board.db'}" if request.param == "sqlite" else postgres_url()



def test_record_and_read_back(db_url):
    board = Leaderboard(db_url)
    result = make_result(1)
    stored = board.record(result, name="run-a", metadata=RunMetadata(step=10, dataset_name="dev", dataset_hash="abc", tags=("grpo", "lora")))
    again = board.get("run-a")
    assert again.id == stored.id and again.step == 10 and again.tags == ["grpo", "lora"]
    assert again.metrics["final_score"] == pytest.approx(result.metrics["final_score"])
    assert again.metric_config == {"rouge1": "rouge1(test)"}
    assert [g.question_type for g in board.groups(again)] == ["교정형", "선택형"]
    items = [item.to_json() for item in board.items(again)]
    assert [row["item_id"] for row in items] == [item.id for item in result.items]
    assert items[3]["rouge1"] == pytest.approx(result.items[3].rouge1)
    assert board.get(f"#{stored.id}").name == "run-a"


def test_record_keeps_rules_counted_items_and_alignment(db_url):
    board = Leaderboard(db_url)
    result = make_result(1)
    assert 0 < result.n_counted < result.n  # some predictions have no reason
    stored = board.record(result, name="run-a")
    again = board.get("run-a")
    assert again.scoring_rules == SCORING_RULES and again.current_rules and stored.current_rules
    assert again.n_counted == result.n_counted and again.aligned_by_id is False
    assert {g.question_type: g.n_counted for g in board.groups(again)} == {
        t: row["n_counted"] for t, row in result.by_type.items()}
    assert [row.counted for row in board.items(again)] == [item.counted for item in result.items]
    aligned = result_of(make_result(2).items, aligned_by_id=True)
    assert board.record(aligned, name="aligned").aligned_by_id is True
    assert board.get("aligned").aligned_by_id is True
    assert {"scoring_rules", "n_counted", "aligned_by_id", "current_rules"} <= set(again.to_json())


def test_order_by_final_with_unfinished_runs_last(db_url):
    board = Leaderboard(db_url)
    results = {f"r{seed}": make_result(seed) for seed in range(5)}
    for name, result in results.items():
        board.record(result, name=name)
    partial = make_result(99)
    partial.metrics.update(bleurt=None, descriptive_avg=None, final_score=None)
    board.record(partial, name="no-final")
    names = [run.name for run in board.runs()]
    expected = sorted(results, key=lambda name: -results[name].metrics["final_score"])
    assert names == expected + ["no-final"]
    assert [run.name for run in board.runs(top=2)] == expected[:2]


def test_filters(db_url):
    board = Leaderboard(db_url)
    board.record(make_result(1), name="a", metadata=RunMetadata(dataset_name="dev", base_model="qwen", tags=("x",)))
    board.record(make_result(2), name="b", metadata=RunMetadata(dataset_name="test", base_model="llama", tags=("y",)))
    assert [r.name for r in board.runs(dataset="dev")] == ["a"]
    assert [r.name for r in board.runs(model="llama")] == ["b"]
    assert [r.name for r in board.runs(tag="x")] == ["a"]


def test_duplicate_name_refused_and_nothing_half_written(db_url):
    board = Leaderboard(db_url)
    board.record(make_result(1), name="same")
    with pytest.raises(MalpyeongError, match="already on the leaderboard"):
        board.record(make_result(2), name="same")
    assert board.count() == 1


def test_failed_record_leaves_no_partial_run(db_url):
    board = Leaderboard(db_url)
    broken = make_result(3)
    broken.items[5].id = broken.items[4].id  # violates the unique (run, item) key on the last insert
    with pytest.raises(MalpyeongError):
        board.record(broken, name="broken")
    assert board.count() == 0
    board.record(make_result(4), name="fine")
    assert board.count() == 1


def test_a_database_error_without_a_driver_error_is_one_line(db_url, monkeypatch):
    from sqlalchemy.exc import InvalidRequestError
    from sqlalchemy.orm import Session

    board = Leaderboard(db_url)
    stored = board.record(make_result(1), name="kept")

    def refuse(session, *args, **kwargs):  # an SQLAlchemyError of SQLAlchemy's own: no .orig
        raise InvalidRequestError("the session refused to flush")

    monkeypatch.setattr(Session, "flush", refuse)
    with pytest.raises(DatabaseError) as info:
        board.record(make_result(2), name="refused")
    assert str(info.value) == f"cannot record run 'refused' in {board.where}: the session refused to flush"
    with pytest.raises(DatabaseError, match="cannot update run 'kept' .*: the session refused to flush$"):
        board.update_scores(stored, make_result(1))
    monkeypatch.undo()
    assert [run.name for run in board.runs()] == ["kept"]


@pytest.mark.slow
def test_kill_during_record_leaves_no_partial_run(db_url, tmp_path):
    board = Leaderboard(db_url)
    board.record(make_result(1), name="before")
    flag = tmp_path / "flushed"
    child = textwrap.dedent(
        f"""
        import time, pathlib
        from sqlalchemy import event
        from sqlalchemy.orm import Session
        from leaderboard.store import Leaderboard
        from tests.leaderboard_support import make_result

        @event.listens_for(Session, "after_flush")
        def stall(session, context):
            pathlib.Path({str(flag)!r}).touch()
            time.sleep(120)

        Leaderboard({db_url!r}).record(make_result(2, n=40), name="killed")
        """
    )
    process = subprocess.Popen([sys.executable, "-c", child], cwd=os.getcwd())
    deadline = time.time() + 60
    while not flag.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert flag.exists(), "the child never reached the middle of its transaction"
    process.send_signal(signal.SIGKILL)
    process.wait()
    board = Leaderboard(db_url)
    assert [run.name for run in board.runs()] == ["before"]
    board.record(make_result(3), name="after")
    assert board.count() == 2


@pytest.mark.slow
def test_eight_processes_record_at_once_into_one_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    context = multiprocessing.get_context("spawn")
    with context.Pool(8) as pool:
        counts = pool.starmap(record_many, [(url, worker, 10) for worker in range(8)])
    assert counts == [10] * 8
    board = Leaderboard(url)
    assert board.count() == 80
    assert len({run.name for run in board.runs()}) == 80


_WRITER = textwrap.dedent(
    """
    import sqlite3, sys
    connection = sqlite3.connect(sys.argv[1], isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")  # the write lock, held until told to stop
    connection.execute("UPDATE runs SET name = 'uncommitted' WHERE name = 'committed'")
    print("locked", flush=True)
    sys.stdin.readline()
    connection.execute("ROLLBACK")
    """
)


def test_sqlite_reads_do_not_wait_for_a_writer(tmp_path, cli):
    path = tmp_path / "board.db"
    url = f"sqlite:///{path}"
    Leaderboard(url).record(make_result(1), name="committed")
    board = Leaderboard(url)
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert writer.stdout.readline().strip() == "locked"
        import sqlite3

        with pytest.raises(sqlite3.OperationalError, match="locked"):  # the lock is real: a second writer waits
            sqlite3.connect(path, timeout=0, isolation_level=None).execute("BEGIN IMMEDIATE")
        started = time.perf_counter()
        runs = board.runs()
        run = board.get("committed")
        items = board.items(run)
        found = board.find("nothing"), board.count(), board.groups(run), board.old_rules_count()
        elapsed = time.perf_counter() - started
        assert [r.name for r in runs] == ["committed"] and len(items) == 12 and found[1] == 1  # the last commit
        # a read that waited for the writer would wait out the busy timeout and fail; these took no part of it
        # (a bound of a tenth of it, not an absolute time: the machine may be busy with other work)
        assert elapsed < BUSY_TIMEOUT_MS / 1000 / 10, f"reads took {elapsed:.2f} s behind the writer"
        code, out, err = cli("leaderboard", "--db", url, "--json")  # opening (the schema check) waits for nothing either
        assert code == 0 and [row["name"] for row in json.loads(out)] == ["committed"], err
        assert writer.poll() is None  # all of it while the writer still held its lock
    finally:
        writer.communicate("\n", timeout=30)
    assert writer.returncode == 0
    board.record(make_result(2), name="after")  # and writing works again once it let go
    assert board.count() == 2


def test_schema_is_versioned_and_newer_refused(tmp_path):
    url = f"sqlite:///{tmp_path / 'v.db'}"
    board = Leaderboard(url)
    assert schema_version(board.engine) is not None
    with board.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'ffff_future'")
    with pytest.raises(DatabaseError, match="newer"):
        Leaderboard(url)


def test_empty_database_file_is_upgraded(tmp_path):
    path = tmp_path / "empty.db"
    create_engine(f"sqlite:///{path}").connect().close()  # an empty SQLite file: schema version none
    board = Leaderboard(str(path))
    assert board.runs() == [] and schema_version(board.engine) is not None


def test_where_and_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("MALPYEONG_DB", raising=False)
    assert resolve_url() == default_url() and default_url().endswith("leaderboard.db")
    monkeypatch.setenv("MALPYEONG_DB", str(tmp_path / "env.db"))
    assert resolve_url() == f"sqlite:///{tmp_path / 'env.db'}"
    assert resolve_url("sqlite:///x.db") == "sqlite:///x.db"


def test_a_sqlite_file_is_shown_from_the_working_directory(tmp_path):
    """serve's page header: the same file, named from the folder the server runs in."""
    assert relative_where(f"sqlite:///{tmp_path / 'runs' / 'board.db'}", tmp_path) == "sqlite:///runs/board.db"
    elsewhere = f"sqlite:///{tmp_path / 'board.db'}"
    assert relative_where(elsewhere, tmp_path / "runs") == elsewhere
    shared = "postgresql+psycopg://me:***@db.example:5432/board"
    assert relative_where(shared, tmp_path) == shared and relative_where("sqlite:///board.db", tmp_path) == "sqlite:///board.db"


@pytest.mark.parametrize("password", ["s3cret", "p@ss", "p@ss:w/rd"])
def test_mask_url_hides_password(password):
    shown = mask_url(f"postgresql+psycopg://me:{password}@db.example:5432/board")
    assert shown == "postgresql+psycopg://me:***@db.example:5432/board"


@pytest.mark.parametrize("url", ["postgresql+psycopg://me:p@ss:zebra@127.0.0.1:1/x", "postgresql+psycopg://me:hunter2@h:54x/db"])
def test_unparsable_urls_leak_nothing(url, cli):
    code, _, err = cli("leaderboard", "--db", url)
    assert code == 2 and "hunter2" not in err and "zebra" not in err and "p@ss" not in err


def _open(url: str) -> int:
    return Leaderboard(url).count()


@pytest.mark.slow
def test_many_processes_open_a_fresh_database_at_once(db_url):
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        assert pool.map(_open, [db_url] * 4) == [0] * 4


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("nosuchdb://user:s3cret@localhost/x", "cannot open database"),
        ("postgresql+psycopg://me:s3cret@[::1/board", "cannot open database"),
        ("postgresql+psycopg://me:s3cret@127.0.0.1:1/board", "cannot open database"),
        ("sqlite:////nonexistent-dir-\0/x.db", "cannot open database"),
    ],
)
def test_bad_database_urls_one_line_exit_2(url, expected, cli):
    code, _, err = cli("leaderboard", "--db", url)
    assert code == 2 and expected in err and "s3cret" not in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_file_that_is_not_a_database(tmp_path, cli):
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not a database, just some text " * 100)
    code, _, err = cli("leaderboard", "--db", str(path))
    assert code == 2 and "not a database" in err and len(err.strip().splitlines()) == 1


def test_score_record_rejects_bad_db_before_scoring(cli):
    code, _, err = cli("score", "--sample", "--metrics", "em", "--record", "--name", "x",
                           "--db", "postgresql+psycopg://u:hunter2@127.0.0.1:1/x")
    assert code == 2 and "hunter2" not in err and "***" in err


def test_cli_record_leaderboard_show_compare_export(db_url, tmp_path, cli):
    code, _, err = cli("score", "--sample", "--metrics", "em,rouge1", "--record", "--name", "sample-run", "--db", db_url, "--tag", "t1")
    assert code == 0 and "recorded run 'sample-run'" in err
    board = Leaderboard(db_url)
    board.record(make_result(7, n=12), name="<script>alert(1)</script>", metadata=RunMetadata(dataset_hash=board.get("sample-run").dataset_hash))
    code, out, _ = cli("leaderboard", "--db", db_url, "--json")
    rows = json.loads(out)
    assert code == 0 and {row["name"] for row in rows} == {"sample-run", "<script>alert(1)</script>"}
    assert {"name", "step", "exact_match", "rouge1", "bertscore", "bleurt", "descriptive_avg", "final_score",
            "scoring_rules", "aligned_by_id", "n_counted"} <= set(rows[0])
    sample = next(row for row in rows if row["name"] == "sample-run")
    assert sample["scoring_rules"] == SCORING_RULES and sample["aligned_by_id"] is False and 0 < sample["n_counted"] < 40
    code, out, _ = cli("leaderboard", "--db", db_url, "--tag", "t1")
    assert code == 0 and "sample-run" in out and "script" not in out and "hidden" not in out and "old rules" not in out
    code, out, _ = cli("show", "sample-run", "--db", db_url)
    assert code == 0 and "선택형" in out and "worst" in out and "rouge1(" in out and "counted" in out
    assert f"mean over the {sample['n_counted']} counted items" in out and "organizers-2025" in out
    code, out, _ = cli("show", "sample-run", "--db", db_url, "--json")
    shown = json.loads(out)
    assert shown["run"]["n_counted"] == sample["n_counted"] and all("n_counted" in group for group in shown["by_type"])
    assert all(isinstance(item["counted"], bool) for item in shown["worst_items"])
    assert any(not item["counted"] for item in shown["worst_items"])  # no reason: among the worst items
    board.record(result_of(make_result(8).items, aligned_by_id=True), name="reordered")
    code, out, _ = cli("leaderboard", "--db", db_url)
    assert code == 0 and "reordered†" in out and "aligned by id: not the organizers' score" in out
    code, out, _ = cli("show", "reordered", "--db", db_url)
    assert code == 0 and "NOT THE ORGANIZERS' SCORE" in out
    code, out, _ = cli("export", "--format", "csv", "--db", db_url)
    assert code == 0 and "scoring_rules" in out.splitlines()[0] and "aligned_by_id" in out.splitlines()[0]
    code, out, _ = cli("export", "--format", "html", "--db", db_url)
    assert code == 0 and "<script>alert" not in out and "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    code, out, _ = cli("export", "--format", "html", "--run", "<script>alert(1)</script>", "--db", db_url)
    assert code == 0 and "<b>" not in out and "&lt;b&gt;" in out
    code, out, _ = cli("export", "--format", "md", "--db", db_url)
    assert code == 0 and "<script>" not in out and "&lt;script&gt;" in out
    for fmt in ("csv", "md", "json"):
        code, out, _ = cli("export", "--format", fmt, "--db", db_url)
        assert code == 0 and "sample-run" in out
    code, _, err = cli("export", "--format", "xlsx", "--db", db_url)
    assert code == 2 and "xlsx" in err
    code, _, err = cli("show", "nope", "--db", db_url)
    assert code == 2 and "no run named 'nope'" in err
    code, _, err = cli("compare", "sample-run", "<script>alert(1)</script>", "--db", db_url)
    assert code == 2 and "different items" in err


def test_compare_bootstrap_intervals(db_url, cli):
    board = Leaderboard(db_url)
    a, b = make_result(1, n=60), make_result(1, n=60)
    for item in b.items:
        item.rouge1 = min(1.0, item.rouge1 + 0.2)  # B is better on every item
    from malpyeong_eval.metrics.aggregate import summarize

    b.metrics = summarize(vars(i) for i in b.items)
    board.record(a, name="A", metadata=RunMetadata(dataset_hash="same"))
    board.record(b, name="B", metadata=RunMetadata(dataset_hash="same"))
    code, out, _ = cli("compare", "A", "B", "--db", db_url, "--json")
    result = json.loads(out)
    rouge = result["deltas"]["rouge1"]
    assert code == 0 and rouge["ci_low"] > 0 and rouge["ci_low"] <= rouge["delta"] <= rouge["ci_high"]
    assert result["deltas"]["exact_match"]["delta"] == 0 and result["won"] > 0 and result["lost"] == 0
    board.record(make_result(1, n=60), name="C", metadata=RunMetadata(dataset_hash="other"))
    code, _, err = cli("compare", "A", "C", "--db", db_url)
    assert code == 2 and "different data" in err


def test_plot_writes_png_and_terminal_curve(db_url, tmp_path, cli):
    board = Leaderboard(db_url)
    for step in (30, 10, 20):
        board.record(make_result(step), name=f"grpo/checkpoint-{step}", metadata=RunMetadata(step=step, tags=("grpo",)))
    png = tmp_path / "curve.png"
    code, out, _ = cli("plot", "--tag", "grpo", "--output", str(png), "--db", db_url)
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Final" in out and "steps 10 … 30 (3 checkpoints)" in out
    code, _, err = cli("plot", "--tag", "none", "--output", str(png), "--db", db_url)
    assert code == 2 and "no runs" in err


def test_the_curve_has_whole_steps_on_its_axis(db_url):
    """The demo's three checkpoints (0, 20, 40) were drawn with ticks at 22.5 and 27.5; 40 checkpoints get whole ticks too."""
    from leaderboard.plot import training_figure

    board = Leaderboard(db_url)
    for step in (0, 20, 40):
        board.record(make_result(step, n=4), name=f"demo/checkpoint-{step}", metadata=RunMetadata(step=step))
    runs = sorted(board.runs(), key=lambda run: run.step or 0)
    assert list(training_figure(runs, "demo").axes[0].get_xticks()) == [0, 20, 40]
    many = [run.__class__(**{**run.__dict__, "step": step}) for step, run in zip(range(0, 39, 3), runs * 5, strict=False)]
    ticks = training_figure(many, "many").axes[0].get_xticks()
    assert len(ticks) > 2 and all(float(tick).is_integer() for tick in ticks)


def test_older_schema_is_upgraded_with_its_runs(tmp_path):
    from alembic import command

    from leaderboard.db import _alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0001")  # the first released schema
        connection.exec_driver_sql(
            "INSERT INTO runs (id, name, generation, metric_config, fingerprint, tool_version, created_at, n) "
            "VALUES (1, 'old-run', '{}', '{}', 'abc', '0.0.1', '2026-01-01 00:00:00', 3)"
        )
        connection.exec_driver_sql("INSERT INTO run_tags (run_id, tag) VALUES (1, 'kept')")
        connection.exec_driver_sql("INSERT INTO group_metrics (run_id, question_type, n) VALUES (1, '선택형', 1)")
        connection.exec_driver_sql(
            "INSERT INTO item_results (run_id, position, item_id, question_type, prediction, answer_clause, reason, gold) "
            "VALUES (1, 0, 'a', '선택형', 'p', 'c', 'r', 'g')"
        )
    engine.dispose()
    board = Leaderboard(url)
    assert schema_version(board.engine) == "0006"
    old = board.get("old-run")
    assert old.n == 3 and old.scoring_rules is None and not old.current_rules and old.aligned_by_id is False
    # before 0005 nothing was cited: selection is not measured on the run, its groups or its items
    assert old.n_selection is None and old.metrics["context_selection"] is None
    (item,) = [row.to_json() for row in board.items(old)]
    assert (item["citation"], item["cited"], item["cited_title"], item["gold_article"], item["context_selection"]) == (None,) * 5
    # the upgrades rebuild the runs table on SQLite: its tags, groups and items must survive (no cascade)
    assert old.tags == ["kept"] and len(board.groups(old)) == 1 and [row.item_id for row in board.items(old)] == ["a"]
    with board.engine.connect() as connection:  # and foreign keys are enforced again afterwards
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_schema_0002_database_with_runs_is_upgraded_to_old_rules_runs(db_url, cli):
    """Runs recorded before schema 0003 were scored under the old rules: they stay readable,
    get scoring_rules NULL, and the leaderboard hides them unless asked."""
    from alembic import command

    from leaderboard.db import _alembic_config

    engine = create_engine(db_url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0002")
        connection.exec_driver_sql(
            "INSERT INTO runs (id, name, generation, metric_config, fingerprint, tool_version, created_at, n, "
            "exact_match, rouge1, final_score) VALUES (7, 'old-run', '{}', '{\"rouge1\": \"rouge1(old)\"}', 'abc', "
            "'0.1.0', '2026-01-01 00:00:00', 2, 0.5, 0.25, NULL)"
        )
        connection.exec_driver_sql(
            "INSERT INTO group_metrics (run_id, question_type, n, exact_match, rouge1) VALUES (7, '선택형', 2, 0.5, 0.25)"
        )
        for position, (item_id, em, rouge) in enumerate([("a", 1.0, 0.5), ("b", 0.0, 0.0)]):
            connection.exec_driver_sql(
                "INSERT INTO item_results (run_id, position, item_id, question_type, prediction, answer_clause, reason, "
                f"gold, exact_match, rouge1) VALUES (7, {position}, '{item_id}', '선택형', '\"가\"가 옳다. 이유', "
                f"'\"가\"가 옳다', '이유', '\"가\"가 옳다. 이유', {em}, {rouge})"
            )
    engine.dispose()
    board = Leaderboard(db_url)
    assert schema_version(board.engine) == "0006"
    old = board.get("old-run")
    assert (old.id, old.n, old.metrics["rouge1"], old.metric_config) == (7, 2, 0.25, {"rouge1": "rouge1(old)"})
    assert old.scoring_rules is None and old.n_counted is None and old.aligned_by_id is False and not old.current_rules
    assert board.groups(old)[0].n_counted is None and board.groups(old)[0].metrics["rouge1"] == 0.25
    assert [(row.item_id, row.counted, row.score("rouge1")) for row in board.items(old)] == [("a", None, 0.5), ("b", None, 0.0)]
    assert board.runs() == [] and [run.name for run in board.runs(all_rules=True)] == ["old-run"]
    assert board.old_rules_count() == 1 and board.old_rules_count(dataset="other") == 0
    board.record(make_result(1), name="new-run")
    assert [run.name for run in board.runs()] == ["new-run"]
    code, out, _ = cli("leaderboard", "--db", db_url)
    assert code == 0 and "new-run" in out and "old-run" not in out
    assert "1 run scored under the old (pre-2025) rules hidden" in out and "malpyeong-eval rescore" in out
    code, out, _ = cli("leaderboard", "--db", db_url, "--all-rules")
    assert code == 0 and "old-run (old rules)" in out and "rescore them: malpyeong-eval rescore" in out
    code, out, err = cli("leaderboard", "--db", db_url, "--json")
    assert code == 0 and [row["name"] for row in json.loads(out)] == ["new-run"] and "hidden" in err
    code, out, _ = cli("leaderboard", "--db", db_url, "--json", "--all-rules")
    rows = {row["name"]: row for row in json.loads(out)}
    assert rows["old-run"]["scoring_rules"] is None and rows["new-run"]["scoring_rules"] == SCORING_RULES
    code, out, _ = cli("show", "old-run", "--db", db_url)
    assert code == 0 and "old rules" in out and "rescore it: malpyeong-eval rescore old-run" in out
    code, out, _ = cli("export", "--format", "json", "--db", db_url)
    assert code == 0 and [row["name"] for row in json.loads(out)] == ["new-run"]
    code, out, _ = cli("export", "--format", "json", "--all-rules", "--db", db_url)
    assert code == 0 and {row["name"] for row in json.loads(out)} == {"new-run", "old-run"}
    code, _, err = cli("compare", "old-run", "new-run", "--db", db_url)
    assert code == 2 and "different rules" in err and "rescore first: malpyeong-eval rescore old-run" in err
    assert len(err.strip().splitlines()) == 1


def test_same_fingerprint_is_recorded_once(db_url):
    from leaderboard.store import AlreadyRecorded

    board = Leaderboard(db_url)
    first = board.record(make_result(1), name="first", metadata=RunMetadata(fingerprint="f" * 64))
    with pytest.raises(AlreadyRecorded) as info:
        board.record(make_result(1), name="second", metadata=RunMetadata(fingerprint="f" * 64))
    assert info.value.run.id == first.id and board.count() == 1


def test_migrations_match_the_models(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from leaderboard.models import Base

    board = Leaderboard(db_url)
    with board.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_database_metric_columns_equal_the_registry(db_url):
    """A migrated database has one float column per registry metric in each table (and the derived
    summaries in runs and group_metrics): a new metric needs its migration, and this says so."""
    from sqlalchemy import Float, inspect

    from malpyeong_eval.metrics.registry import COLUMN_NAMES, METRIC_NAMES

    board = Leaderboard(db_url)  # migrated to the newest schema on opening
    inspector = inspect(board.engine)

    def metric_columns(table: str) -> set[str]:
        return {column["name"] for column in inspector.get_columns(table) if isinstance(column["type"], Float)}

    assert metric_columns("runs") == set(COLUMN_NAMES)
    assert metric_columns("group_metrics") == set(COLUMN_NAMES)
    assert metric_columns("item_results") == set(METRIC_NAMES)
    stored = board.record(make_result(1), name="columns")
    assert tuple(stored.metrics) == COLUMN_NAMES
    assert set(board.items(stored)[0].to_json()) >= set(METRIC_NAMES) and set(board.groups(stored)[0].to_json()) >= set(COLUMN_NAMES)


def _counted_differently(seed: int, n: int):
    """B: other per-item numbers and other items without a reason than make_result's, stored in reverse order."""
    result = make_result(seed, n=n)
    for index, item in enumerate(result.items):
        item.counted = index % 3 != 1
        item.reason = "이유" if item.counted else ""
    return result_of(list(reversed(result.items)), config=result.config)


def test_compare_point_deltas_are_the_stored_metrics_differences(db_url, cli):
    board = Leaderboard(db_url)
    a, b = make_result(1, n=30), _counted_differently(2, n=30)
    assert {i.id for i in a.items if i.counted} != {i.id for i in b.items if i.counted}
    board.record(a, name="A", metadata=RunMetadata(dataset_hash="same"))
    board.record(b, name="B", metadata=RunMetadata(dataset_hash="same"))
    code, out, _ = cli("compare", "A", "B", "--db", db_url, "--json")
    result = json.loads(out)
    stored_a, stored_b = board.get("A").metrics, board.get("B").metrics
    assert code == 0 and set(result["deltas"]) == {"exact_match", "rouge1", "bertscore", "bleurt", "descriptive_avg", "final_score"}
    for metric, delta in result["deltas"].items():
        assert delta["delta"] == pytest.approx(stored_b[metric] - stored_a[metric], abs=1e-12)
        assert delta["ci_low"] <= delta["ci_high"]
    code, out, _ = cli("compare", "A", "B", "--db", db_url)
    assert code == 0 and "descriptive_avg" in out and "items won" in out


def test_compare_bootstrap_recomputes_each_resample_with_counted_items(db_url):
    import numpy as np

    from leaderboard.compare import RESAMPLES, bootstrap_deltas, compare_runs

    board = Leaderboard(db_url)
    n = 30
    a, b = make_result(1, n=n), _counted_differently(2, n=n)
    run_a, run_b = board.record(a, name="A"), board.record(b, name="B")
    items_a, items_b = board.items(run_a), board.items(run_b)
    rows_a, rows_b = [item.to_json() for item in items_a], [item.to_json() for item in items_b]
    by_id = {row["item_id"]: row for row in rows_b}
    paired_b = [by_id[row["item_id"]] for row in rows_a]  # B is stored in reverse order: paired by id
    points, samples = bootstrap_deltas(rows_a, paired_b)
    indices = np.random.default_rng(0).integers(0, n, size=(RESAMPLES, n))
    for r in range(5):  # brute force: the contest's table of each resampled run
        table_a = summarize(rows_a[i] for i in indices[r])
        table_b = summarize(paired_b[i] for i in indices[r])
        for metric in points:
            assert samples[metric][r] == pytest.approx(table_b[metric] - table_a[metric], abs=1e-12)
        everything = [{**paired_b[i], "counted": True} for i in indices[r]]  # not the rule: every item counted
        assert summarize(everything)["rouge1"] != pytest.approx(table_b["rouge1"], abs=1e-9)
    comparison = compare_runs(run_a, items_a, run_b, items_b)
    for metric, (delta, low, high) in comparison.deltas.items():
        assert (low, high) == tuple(np.percentile(samples[metric], [2.5, 97.5]))
        assert delta == points[metric]
    assert len(samples["final_score"]) == RESAMPLES


def test_compare_refuses_runs_scored_under_different_rules(db_url):
    from leaderboard.compare import compare_runs

    board = Leaderboard(db_url)
    old, new = board.record(make_result(1), name="old"), board.record(make_result(2), name="new")
    old.scoring_rules = None
    with pytest.raises(MalpyeongError, match=r"different rules \(old pre-2025 rules, organizers-2025\); rescore first: malpyeong-eval rescore old$"):
        compare_runs(old, board.items(old), new, board.items(new))


def test_retrieval_settings_recorded_and_read_back(db_url):
    board = Leaderboard(db_url)
    settings = {"retriever": "bm25-mecab", "corpus": "norms.pdf", "corpus_hash": "ab12", "top_k": 5, "field": "context"}
    board.record(make_result(1), name="rag", metadata=RunMetadata(retrieval=settings))
    board.record(make_result(2), name="own", metadata=RunMetadata(retrieval={"fields": ["references", "note"]}))
    board.record(make_result(3), name="plain")
    assert board.get("rag").retrieval == settings and board.get("rag").context == "bm25-mecab k=5 field=context"
    assert board.get("own").context == "fields: references, note"
    assert board.get("plain").retrieval is None and board.get("plain").context == "—"
    assert board.get("rag").to_json()["retrieval"] == settings


def test_schema_0003_database_with_runs_is_upgraded_to_0004(db_url, cli):
    """Runs recorded before schema 0004 had no context: they keep everything and get retrieval NULL."""
    from alembic import command

    from leaderboard.db import _alembic_config

    engine = create_engine(db_url)
    with engine.begin() as connection:
        command.upgrade(_alembic_config(connection), "0003")
        connection.exec_driver_sql(
            "INSERT INTO runs (id, name, generation, metric_config, fingerprint, tool_version, created_at, n, "
            f"exact_match, rouge1, scoring_rules, n_counted) VALUES (4, 'run-0003', '{{}}', '{{}}', 'f03', '0.2.0', "
            f"'2026-06-01 00:00:00', 1, 1.0, 0.5, '{SCORING_RULES}', 1)"
        )
        connection.exec_driver_sql("INSERT INTO run_tags (run_id, tag) VALUES (4, 'kept')")
        connection.exec_driver_sql(
            "INSERT INTO item_results (run_id, position, item_id, question_type, prediction, answer_clause, reason, "
            "gold, exact_match, rouge1, counted) VALUES (4, 0, 'a', '선택형', 'p', 'c', 'r', 'g', 1.0, 0.5, TRUE)"
        )
    engine.dispose()
    board = Leaderboard(db_url)
    assert schema_version(board.engine) == "0006"
    run = board.get("run-0003")
    assert run.retrieval is None and run.context == "—" and run.tags == ["kept"] and run.current_rules
    assert run.metrics["exact_match"] == 1.0 and [row.item_id for row in board.items(run)] == ["a"]
    code, out, _ = cli("leaderboard", "--db", db_url, "--json")
    assert code == 0 and json.loads(out)[0]["retrieval"] is None
