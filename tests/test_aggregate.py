import numpy as np
import pytest

from malpyeong_eval.metrics.aggregate import PER_ITEM, aggregate, descriptive_avg, final_score, item_final_score, summarize

# malpyeong_eval/docs/scoring.md §3: the organizers' baseline table (EM, ROUGE-1, BERTScore, BLEURT, Desc. Avg, Final)
BASELINES = [
    ("Qwen3-8B", 0.3454, 0.2603, 0.7036, 0.5313, 0.4984, 0.4219),
    ("HyperCLOVAX Text 1.5B", 0.3193, 0.2240, 0.7070, 0.4673, 0.4661, 0.3927),
]


@pytest.mark.parametrize("row", BASELINES, ids=[row[0] for row in BASELINES])
def test_baseline_rows_reproduce(row):
    _, em, rouge1, bertscore, bleurt, desc, final = row
    assert round(descriptive_avg(rouge1, bertscore, bleurt), 4) == desc
    assert round(final_score(em, descriptive_avg(rouge1, bertscore, bleurt)), 4) == final


def test_summarize_needs_all_parts_for_desc_and_final():
    rows = [{"counted": True, "exact_match": 1.0, "exact_match_lenient": 1.0, "rouge1": 0.5},
            {"counted": True, "exact_match": 0.0, "exact_match_lenient": 1.0, "rouge1": 0.25}]
    summary = summarize(rows)
    assert summary["exact_match"] == 0.5 and summary["exact_match_lenient"] == 1.0 and summary["rouge1"] == 0.375
    assert summary["bertscore"] is None and summary["descriptive_avg"] is None and summary["final_score"] is None


def test_final_uses_strict_em_not_lenient():
    rows = [{"counted": True, "exact_match": 0.0, "exact_match_lenient": 1.0, "rouge1": 0.3, "bertscore": 0.6, "bleurt": 0.9}]
    summary = summarize(rows)
    assert summary["descriptive_avg"] == pytest.approx(0.6)
    assert summary["final_score"] == pytest.approx(0.3)


def test_reason_metrics_average_over_counted_items_only():
    # the surprise: an item without a reason does not pull ROUGE-1 down, it drops out (EM keeps it)
    rows = [
        {"counted": True, "exact_match": 1.0, "rouge1": 0.8, "bertscore": 0.9, "bleurt": 0.7},
        {"counted": False, "exact_match": 0.0, "rouge1": 0.0, "bertscore": 0.0, "bleurt": 0.1},
    ]
    summary = summarize(rows)
    assert summary["exact_match"] == 0.5
    assert (summary["rouge1"], summary["bertscore"], summary["bleurt"]) == (0.8, 0.9, 0.7)
    assert summary["final_score"] == pytest.approx((0.5 + 0.8) / 2)


def test_no_counted_item_gives_zero_reason_metrics_and_half_em():
    rows = [{"counted": False, "exact_match": 1.0, "rouge1": 0.0, "bertscore": 0.3, "bleurt": 0.2},
            {"counted": False, "exact_match": 0.0, "rouge1": 0.0, "bertscore": 0.0, "bleurt": 0.0}]
    summary = summarize(rows)
    assert (summary["rouge1"], summary["bertscore"], summary["bleurt"], summary["descriptive_avg"]) == (0.0, 0.0, 0.0, 0.0)
    assert summary["final_score"] == 0.25


def test_aggregate_on_resamples_equals_summarize_of_each_resample():
    rng = np.random.default_rng(0)
    n = 30
    rows = [{"counted": bool(rng.random() < 0.7), "exact_match": float(rng.random() < 0.5),
             "exact_match_lenient": 1.0, "rouge1": rng.random(), "bertscore": rng.random(), "bleurt": rng.random(),
             # selection: measured on about half the items (None elsewhere), right on about half of those
             "context_selection": float(rng.random() < 0.5) if rng.random() < 0.5 else None}
            for _ in range(n)]
    indices = rng.integers(0, n, size=(5, n))
    columns = {key: np.array([np.nan if row[key] is None else row[key] for row in rows])[indices] for key in PER_ITEM}
    table = aggregate(columns, np.array([row["counted"] for row in rows])[indices])
    for r in range(5):
        expected = summarize([rows[i] for i in indices[r]])
        for key, value in expected.items():
            assert table[key][r] == pytest.approx(value, abs=1e-12), key


def test_item_final_gives_reason_part_zero_when_not_counted():
    row = {"exact_match": 1.0, "rouge1": 0.5, "bertscore": 0.5, "bleurt": 0.5}
    assert item_final_score({**row, "counted": True}) == 0.75
    assert item_final_score({**row, "counted": False}) == 0.5
    assert item_final_score({"exact_match": 1.0, "counted": False}) is None


def test_selection_is_the_mean_over_measured_items_and_none_without_any():
    rows = [{"counted": True, "exact_match": 1.0, "context_selection": value} for value in (1.0, 0.0, None, 1.0, None)]
    assert summarize(rows)["context_selection"] == pytest.approx(2 / 3)  # 3 measured items, 2 right
    assert summarize([{**row, "context_selection": None} for row in rows])["context_selection"] is None
    scored = [{**row, "rouge1": 0.5, "bertscore": 0.5, "bleurt": 0.5} for row in rows]
    without = [{**row, "context_selection": None} for row in scored]
    assert summarize(scored)["final_score"] == summarize(without)["final_score"] == 0.75  # never part of Final
