import pytest

from malpyeong_eval.metrics.aggregate import descriptive_avg, final_score, summarize

# SCORING.md: the organizers' baseline table (EM, ROUGE-1, BERTScore, BLEURT, Desc. Avg, Final)
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
    rows = [{"exact_match": 1.0, "exact_match_lenient": 1.0, "rouge1": 0.5}, {"exact_match": 0.0, "exact_match_lenient": 1.0, "rouge1": 0.25}]
    summary = summarize(rows)
    assert summary["exact_match"] == 0.5 and summary["exact_match_lenient"] == 1.0 and summary["rouge1"] == 0.375
    assert summary["bertscore"] is None and summary["descriptive_avg"] is None and summary["final_score"] is None


def test_final_uses_strict_em_not_lenient():
    rows = [{"exact_match": 0.0, "exact_match_lenient": 1.0, "rouge1": 0.3, "bertscore": 0.6, "bleurt": 0.9}]
    summary = summarize(rows)
    assert summary["descriptive_avg"] == pytest.approx(0.6)
    assert summary["final_score"] == pytest.approx(0.3)
