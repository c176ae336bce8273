"""``run --samples N --select RULE``: N candidates per item with the tiny policy, one chosen; every
candidate kept in ``generations.jsonl`` with what the rule measured; interrupted and resumed per
candidate; recorded once per N and rule; its submission scored by ``score`` as the organizers check it.

The choice itself is tested against hand-made candidates and a brute force in ``test_selection.py``;
here it is checked for consistency: the run's choice is :func:`select`'s on the stored candidates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leaderboard.store import Leaderboard
from malpyeong_eval.data import sample_path
from malpyeong_eval.generation import Decoding, GenerationSettings
from malpyeong_eval.recording import Recording
from malpyeong_eval.runs import RunData, RunRequest, Sampling, run_checkpoints
from malpyeong_eval.selection import SelectionRule, select
from malpyeong_eval.submission import Generation, GenerationStore, read_candidates, read_generations

ITEMS, SAMPLES, RULE = 4, 3, "vote+mbr:rouge1"


class Interrupt:
    """A run's progress that stops it (as Ctrl-C does) once ``after`` candidates are stored."""

    def __init__(self, after: int) -> None:
        self.after = after

    def __call__(self, label: str, done: int, total: int) -> None:
        if done >= self.after:
            raise KeyboardInterrupt


def lines_of(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_candidate_lines_round_trip_and_old_lines_read_as_before(tmp_path):
    from malpyeong_eval.selection import CandidateScore

    store = GenerationStore(tmp_path / "run")
    store.path.parent.mkdir()
    store.path.write_text('{"id": "old", "prediction": "가"}\n{"id": "bad", "prediction": "나", "sample": -1}\n', encoding="utf-8")
    scored = Generation("1", "다", "프롬프트", None, 1, CandidateScore(2, {"rouge1": 0.5}, 0.5), chosen=True)
    store.append([Generation("1", "라", "프롬프트", None, 0), scored])
    assert read_generations(store.path) == {"old": Generation("old", "가"), "1": scored}  # the submitted ones
    assert read_candidates(store.path) == {"old": {0: Generation("old", "가")},
                                           "1": {0: Generation("1", "라", "프롬프트", None, 0), 1: scored}}
    assert lines_of(store.path)[-1] == {"id": "1", "prediction": "다", "prompt": "프롬프트", "sample": 1, "votes": 2,
                                        "utilities": {"rouge1": 0.5}, "utility": 0.5, "chosen": True}


@pytest.fixture
def four_items(tmp_path) -> Path:
    """The first items of the packaged sample (each with its rule) as a data file of their own."""
    path = tmp_path / "four.json"
    path.write_text(json.dumps(json.loads(sample_path("gold").read_text(encoding="utf-8"))[:ITEMS], ensure_ascii=False),
                    encoding="utf-8")
    return path


def sampled(policy: str, data: Path, tmp_path: Path, rule: str = RULE, samples: int = SAMPLES) -> RunRequest:
    return RunRequest(policy, data=RunData(data), metrics=("em", "rouge1"), runs_dir=tmp_path / "runs",
                      decoding=Decoding(GenerationSettings(max_new_tokens=6, do_sample=True, temperature=1.0), 2),
                      sampling=Sampling(samples, rule), recording=Recording(db=f"sqlite:///{tmp_path / 'board.db'}"))


def test_a_sampled_run_resumes_per_candidate_is_recorded_once_and_its_submission_scores(tiny_policy, four_items, tmp_path, cli):
    request = sampled(tiny_policy, four_items, tmp_path)
    board = Leaderboard(request.recording.db)
    with pytest.raises(KeyboardInterrupt):  # stopped in the second candidate's pass, after its first batch
        run_checkpoints(request, board=board, progress=Interrupt(after=ITEMS + 2))
    [generations] = (tmp_path / "runs").glob("*/generations.jsonl")
    before = lines_of(generations)
    assert len(before) == ITEMS + 2 and board.count() == 0
    assert sorted(line["sample"] for line in before) == [0] * ITEMS + [1] * 2 and not any("chosen" in line for line in before)

    outcome = run_checkpoints(request, board=board)[0]
    after = lines_of(generations)
    assert outcome.resumed == len(before) and outcome.provenance["items_generated"] == ITEMS * SAMPLES - len(before)
    assert "resumed 6 finished candidates" in outcome.status()
    assert sorted((line["id"], line["sample"]) for line in after) == sorted(
        (item_id, sample) for item_id in ("1", "2", "3", "4") for sample in range(SAMPLES))  # each candidate once
    kept = {(line["id"], line["sample"]): line["prediction"] for line in after}
    assert all(kept[line["id"], line["sample"]] == line["prediction"] for line in before)  # nothing drawn again

    # the choice: one per item, select()'s on the stored candidates, and the item's prediction everywhere
    candidates = read_candidates(generations)
    answer_sets = [[candidates[item_id][k].prediction for k in range(SAMPLES)] for item_id in ("1", "2", "3", "4")]
    expected = select(SelectionRule.parse(RULE), answer_sets)
    for item_id, answers, selection in zip(("1", "2", "3", "4"), answer_sets, expected, strict=True):
        assert [candidates[item_id][k].chosen for k in range(SAMPLES)] == [k == selection.chosen for k in range(SAMPLES)]
        assert [candidates[item_id][k].score for k in range(SAMPLES)] == list(selection.candidates)
        assert outcome.predictions[item_id] == answers[selection.chosen]
    submission = json.loads(outcome.submission.read_text(encoding="utf-8"))
    assert [record["output"]["answer"] for record in submission] == [outcome.predictions[i] for i in ("1", "2", "3", "4")]

    run = board.get(outcome.run_name)
    assert (run.generation["samples"], run.generation["select"]) == (SAMPLES, RULE)
    assert run.generation["select_config"] == SelectionRule.parse(RULE).config()
    assert [item.prediction for item in board.items(run)] == [outcome.predictions[i] for i in ("1", "2", "3", "4")]
    assert all(item.gold_article for item in board.items(run))  # the run keeps each item's rule (output.article)
    results = json.loads(outcome.results_file.read_text(encoding="utf-8"))
    assert results["generation"]["select"] == RULE and results["fingerprint"] == run.fingerprint
    assert sum(group["n"] for group in results["by_norm"]["groups"]) == ITEMS and results["by_norm"]["without_rule"] is None

    # the organizers' checks: ``score`` reads the submission against the data and gives the run's numbers
    code, out, err = cli("score", str(outcome.submission), "--gold", str(four_items), "--metrics", "em,rouge1", "--json")
    assert code == 0, err
    assert {key: json.loads(out)["metrics"][key] for key in ("exact_match", "rouge1")} == \
        {key: run.metrics[key] for key in ("exact_match", "rouge1")}

    again = run_checkpoints(request, board=board)[0]  # the same N and rule on the same checkpoint: recorded once
    assert again.already_recorded and again.predictions == outcome.predictions and board.count() == 1
    other = run_checkpoints(sampled(tiny_policy, four_items, tmp_path, rule="vote"), board=board)[0]
    assert not other.already_recorded and board.count() == 2  # another rule: another fingerprint, another run
    assert board.get(other.run_name).fingerprint != run.fingerprint
