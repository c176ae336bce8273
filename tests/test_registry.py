"""The metric registry drives every metric list; the scorer pool shares one scorer per model identity."""

import dataclasses
import doctest
import importlib
import threading
import time

import pytest

from tests.reference.rouge import plain_rouge1
from malpyeong_eval import ContestScorer, ItemScore, split_answer
from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.metrics import pool, registry
from malpyeong_eval.metrics.options import ScorerOptions
from malpyeong_eval.metrics.registry import METRIC_SPECS, MetricSpec, Scorer, parse_metrics

GOLD = '"우동이 불을 것 같아 걱정이다."가 옳다. 어간 끝 받침이 바뀐다.'
PREDICTION = "'우동이 불을 것 같아 걱정이다.'가 옳다. 받침이 바뀐다."


@pytest.mark.parametrize("module", ["malpyeong_eval.metrics.registry", "malpyeong_eval.metrics.exact_match"])
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_every_table_of_metrics_comes_from_the_registry():
    from leaderboard import compare, export, plot, rescore
    from leaderboard.tables import DIAGNOSTIC_COLUMNS, LEADERBOARD_COLUMNS
    from leaderboard.models import METRIC_COLUMNS
    from malpyeong_eval.metrics import aggregate
    from malpyeong_eval.report import COLUMNS

    names = tuple(spec.name for spec in METRIC_SPECS)
    in_final = tuple(spec.name for spec in METRIC_SPECS if spec.in_final)
    summaries = tuple(summary.name for summary in registry.SUMMARY_SPECS)
    assert COLUMNS == tuple((spec.name, spec.label) for spec in METRIC_SPECS) + tuple(
        (summary.name, summary.label) for summary in registry.SUMMARY_SPECS)
    assert aggregate.SUMMARY_KEYS == METRIC_COLUMNS == (*names, *summaries) == registry.COLUMN_NAMES
    context = tuple(spec.name for spec in METRIC_SPECS if spec.part == "context")
    assert context == ("context_selection",) and not any(spec.in_final for spec in METRIC_SPECS if spec.part == "context")
    assert [key for key, _ in LEADERBOARD_COLUMNS] == [*in_final, *summaries]
    assert [key for key, _ in (*LEADERBOARD_COLUMNS, *DIAGNOSTIC_COLUMNS)] == list(compare.DELTA_METRICS)
    assert [key for key, _ in DIAGNOSTIC_COLUMNS] == list(context)
    assert [key for key, _ in plot.CURVE_METRICS] == [*in_final, "final_score"]
    assert [column for column in export.RUN_COLUMNS if column in registry.LABELS] == list(registry.COLUMN_NAMES)
    assert rescore.METRIC_KEYS == {"em": ("exact_match", "exact_match_lenient"), "rouge1": ("rouge1",),
                                   "bertscore": ("bertscore",), "bleurt": ("bleurt",)}
    assert rescore.MODEL_METRICS == ("bertscore", "bleurt")
    parts = ["id", "question_type", "prediction", "answer_clause", "reason", "gold", "counted"]
    choice = ["citation", "cited", "cited_title", "gold_article"]  # the context the model named, where it cites
    assert [field.name for field in dataclasses.fields(ItemScore)] == [*parts, *names, *choice]  # one score field per metric
    assert all(field.default is None and field.type == "float | None"
               for field in dataclasses.fields(ItemScore) if field.name in names)
    assert registry.DEFAULT_METRICS_TEXT == "em,rouge1,bertscore,bleurt"


def test_parse_metrics_takes_aliases_in_canonical_order():
    assert parse_metrics(["BLEURT", "em"]) == ("em", "bleurt")
    for bad in ("em,chrf", "", "exact_match"):
        with pytest.raises(MalpyeongError, match="choose from em,rouge1,bertscore,bleurt"):
            parse_metrics(bad)


def test_specs_are_frozen_and_scorers_follow_the_protocol_references_first():
    with pytest.raises(dataclasses.FrozenInstanceError):
        METRIC_SPECS[0].label = "x"
    gold_reason, reason = split_answer(GOLD).reason, split_answer(PREDICTION).reason
    expected = {"exact_match": 1.0, "exact_match_lenient": 1.0, "rouge1": plain_rouge1(gold_reason, reason),
                "context_selection": 1.0}
    for spec in METRIC_SPECS:
        if spec.takes_options:
            continue  # the model-based scorers: tests/test_bertscore.py and test_bleurt.py
        scorer = spec.build()
        assert isinstance(scorer, Scorer) and isinstance(scorer.config, str)
        references, predictions = {
            "clause": ([GOLD, GOLD], [PREDICTION, ""]),
            "reason": ([gold_reason] * 2, [reason, ""]),
            # the gold rule, and the named candidate's title ("": none named)
            "context": (["한글 맞춤법, 표준어 규정 - 한글 맞춤법 제18항"] * 2, ["<한글 맞춤법 제18항>", ""]),
        }[spec.part]
        assert scorer.score(references, predictions) == [expected[spec.name], 0.0], spec.name


def test_contest_scorer_rows_and_config_follow_the_registry():
    scorer = ContestScorer("rouge1,em")
    assert [spec.name for spec in scorer.specs] == ["exact_match", "exact_match_lenient", "rouge1"]
    (row,) = scorer.score_texts([GOLD], [PREDICTION])  # references first
    assert list(row) == ["counted", "exact_match", "exact_match_lenient", "rouge1"]
    assert row["exact_match"] == 1.0 and 0 < row["rouge1"] < 1
    assert list(scorer.config) == ["malpyeong_eval", "rules", "exact_match", "exact_match_lenient", "rouge1"]
    assert scorer.config["exact_match"] == "exact_match(delete-quotes+strip,gold-#-alternatives) rules=organizers-2025"
    only = ContestScorer.of(["exact_match"])  # what a reward computes: its metric, not the lenient twin
    assert [spec.name for spec in only.specs] == ["exact_match"]
    assert list(only.score_texts([GOLD], [PREDICTION])[0]) == ["counted", "exact_match"]
    assert list(only.config) == ["malpyeong_eval", "rules", "exact_match"]


# -- the pool ------------------------------------------------------------------------------------------


class SlowScorer:
    config = "slow"
    built = 0

    def __init__(self) -> None:
        time.sleep(0.2)
        type(self).built += 1

    def score(self, references, predictions, batch_size=None):
        return [0.0] * len(references)


@pytest.fixture
def extra_metric(monkeypatch):
    """The registry with one more metric whose scorer is slow to build (and fails while ``fail`` is set);
    its model identity is ``bertscore_model`` (default ``m``) and the device."""
    state = {"fail": False}

    def factory(settings):
        if state["fail"]:
            raise OSError("cannot load")
        return SlowScorer()

    spec = MetricSpec("slow_metric", "slow", "Slow", "reason", False, lambda settings: f"slow({settings['model']})",
                      factory, lambda options: {"model": options.bertscore_model or "m"},
                      lambda options: {"device": options.device or "cpu"})
    monkeypatch.setattr(registry, "METRIC_SPECS", (*METRIC_SPECS, spec))
    monkeypatch.setattr(pool, "_POOL", {})
    SlowScorer.built = 0
    return state


def test_pool_builds_one_scorer_per_model_identity_across_threads(extra_metric):
    got = []
    threads = [threading.Thread(target=lambda: got.append(pool.shared_scorer("slow_metric", ScorerOptions(device="cpu"))))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert SlowScorer.built == 1 and len(got) == 8 and all(scorer is got[0] for scorer in got)
    assert pool.shared_scorer("slow_metric") is got[0]  # normalized: the default device spelled out
    for size in (1, 8, "auto"):  # a runtime knob of each call, never part of the key
        assert pool.shared_scorer("slow_metric", ScorerOptions(batch_size=size)) is got[0]
    assert pool.shared_scorer("slow_metric", ScorerOptions(bertscore_model="n")) is not got[0] and SlowScorer.built == 2
    assert set(pool.loaded_scorers()) == {("slow_metric", ("device", "cpu"), ("model", model)) for model in "mn"}


def test_pool_keeps_nothing_from_a_failed_build_and_refuses_unknown_metrics(extra_metric):
    extra_metric["fail"] = True
    with pytest.raises(OSError):
        pool.shared_scorer("slow_metric")
    assert not pool.loaded_scorers()
    extra_metric["fail"] = False
    assert isinstance(pool.shared_scorer("slow_metric"), SlowScorer)
    with pytest.raises(KeyError, match="no metric 'chrf'"):
        pool.shared_scorer("chrf")


def test_contest_scorer_describes_its_configuration_without_building_a_scorer(extra_metric):
    scorer = ContestScorer.of(["slow_metric"], ScorerOptions(bertscore_model="n"))
    assert scorer.config["slow_metric"].startswith("slow(n) rules=") and SlowScorer.built == 0
    assert scorer.score_texts([GOLD], [PREDICTION])[0]["slow_metric"] == 0.0 and SlowScorer.built == 1


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "big"])
def test_scorer_options_refuse_a_batch_size_that_is_none(bad):
    with pytest.raises(MalpyeongError, match="positive integer or 'auto'"):
        ScorerOptions(batch_size=bad)


def test_devices_are_normalized_so_one_gpu_holds_one_copy(monkeypatch):
    """``cuda`` and ``cuda:0`` name one device. There is no GPU here: torch's CUDA queries are made to
    answer as on a two-GPU machine (the normalization is what is tested, not CUDA)."""
    import torch

    from malpyeong_eval.metrics.options import normalize_device

    assert normalize_device("cpu") == "cpu"
    if not torch.cuda.is_available():
        assert normalize_device(None) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    assert normalize_device("cuda") == normalize_device("cuda:0") == normalize_device(None) == "cuda:0"
    assert normalize_device("cuda:1") == "cuda:1"


def test_model_scorers_are_shared_by_model_identity(tiny_bert, tiny_bleurt, monkeypatch):
    monkeypatch.setattr(pool, "_POOL", {})
    options = ScorerOptions(bertscore_model=tiny_bert, bertscore_layers=2, bleurt_model=tiny_bleurt, device="cpu")
    bert = pool.shared_scorer("bertscore", options)
    assert pool.shared_scorer("bertscore", options.with_batch_size(8)) is bert
    monkeypatch.setenv("MALPYEONG_BERTSCORE_MODEL", tiny_bert)  # the default model named by the environment
    assert pool.shared_scorer("bertscore", ScorerOptions(bertscore_layers=2, device="cpu", bleurt_model="ignored")) is bert
    bleurt = pool.shared_scorer("bleurt", options)
    assert ContestScorer(("bleurt",), options.with_batch_size("auto")).scorer("bleurt") is bleurt


def test_each_configuration_string_is_known_before_its_model_loads(tiny_bert, tiny_bleurt, monkeypatch):
    """What ``run`` fingerprints with (the configuration strings) equals what the loaded scorers say."""
    monkeypatch.setattr(pool, "_POOL", {})
    options = ScorerOptions(bertscore_model=tiny_bert, bertscore_layers=2, bleurt_model=tiny_bleurt, device="cpu")
    scorer = ContestScorer(options=options)
    assert not pool.loaded_scorers()  # nothing built yet
    before = scorer.config
    scorer.load()
    assert {key[0] for key in pool.loaded_scorers()} == {spec.name for spec in scorer.specs}
    for spec in scorer.specs:
        assert before[spec.name] == f"{scorer.scorer(spec.name).config} rules={before['rules']}", spec.name
    assert f"{tiny_bert}_L2_no-idf_version=" in before["bertscore"] and f"model={tiny_bleurt}," in before["bleurt"]
