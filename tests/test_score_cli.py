"""`malpyeong-eval score` end to end on the packaged sample with tiny local scorer models."""

import json
import re

import pytest

from malpyeong_eval import ContestScorer, evaluate_metric_path, load_items, match_submission, sample_path

ITEM_KEYS = {"id", "question_type", "exact_match", "rouge1", "bertscore", "bleurt", "answer_clause", "reason"}
METRIC_KEYS = {"exact_match", "exact_match_lenient", "rouge1", "bertscore", "bleurt", "descriptive_avg", "final_score"}



@pytest.fixture(scope="module")
def full_result(tiny_bert, tiny_bleurt, tmp_path_factory):
    from cli_support import run_cli

    out = tmp_path_factory.mktemp("score") / "result.json"
    code, _, err = run_cli("score", str(sample_path("submission")), "--gold", str(sample_path("gold")),
                           "--bertscore-model", tiny_bert, "--bertscore-layers", "2", "--bleurt-model", tiny_bleurt,
                           "--device", "cpu", "--output", str(out))
    assert code == 0, err
    return json.loads(out.read_text(encoding="utf-8"))


def test_json_has_all_fields(full_result):
    assert full_result["n"] == 40
    assert set(full_result["metrics"]) >= METRIC_KEYS
    assert all(full_result["metrics"][key] is not None for key in METRIC_KEYS)
    assert set(full_result["by_type"]) >= {"선택형", "교정형"}
    for row in full_result["by_type"].values():
        assert set(row) >= METRIC_KEYS and row["n"] > 0
    assert sum(row["n"] for row in full_result["by_type"].values()) == 40
    assert all(set(item) >= ITEM_KEYS for item in full_result["items"])
    assert {"exact_match", "rouge1", "bertscore", "bleurt"} <= set(full_result["config"])


def test_overall_is_mean_of_items_and_final_formula(full_result):
    items, metrics = full_result["items"], full_result["metrics"]
    counted = [item for item in items if item["counted"]]
    assert full_result["n_counted"] == len(counted) and 0 < len(counted) < len(items)
    assert metrics["exact_match"] == pytest.approx(sum(item["exact_match"] for item in items) / len(items))
    for key in ("rouge1", "bertscore", "bleurt"):  # over counted items only
        assert metrics[key] == pytest.approx(sum(item[key] for item in counted) / len(counted))
        assert metrics[key] != pytest.approx(sum(item[key] for item in items) / len(items))
    desc = (metrics["rouge1"] + metrics["bertscore"] + metrics["bleurt"]) / 3
    assert metrics["descriptive_avg"] == pytest.approx(desc)
    assert metrics["final_score"] == pytest.approx((metrics["exact_match"] + desc) / 2)
    assert 0 < metrics["exact_match"] < 1  # the sample submission has right and wrong clauses


def test_scores_text_as_submitted_no_prefix_stripping(full_result):
    prefixed = [item for item in full_result["items"] if item["answer_clause"].startswith("답변:")]
    assert prefixed and all(item["exact_match"] == 0.0 for item in prefixed)


def test_by_type_counts_counted_items(full_result):
    for question_type, row in full_result["by_type"].items():
        group = [item for item in full_result["items"] if item["question_type"] == question_type]
        assert row["n_counted"] == sum(item["counted"] for item in group)
    assert sum(row["n_counted"] for row in full_result["by_type"].values()) == full_result["n_counted"]
    assert full_result["rules"] == "organizers-2025" and full_result["official"] is True
    assert all(value.endswith("rules=organizers-2025") for key, value in full_result["config"].items()
               if key in METRIC_KEYS)
    assert "activation=gelu-exact-erf" in full_result["config"]["bleurt"]


def test_table_lists_overall_and_types(cli):
    code, out, _ = cli("score", "--sample", "--metrics", "em,rouge1")
    assert code == 0
    assert "overall" in out and "선택형" in out and "교정형" in out and "ROUGE-1" in out
    assert "BLEURT" not in out and "Final" not in out
    assert "counted" in out and "37 counted items" in out


def _reordered(tmp_path):
    records = json.loads(sample_path("submission").read_text(encoding="utf-8"))
    records[3], records[7] = records[7], records[3]
    path = tmp_path / "reordered.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path, records[3]["id"], records[7]["id"]


def test_reordered_submission_is_refused_as_the_organizers_do(tmp_path, cli):
    path, at_4, at_8 = _reordered(tmp_path)
    code, out, err = cli("score", str(path), "--gold", str(sample_path("gold")), "--metrics", "em")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "item 4" in err and repr(at_4) in err and repr(at_8) in err and "--align-by-id" in err


def test_align_by_id_scores_and_marks_the_result(tmp_path, cli):
    path, _, _ = _reordered(tmp_path)
    out_json = tmp_path / "aligned.json"
    code, out, _ = cli("score", str(path), "--gold", str(sample_path("gold")), "--metrics", "em,rouge1",
                       "--align-by-id", "--output", str(out_json))
    assert code == 0
    aligned = json.loads(out_json.read_text(encoding="utf-8"))
    assert aligned["aligned_by_id"] is True and aligned["official"] is False
    code, _, _ = cli("score", "--sample", "--metrics", "em,rouge1", "--output", str(tmp_path / "plain.json"))
    plain = json.loads((tmp_path / "plain.json").read_text(encoding="utf-8"))
    assert aligned["metrics"] == plain["metrics"] and plain["aligned_by_id"] is False
    code, out, _ = cli("score", str(path), "--gold", str(sample_path("gold")), "--metrics", "em", "--align-by-id")
    assert code == 0 and "NOT THE ORGANIZERS' SCORE" in out
    code, out, _ = cli("score", "--sample", "--metrics", "em", "--align-by-id")  # in order already: not marked
    assert code == 0 and "NOT THE ORGANIZERS" not in out


def test_unloadable_model_is_one_line_exit_2(cli):
    code, _, err = cli("score", "--sample", "--metrics", "bleurt")
    assert code == 2
    assert err.strip().splitlines() == [err.strip()]
    assert "lucadiliello/BLEURT-20" in err and "--bleurt-model" in err and "Traceback" not in err
    code, _, err = cli("score", "--sample", "--metrics", "bertscore")
    assert code == 2 and "bert-base-multilingual-cased" in err and "--bertscore-model" in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_metric_exit_2(cli):
    code, _, err = cli("score", "--sample", "--metrics", "em,bleu")
    assert code == 2 and "'bleu'" in err


def test_evaluate_module_gives_same_numbers(full_result, tiny_bert, tiny_bleurt):
    gold = load_items(sample_path("gold"), require_answer=True)
    submission = match_submission(gold, load_items(sample_path("submission"), require_answer=True))
    import evaluate  # here, not at the top: it imports transformers' pipelines, seconds in every test process

    metric = evaluate.load(evaluate_metric_path())
    result = metric.compute(
        predictions=[item.answer for item in submission], references=[item.answer for item in gold],
        bertscore_model=tiny_bert, bertscore_layers=2, bleurt_model=tiny_bleurt, device="cpu",
    )
    for key, value in full_result["metrics"].items():
        # EM and ROUGE-1 are exact; model metrics move by ~1e-8 with the batch a text is embedded in
        # (the pooled BERTScore scorer keeps reference embeddings from earlier calls)
        tolerance = 1e-12 if key in ("exact_match", "exact_match_lenient", "rouge1") else 1e-6
        assert result[key] == pytest.approx(value, abs=tolerance), key
    assert result["n_counted"] == full_result["n_counted"]


def test_library_scorer_matches_cli(full_result):
    gold = load_items(sample_path("gold"), require_answer=True)
    submission = match_submission(gold, load_items(sample_path("submission"), require_answer=True))
    scorer = ContestScorer(("em", "rouge1"))
    predictions = [item.answer or "" for item in submission]
    result = scorer.evaluate(gold, predictions)
    with pytest.raises(ValueError, match="39 predictions for 40 gold items"):
        scorer.evaluate(gold, predictions[:-1])
    assert result.metrics["rouge1"] == full_result["metrics"]["rouge1"]
    assert result.metrics["exact_match"] == full_result["metrics"]["exact_match"]


def test_record_with_unwritable_output_leaves_no_run(tmp_path, cli):
    from leaderboard.store import Leaderboard

    db = f"sqlite:///{tmp_path / 'board.db'}"
    code, _, err = cli("score", "--sample", "--metrics", "em", "--record", "--name", "r1", "--db", db,
                       "-o", str(tmp_path / "missing-dir" / "out.json"))
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert Leaderboard(db).runs(all_rules=True) == []
    code, _, _ = cli("score", "--sample", "--metrics", "em", "--record", "--name", "r1", "--db", db)
    assert code == 0 and [run.name for run in Leaderboard(db).runs()] == ["r1"]


def test_batch_size_auto_scores_as_the_default_sizes(full_result, tiny_bert, tiny_bleurt, cli):
    """``--batch-size auto`` on CPU (nothing runs out of memory: the largest size is kept) gives the
    numbers of the scorers' default sizes; a bad value is one line and exit 2."""
    code, out, err = cli("score", "--sample", "--bertscore-model", tiny_bert, "--bertscore-layers", "2",
                         "--bleurt-model", tiny_bleurt, "--device", "cpu", "--batch-size", "auto", "--json")
    assert code == 0, err
    for key, value in json.loads(out)["metrics"].items():
        assert value == pytest.approx(full_result["metrics"][key], abs=1e-6), key
    # the size BERTScore settled on (its start: a size an earlier call fitted, or the pairs); BLEURT answers these
    # pairs from its cache (full_result scored them): no batch ran, so it settles on nothing and says nothing
    assert re.search(r"^--batch-size auto: BERTScore settled on [1-9][0-9]*$", err, re.MULTILINE), err
    code, _, err = cli("score", "--sample", "--metrics", "em", "--batch-size", "lots")
    assert code == 2 and "--batch-size 'lots': give a positive integer or 'auto'" in err and len(err.strip().splitlines()) == 1


def test_the_python_call_gives_what_the_command_writes(full_result, tiny_bert, tiny_bleurt):
    """``score_submission`` on the command's input (no subprocess, no command line): the same result,
    every item and configuration string included."""
    from malpyeong_eval import ScorerOptions
    from malpyeong_eval.scoring import ScoreRequest, score_submission

    outcome = score_submission(ScoreRequest(
        sample_path("submission"), sample_path("gold"),
        scorer=ScorerOptions(bertscore_model=tiny_bert, bertscore_layers=2, bleurt_model=tiny_bleurt, device="cpu")))
    assert outcome.to_json() == full_result and outcome.run_id is None
    page = outcome._repr_html_()  # a notebook's view: the score table
    assert "sample_submission.json vs sample_gold.json" in page and "Final" in page and "overall" in page


def test_score_request_checks_itself_and_a_taken_name_is_refused_before_reading(tmp_path):
    from leaderboard.store import Leaderboard
    from malpyeong_eval import MalpyeongError
    from malpyeong_eval.recording import Recording
    from malpyeong_eval.scoring import ScoreRequest, score_submission

    with pytest.raises(MalpyeongError, match=r"^give a submission file and --gold GOLD \(or --sample\)$"):
        ScoreRequest(sample_path("submission"))
    with pytest.raises(MalpyeongError, match=r"^--record needs --name NAME$"):
        ScoreRequest(sample=True, recording=Recording(record=True))
    board = Leaderboard(f"sqlite:///{tmp_path / 'board.db'}")
    recorded = score_submission(ScoreRequest(sample=True, metrics=("em",), recording=Recording(record=True, name="a", tags=("t",))),
                                board=board)
    run = board.get("a")
    assert (recorded.run_id, recorded.run_name) == (run.id, "a") and run.tags == ["t"] and run.dataset_name == "sample_gold"
    assert run.provenance is not None and run.provenance["wall_seconds"] >= 0
    with pytest.raises(MalpyeongError, match="a run named 'a' is already on the leaderboard; choose another --name"):
        score_submission(ScoreRequest(tmp_path / "nowhere.json", tmp_path / "nowhere-gold.json",
                                      recording=Recording(record=True, name="a")), board=board)
    unrecorded = score_submission(ScoreRequest(sample=True, metrics=("em",), recording=Recording(record=False, name="a")),
                                  board=board)
    assert unrecorded.run_id is None and board.count() == 1  # record=False: the board is left alone
