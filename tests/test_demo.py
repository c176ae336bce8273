"""`malpyeong-eval demo`: offline, tiny models, a short GRPO run, every checkpoint on its own leaderboard."""

import sys

import pytest

from leaderboard.store import Leaderboard
from train import demo as demo_module
from malpyeong_eval.cli import main


@pytest.mark.slow
def test_demo_end_to_end_in_its_own_database(tmp_path, monkeypatch, capsys):
    """The demo as it runs but for a short warm start: what the warm start does (the policy learns the
    answer's shape) is test_context's ``cite_policy`` (the README's demo, in CI, runs it whole)."""
    monkeypatch.setattr(demo_module, "WARM_START_STEPS", 10)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("MALPYEONG_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["malpyeong-eval", "demo", "--steps", "2", "--eval-limit", "8"])
    with pytest.raises(SystemExit) as info:
        main()
    out = capsys.readouterr().out
    assert info.value.code == 0
    demo_db = tmp_path / "data" / "malpyeong-eval" / "demo.db"
    assert demo_db.exists() and not (tmp_path / "data" / "malpyeong-eval" / "leaderboard.db").exists()
    runs = Leaderboard(f"sqlite:///{demo_db}").runs()
    assert sorted(run.step for run in runs) == [0, 1, 2]  # the policy before training, and a checkpoint every half
    assert all(run.metrics["final_score"] is not None for run in runs)  # all four metrics, tiny scorer models
    png = tmp_path / "malpyeong-demo" / "training-curve.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "malpyeong-demo/checkpoint-2" in out and "training-curve.png" in out and "demo.db" in out
    assert "Warning" not in out


def test_the_demo_records_into_db_else_malpyeong_db_else_its_own_file(tmp_path, monkeypatch):
    """The choice the end-to-end test above makes with neither given: here the other two."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("MALPYEONG_DB", raising=False)
    own = f"sqlite:///{tmp_path / 'data' / 'malpyeong-eval' / 'demo.db'}"
    assert demo_module.demo_db_url() == own
    monkeypatch.setenv("MALPYEONG_DB", str(tmp_path / "mine.db"))
    assert demo_module.demo_db_url() == f"sqlite:///{tmp_path / 'mine.db'}"
    assert demo_module.demo_db_url("postgresql+psycopg://127.0.0.1/board") == "postgresql+psycopg://127.0.0.1/board"
    monkeypatch.setenv("MALPYEONG_DB", "")  # set but empty: not a choice
    assert demo_module.demo_db_url() == own
