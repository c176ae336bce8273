"""`malpyeong-eval demo`: offline, tiny models, a short GRPO run, every checkpoint on the leaderboard the
tour's next commands read."""

import json
import sys

import pytest

from malpyeong_eval.cli import main
from train import demo as demo_module


def run_main(monkeypatch, capsys, *words: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["malpyeong-eval", *words])
    with pytest.raises(SystemExit) as info:
        main()
    return info.value.code, capsys.readouterr().out


@pytest.mark.slow
def test_demo_end_to_end_then_the_tour_reads_its_runs_with_no_flag(tmp_path, monkeypatch, capsys):
    """The demo as it runs but for a short warm start: what the warm start does (the policy learns the
    answer's shape) is test_context's ``cite_policy`` (the README's demo, in CI, runs it whole). Then the
    tour's plain ``leaderboard`` and ``show``, with neither --db nor MALPYEONG_DB, see the demo's runs."""
    monkeypatch.setattr(demo_module, "WARM_START_STEPS", 10)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.delenv("MALPYEONG_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    code, out = run_main(monkeypatch, capsys, "demo", "--steps", "2", "--eval-limit", "8")
    assert code == 0
    assert (tmp_path / "data" / "malpyeong-eval" / "leaderboard.db").exists()  # the default database: one for the tour
    png = tmp_path / "malpyeong-demo" / "training-curve.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "malpyeong-demo/checkpoint-2" in out and "training-curve.png" in out and "--tag train:malpyeong-demo" in out
    assert "Warning" not in out

    code, out = run_main(monkeypatch, capsys, "leaderboard", "--json")
    runs = json.loads(out)
    assert code == 0 and sorted(run["step"] for run in runs) == [0, 1, 2]  # before training, a checkpoint every half
    assert all(run["final_score"] is not None for run in runs)  # all four metrics, tiny scorer models
    code, out = run_main(monkeypatch, capsys, "leaderboard", "--tag", "train:malpyeong-demo", "--json")
    assert code == 0 and len(json.loads(out)) == 3  # the tag the demo printed
    code, out = run_main(monkeypatch, capsys, "show", "malpyeong-demo/checkpoint-2", "--json")
    assert code == 0 and json.loads(out)["run"]["step"] == 2


def test_the_demo_display_lists_every_stage_before_it_runs():
    from rich.progress import Progress

    with Progress(disable=True) as progress:
        stages = demo_module.DemoDisplay(progress, steps=40, save_steps=20, items=8)
        assert [task.description for task in progress.tasks] == [
            "build the tiny models (policy warm start, BERT, BLEURT)", "score the policy before training (step 0)",
            "GRPO training, 40 steps", "score checkpoint-20", "score checkpoint-40", "leaderboard and training curve"]
        assert {task.fields["state"] for task in progress.tasks} == {"·"}
        stages.scored("malpyeong-demo/checkpoint-20", 3, 8)
        stages.scored("malpyeong-demo/checkpoint-40", 8, 8)
        stages.scored("elsewhere/not-a-checkpoint", 1, 8)  # not one of the demo's: ignored
        states = {task.description: (task.completed, task.fields["state"]) for task in progress.tasks}
        assert states["score checkpoint-20"] == (3, "→") and states["score checkpoint-40"] == (8, "✓")
        assert states["score the policy before training (step 0)"] == (0, "·")


def test_a_stage_s_clock_starts_when_the_stage_does():
    """Each stage's elapsed time is its own, not the time since the demo began."""
    from rich.progress import Progress

    with Progress(disable=True) as progress:
        stages = demo_module.DemoDisplay(progress, steps=4, save_steps=2, items=8)
        assert not any(task.started for task in progress.tasks)
        stages.scored("malpyeong-demo/checkpoint-0", 0, 8)  # a run reports 0 done as it starts
        assert progress.tasks[stages.scoring[0]].started and not progress.tasks[stages.training].started
        stages.scored("malpyeong-demo/checkpoint-0", 8, 8)  # the policy scored: the training begins
        assert progress.tasks[stages.training].started and not progress.tasks[stages.scoring[2]].started
        assert progress.tasks[stages.training].fields["state"] == "→"
