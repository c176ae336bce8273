"""The reward functions: equal to the metrics, robust to anything, and they train a real policy."""

import json
import logging
import math
import pickle
import random
import subprocess
import sys
from pathlib import Path

import pytest

from malpyeong_eval import ContestScorer, load_items, match_submission, sample_path, split_answer
from malpyeong_eval.metrics.aggregate import item_final_score
from malpyeong_eval.metrics.bertscore import BertScoreScorer
from malpyeong_eval.metrics.bleurt import BleurtScorer
from malpyeong_eval.metrics.exact_match import exact_match
from malpyeong_eval.metrics.pool import shared_scorer
from malpyeong_eval.metrics.rouge import Rouge1Scorer
from malpyeong_eval.prompts import clean_output
from rewards import (
    ContestReward,
    MAX_COMPLETION_CHARS,
    MetricReward,
    PartsLogging,
    ScorerOptions,
    completion_text,
    exact_match_reward,
    format_reward,
    rouge1_reward,
)
from rewards import completions as completions_module

GOLD = load_items(sample_path("gold"), require_answer=True)
SUBMISSION = match_submission(GOLD, load_items(sample_path("submission"), require_answer=True))
PREDICTIONS = [item.answer for item in SUBMISSION]  # two open with "답변:", which `run` strips
# what `malpyeong-eval run` records for these outputs, hence what the rewards score
RECORDED = [clean_output(item.answer) for item in SUBMISSION]
ANSWERS = [item.answer for item in GOLD]


@pytest.fixture(scope="module")
def tiny_options(tiny_bert, tiny_bleurt):
    return ScorerOptions(bertscore_model=tiny_bert, bertscore_layers=2, bleurt_model=tiny_bleurt, device="cpu")


@pytest.fixture(scope="module")
def model_rewards(tiny_options):
    bertscore = MetricReward("bertscore", tiny_options)
    bleurt = MetricReward("bleurt", tiny_options, clip=False)
    contest = ContestReward(options=tiny_options)
    return bertscore, bleurt, contest


COUNTED = [bool(split_answer(p).reason) and bool(split_answer(g).reason) for p, g in zip(RECORDED, ANSWERS, strict=True)]


def counted_only(values):
    """The reason part of a reward: the metric where the item is counted, 0.0 where it has no reason."""
    return [value if counted else 0.0 for value, counted in zip(values, COUNTED, strict=True)]


def test_sample_has_items_without_reason():
    assert 0 < COUNTED.count(False) < len(COUNTED)


def test_em_and_rouge1_rewards_equal_the_metrics():
    assert exact_match_reward(PREDICTIONS, answer=ANSWERS) == [exact_match(g, p) for p, g in zip(RECORDED, ANSWERS, strict=True)]
    expected = Rouge1Scorer().score([split_answer(g).reason for g in ANSWERS], [split_answer(p).reason for p in RECORDED])
    assert rouge1_reward(PREDICTIONS, answer=ANSWERS) == counted_only(expected)


def test_reason_rewards_give_zero_without_reason_even_where_the_metric_would_not():
    # an empty reason against an empty gold reason: ROUGE-1 0, but BLEURT would give some value
    completions = ['"가"가 옳다. 어간이 바뀐다.', '"가"가 옳다.', '"가"가옳다. 어간이 바뀐다.']
    assert rouge1_reward(completions, answer=['"가"가 옳다. 어간이 바뀐다.'] * 3) == [1.0, 0.0, 0.0]


def test_model_rewards_equal_the_metrics(model_rewards, tiny_bert, tiny_bleurt, tiny_options):
    bertscore, bleurt, contest = model_rewards
    reasons, gold_reasons = [split_answer(p).reason for p in RECORDED], [split_answer(g).reason for g in ANSWERS]
    expected = BertScoreScorer(tiny_bert, num_layers=2, device="cpu").score(gold_reasons, reasons)
    assert bertscore(PREDICTIONS, answer=ANSWERS) == pytest.approx(counted_only([min(1, max(0, v)) for v in expected]), abs=1e-6)
    expected = BleurtScorer(tiny_bleurt, device="cpu").score(gold_reasons, reasons)
    assert any(value != 0.0 for value, counted in zip(expected, COUNTED, strict=True) if not counted)  # the metric has a value there
    assert bleurt(PREDICTIONS, answer=ANSWERS) == pytest.approx(counted_only(expected), abs=1e-6)
    rows = ContestScorer(options=tiny_options).evaluate(GOLD, RECORDED).items
    clipped = [{**vars(row), "bleurt": min(1, max(0, row.bleurt)), "bertscore": min(1, max(0, row.bertscore))} for row in rows]
    assert contest(PREDICTIONS, answer=ANSWERS) == pytest.approx([item_final_score(row) for row in clipped], abs=1e-9)


def test_conversational_completions_and_other_gold_column():
    messages = [[{"role": "assistant", "content": text}] for text in PREDICTIONS]
    assert rouge1_reward(messages, answer=ANSWERS) == rouge1_reward(PREDICTIONS, answer=ANSWERS)
    parts = [[{"role": "assistant", "content": [{"type": "text", "text": text}]}] for text in PREDICTIONS]
    assert exact_match_reward(parts, answer=ANSWERS) == exact_match_reward(PREDICTIONS, answer=ANSWERS)
    assert MetricReward("exact_match", gold_column="gold")(PREDICTIONS, gold=ANSWERS) == exact_match_reward(PREDICTIONS, answer=ANSWERS)


def test_missing_gold_string_gives_none_and_missing_column_is_a_clear_error():
    assert exact_match_reward(['"가"가 옳다. 이유'], answer=[None]) == [None]
    with pytest.raises(KeyError, match="'answer'"):
        rouge1_reward(['"가"가 옳다. 이유'], solution=["x"])


def test_sub_metrics_logged_through_log_metric():
    logged = {}
    contest = ContestReward(metrics=("em", "rouge1"))
    contest(PREDICTIONS + [None], answer=ANSWERS + [ANSWERS[0]], log_metric=lambda name, value: logged.__setitem__(name, value))
    assert set(logged) == {"contest/exact_match", "contest/rouge1", "contest/counted", "contest_reward/malformed"}
    counted = [row for row in ContestScorer(("em", "rouge1")).score_texts(ANSWERS, RECORDED) if row["counted"]]
    assert logged["contest/rouge1"] == pytest.approx(sum(row["rouge1"] for row in counted) / len(counted))  # organizers' mean
    assert logged["contest_reward/malformed"] == pytest.approx(1 / 41)


def test_contest_reward_weights():
    only_em = ContestReward(metrics=("em", "rouge1"), em_weight=1.0)
    assert only_em(PREDICTIONS, answer=ANSWERS) == exact_match_reward(PREDICTIONS, answer=ANSWERS)
    with pytest.raises(ValueError, match="bleurt"):
        ContestReward(metrics=("em", "rouge1"), weights={"bleurt": 2.0})


# -- clean-up as `run` records, pickling, the shared scorer pool, log_extra ---------------------------------

PREFIXED = [prefix + text for prefix, text in zip(["답변: ", "답변:", "  답변 ： ", "답변:\n"] * len(RECORDED), RECORDED, strict=False)]  # the prefixes repeat: as many as RECORDED


def test_answer_prefix_is_stripped_as_run_does():
    assert [clean_output(text) for text in PREFIXED] == RECORDED
    for reward in (format_reward, exact_match_reward, rouge1_reward, ContestReward(metrics=("em", "rouge1"))):
        assert reward(PREFIXED, answer=ANSWERS) == reward(RECORDED, answer=ANSWERS), reward.__name__
    # what `malpyeong-eval run` records: the scorer on clean_output(text)
    rows = ContestScorer(("em", "rouge1")).score_texts(ANSWERS, [clean_output(text) for text in PREFIXED])
    assert exact_match_reward(PREFIXED, answer=ANSWERS) == [row["exact_match"] for row in rows]
    assert rouge1_reward(PREFIXED, answer=ANSWERS) == [row["rouge1"] if row["counted"] else 0.0 for row in rows]
    assert sum(exact_match(gold, raw) for raw, gold in zip(PREFIXED, ANSWERS, strict=True)) < sum(row["exact_match"] for row in rows)
    assert format_reward(['답변: "가"가 옳다. 이유이다.', '답변: "가"가 옳다.']) == [1.0, 0.6]


def _all_rewards(model_rewards):
    return [format_reward, exact_match_reward, rouge1_reward, ContestReward(metrics=("em", "rouge1")), *model_rewards]


def test_every_reward_pickles_before_and_after_use_without_its_models(model_rewards):
    for reward in _all_rewards(model_rewards):
        before = pickle.loads(pickle.dumps(reward))
        values = reward(PREDICTIONS, answer=ANSWERS)
        data = pickle.dumps(reward)
        assert len(data) < 5000, reward.__name__  # configuration only, no model or tagger
        copy = pickle.loads(data)
        assert copy(PREDICTIONS, answer=ANSWERS) == values, reward.__name__
        assert before(PREDICTIONS, answer=ANSWERS) == values, reward.__name__
        if hasattr(reward, "scorer"):  # in the same process, the copy finds the same loaded models in the pool
            assert [spec.name for spec in copy.scorer.specs] == [spec.name for spec in reward.scorer.specs]
            for metric in reward.scorer.specs:
                assert copy.scorer.scorer(metric.name) is reward.scorer.scorer(metric.name), (reward.__name__, metric.name)


@pytest.mark.slow
def test_a_pickled_reward_works_in_a_fresh_process(model_rewards):
    bertscore, _, _ = model_rewards
    chosen = [format_reward, exact_match_reward, rouge1_reward, ContestReward(metrics=("em", "rouge1")), bertscore]
    expected = [reward(PREDICTIONS, answer=ANSWERS) for reward in chosen]
    code = (
        "import json, pickle, sys\n"
        "rewards, predictions, answers = pickle.load(sys.stdin.buffer)\n"
        "print(json.dumps([reward(predictions, answer=answers) for reward in rewards]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], input=pickle.dumps((chosen, PREDICTIONS, ANSWERS)),
                          capture_output=True, cwd=Path(__file__).resolve().parents[1], timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    got = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert got[:4] == expected[:4]
    assert got[4] == pytest.approx(expected[4], abs=1e-6)


def test_rewards_of_one_model_identity_share_one_loaded_model(model_rewards, tiny_options):
    bertscore, bleurt, contest = model_rewards
    same = ContestReward(options=tiny_options.with_batch_size(8))  # another batch size: the same models
    pooled_bert, pooled_bleurt = shared_scorer("bertscore", tiny_options), shared_scorer("bleurt", tiny_options)
    for reward in (same, contest, bertscore):
        assert reward.scorer.scorer("bertscore") is pooled_bert, reward.__name__
    for reward in (same, contest, bleurt):
        assert reward.scorer.scorer("bleurt") is pooled_bleurt, reward.__name__
    assert same.scorer.scorer("rouge1") is rouge1_reward.scorer.scorer("rouge1") is shared_scorer("rouge1")
    # a ContestScorer of the same options (as `score` or in-process checkpoint evaluation builds) shares them too
    scorer = ContestScorer(options=tiny_options)
    assert scorer.scorer("bertscore") is pooled_bert and scorer.scorer("bleurt") is pooled_bleurt
    assert same(PREDICTIONS, answer=ANSWERS) == pytest.approx(contest(PREDICTIONS, answer=ANSWERS), abs=1e-6)


def test_each_reward_computes_only_its_own_metric(tiny_options):
    assert [spec.name for spec in exact_match_reward.scorer.specs] == ["exact_match"]  # not lenient EM
    assert [spec.name for spec in MetricReward("bertscore", tiny_options).scorer.specs] == ["bertscore"]
    assert [spec.name for spec in ContestReward(("em", "bleurt"), tiny_options).scorer.specs] == ["exact_match", "bleurt"]


def test_metric_rewards_are_named_from_the_registry(tiny_bert):
    assert [reward.__name__ for reward in (exact_match_reward, rouge1_reward)] == ["exact_match_reward", "rouge1_reward"]
    assert MetricReward("bertscore").__name__ == "bertscore_reward" and MetricReward("bleurt").__name__ == "bleurt_reward"
    em = MetricReward.of_alias("em")  # a --metrics name: its metric in Final
    assert em.__name__ == "exact_match_reward" and em.names == ("exact_match",)
    assert em(PREDICTIONS, answer=ANSWERS) == exact_match_reward(PREDICTIONS, answer=ANSWERS)
    with pytest.raises(KeyError, match="no metric 'chrf'"):
        MetricReward("chrf")


class ExtraSink:
    """Stands in for GRPOTrainer: ``log_extra`` appends a column's values, as its _log_completion_extra does."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list]] = []

    def log_extra(self, column: str, values: list) -> None:
        self.calls.append((column, list(values)))


def test_the_reward_asked_to_log_clause_and_reason_logs_them_and_no_other_does():
    batch = ['답변: "가"가 옳다. 어간이 바뀐다.', '"나"가 옳다.', None, "설명만 있다."]
    golds = [ANSWERS[0]] * len(batch)
    sink = ExtraSink()
    contest = ContestReward(metrics=("em", "rouge1"))
    first = PartsLogging(format_reward)  # what train.trainer.build_rewards does to the first reward
    assert first.__name__ == "format_reward"
    for reward in (first, exact_match_reward, rouge1_reward, contest):  # as TRL calls them in one step
        reward(batch, answer=golds, log_extra=sink.log_extra)
    assert sink.calls == [
        ("answer_clause", ['"가"가 옳다', '"나"가 옳다', None, "설명만 있다."]),
        ("reason", ["어간이 바뀐다.", "", None, ""]),
    ]
    assert first(batch, answer=golds) == format_reward(batch)  # the reward's values, unchanged
    wrapped = pickle.loads(pickle.dumps(PartsLogging(contest)))
    assert wrapped.__name__ == "contest_reward" and wrapped(batch, answer=golds) == contest(batch, answer=golds)


def _malformed(rng: random.Random, index: int):
    kinds = [
        lambda: None,
        lambda: rng.randint(-10**6, 10**6),
        lambda: rng.random(),
        lambda: {"content": "x"},
        lambda: [],
        lambda: [{"role": "assistant"}],
        lambda: [{"role": "assistant", "content": 5}],
        lambda: ["just", "strings"],
        lambda: [{"role": "assistant", "content": [{"type": "image"}]}],
        lambda: b'"\xea\xb0\x80"\xea\xb0\x80 \xec\x98\xb3\xeb\x8b\xa4.',
        lambda: '"가"가 옳다. ' + "가" * (MAX_COMPLETION_CHARS + rng.randint(1, 100_000)),
        lambda: '"가"가 옳다. 이유\x00\x1b[31m' + chr(rng.randint(0, 8)),
        lambda: '"가"가 옳다. ' + chr(rng.randint(0xD800, 0xDFFF)),
        lambda: "".join(chr(rng.randint(32, 0x10FFFF)) for _ in range(rng.randint(0, 40))).encode("utf-8", "ignore").decode(),
        lambda: rng.choice(['"', '""', '"가 옳다', "가 옳다.", "옳다옳다", "   ", "", '"“”‘’"이 옳다.', "\n\n"]),
    ]
    return kinds[index % len(kinds)]()


def _is_valid(value) -> bool:
    return value is None or (isinstance(value, float) and math.isfinite(value) and 0.0 <= value <= 1.0)


def test_fuzz_never_raises_and_stays_in_range(model_rewards, tiny_bleurt, caplog, monkeypatch):
    monkeypatch.setattr(completions_module, "_warned", set())  # nothing warned yet in this process
    caplog.set_level(logging.WARNING, logger=completions_module.logger.name)
    rng = random.Random(7)
    completions = [_malformed(rng, i) for i in range(2100)]
    golds = [rng.choice(ANSWERS) for _ in completions]
    bertscore, bleurt, contest = model_rewards
    bleurt_clipped = MetricReward("bleurt", bleurt.options)
    for reward in (format_reward, exact_match_reward, rouge1_reward, bertscore, bleurt_clipped, contest):
        values = reward(completions, answer=golds)
        assert len(values) == len(completions)
        bad = [(c, v) for c, v in zip(completions, values, strict=True) if not _is_valid(v)]
        assert bad == [], reward.__name__
    warned = [record.getMessage() for record in caplog.records if record.name == completions_module.logger.name]
    kinds = ["none", "not_text", "bad_messages", "too_long", "control_chars", "surrogates"]
    # exactly one warning per kind of malformed completion, across six rewards and 2100 completions
    assert sorted(message.split("(further ")[1].split(" cases")[0] for message in warned) == sorted(kinds), warned
    assert completions_module._warned == set(kinds)


def test_right_answers_score_above_wrong_ones(model_rewards):
    bertscore, bleurt, contest = model_rewards
    wrong = ['"틀린 문장이다."가 옳다. 전혀 관계없는 설명을 늘어놓는다.'] * len(ANSWERS)
    for reward in (exact_match_reward, rouge1_reward, bertscore, contest):
        right_scores, wrong_scores = reward(ANSWERS, answer=ANSWERS), reward(wrong, answer=ANSWERS)
        assert sum(right_scores) > sum(wrong_scores), reward.__name__
    unformatted = [split_answer(answer).reason for answer in ANSWERS]  # the reason alone, no answer clause
    assert all(low < high for low, high in zip(format_reward(unformatted), format_reward(ANSWERS), strict=True))


@pytest.mark.slow
def test_real_grpo_training_raises_the_reward(tiny_policy, tmp_path):
    """TRL's GRPOTrainer itself with our reward functions learns. Measured here (seeded, CPU, one thread):
    the summed reward about 0.005 over steps 1-4 and 0.10 over steps 9-12 at this learning rate."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from train.library_warnings import library_warnings_silenced

    dataset = Dataset.from_list([{"prompt": [{"role": "user", "content": item.question}], "answer": item.answer} for item in GOLD])
    with library_warnings_silenced():  # TRL's use of transformers' deprecated names, as train() silences them
        args = GRPOConfig(
            output_dir=str(tmp_path / "grpo"), per_device_train_batch_size=16, num_generations=8, max_completion_length=24,
            learning_rate=3e-2, max_steps=12, logging_steps=1, report_to=[], save_strategy="no", seed=0, use_cpu=True,
            disable_tqdm=True,
        )
    trainer = GRPOTrainer(
        model=tiny_policy, reward_funcs=[PartsLogging(format_reward), rouge1_reward], args=args, train_dataset=dataset,
        processing_class=AutoTokenizer.from_pretrained(tiny_policy),
    )
    log_extra_calls = []
    trl_log_extra = trainer._log_completion_extra

    def counting_log_extra(column, values):
        log_extra_calls.append((column, len(values)))
        trl_log_extra(column, values)

    trainer._log_completion_extra = counting_log_extra
    with library_warnings_silenced():
        trainer.train()
    rewards = [log["reward"] for log in trainer.state.log_history if "reward" in log]
    assert len(rewards) == 12
    # two rewards, the first asked to log: each step's clauses and reasons logged once, one value per completion
    assert log_extra_calls == [("answer_clause", 16), ("reason", 16)] * 12
    last = [clean_output(completion_text(c)) for c in trainer._logs["completion"]]
    assert list(trainer._logs["extra"]["reason"]) == [split_answer(text).reason for text in last]
    first, last = sum(rewards[:4]) / 4, sum(rewards[-4:]) / 4
    assert last > first + 0.05, (first, last)


def test_rewards_score_reason_metrics_on_counted_items_only():
    scorer = ContestScorer(("em", "rouge1"))
    full, counted_only = scorer.score_texts(ANSWERS, PREDICTIONS), scorer.score_texts(ANSWERS, PREDICTIONS, counted_only=True)
    assert [row["exact_match"] for row in counted_only] == [row["exact_match"] for row in full]
    assert [row["rouge1"] for row in counted_only] == [row["rouge1"] if row["counted"] else None for row in full]
    assert None in [row["rouge1"] for row in counted_only]  # the sample has items without a reason
