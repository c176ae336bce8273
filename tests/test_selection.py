"""Choosing among sampled answers (malpyeong_eval.selection) and the metrics' pair matrices.

Fidelity: MBR over ROUGE-1 is checked against a brute force written here over the plain organizers'
ROUGE-1 (``tests/reference/rouge.py``, which shares no code with the package), pair by pair.
Consistency: the batched BERTScore and BLEURT matrices against the same scorers' own ``score``
called pair by pair.
"""

from __future__ import annotations

import functools
import math
import random
from itertools import permutations

import numpy as np
import pytest

from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.metrics.bertscore import BertScoreScorer
from malpyeong_eval.metrics.bleurt import BleurtScorer
from malpyeong_eval.metrics.options import ScorerOptions
from malpyeong_eval.metrics.rouge import Rouge1Scorer
from malpyeong_eval.parsing import split_answer
from malpyeong_eval.selection import SelectionRule, choose, select
from tests.reference.rouge import plain_rouge1

VOTE, MBR_ROUGE, BOTH = SelectionRule.parse("vote"), SelectionRule.parse("mbr:rouge1"), SelectionRule.parse("vote+mbr:rouge1")
REASONS = [
    "'붇다'는 'ㄷ' 불규칙 용언으로 어간 끝 받침이 모음 앞에서 'ㄹ'로 바뀐다.",
    "'붇다'는 불규칙 용언이라 모음 앞에서 받침이 바뀐다.",
    "한글 맞춤법 제42항에 따라 의존 명사는 띄어 쓴다.",
    "의존 명사는 앞말과 띄어 쓴다.",
    "외래어 표기법에 따라 juice는 '주스'로 적는다.",
]


def answer(sentence: str, reason: str = "") -> str:
    return f'"{sentence}"가 옳다. {reason}'.strip()


@functools.cache
def plain_pair(reference: str, prediction: str) -> float:
    """The plain organizers' ROUGE-1 of one pair (remembered: the random sets repeat pairs)."""
    return plain_rouge1(reference, prediction)


def brute_force_mbr(answers: list[str], allowed: list[int] | None = None) -> int:
    """The candidate whose reason has the highest mean plain ROUGE-1 against every other non-empty
    reason (earliest on a tie; candidates without a reason last), among ``allowed``."""
    reasons = [split_answer(text).reason for text in answers]
    means = {}
    for i in allowed if allowed is not None else range(len(answers)):
        others = [plain_pair(reasons[j], reasons[i]) for j in range(len(answers)) if j != i and reasons[j]]
        means[i] = sum(others) / len(others) if reasons[i] and others else -math.inf
    best = max(means.values())
    return min(i for i, mean in means.items() if mean >= best - 1e-12)


def test_vote_picks_the_majority_sentence_as_exact_match_compares_it():
    answers = [answer("나는 밥을 먹었다.", REASONS[0]), answer("나는 밥을 먹엇다.", REASONS[1]),
               "'나는 밥을 먹었다.'가 옳다. 따옴표가 달라도 같은 문장이다.", "", answer("나는 밥을 먹엇다."),
               ' "나는 밥을 먹었다."가 옳다.']
    [selection] = select(VOTE, [answers])
    assert [candidate.votes for candidate in selection.candidates] == [3, 2, 3, 0, 2, 3]
    assert selection.chosen == 0
    assert all(candidate.utility is None and not candidate.utilities for candidate in selection.candidates)


def test_vote_ties_go_to_the_earliest_and_empty_answers_cast_no_vote():
    answers = ["", "", "", answer("B"), answer("A"), answer("A", "이유"), answer("B", "이유")]
    assert select(VOTE, [answers])[0].chosen == 3  # A and B tie at two; B comes first; three empties do not win
    assert select(VOTE, [["", " ", "\n"]])[0].chosen == 0  # nothing to vote for: the earliest


def test_mbr_rouge1_picks_what_a_brute_force_over_plain_rouge1_picks():
    answers = [answer("A", REASONS[2]), answer("A", REASONS[0]), answer("B", REASONS[1]),
               answer("A", REASONS[0] + " " + REASONS[1]), answer("B"), answer("C", REASONS[4])]
    [selection] = select(MBR_ROUGE, [answers])
    assert selection.chosen == brute_force_mbr(answers) == 1  # the reason the others share most, not the longest
    reasons = [split_answer(text).reason for text in answers]
    expected = math.fsum(plain_rouge1(reasons[j], reasons[1]) for j in (0, 2, 3, 5)) / 4
    assert selection.candidates[1].utilities == {"rouge1": expected} and selection.candidates[1].utility == expected
    assert selection.candidates[4].utility is None  # no reason: no utility, never chosen over one


def test_vote_then_mbr_breaks_a_tie_of_sentences_by_the_reasons():
    answers = [answer("A", REASONS[4]), answer("B", REASONS[0]), answer("A", REASONS[2]),
               answer("B", REASONS[1]), answer("C", REASONS[0])]
    assert select(VOTE, [answers])[0].chosen == 0  # A and B tie: the earliest
    [selection] = select(BOTH, [answers])
    assert selection.chosen == brute_force_mbr(answers, allowed=[0, 1, 2, 3]) == 1  # B's reason meets C's
    assert selection.candidates[1].utility == selection.candidates[4].utility  # C ties with it, but lost the vote
    # one winning sentence: MBR only among its candidates, though a candidate of another is more central
    answers.append(answer("A", REASONS[3]))
    assert select(MBR_ROUGE, [answers])[0].chosen == brute_force_mbr(answers) == 1
    assert select(BOTH, [answers])[0].chosen == brute_force_mbr(answers, allowed=[0, 2, 5]) == 2


def test_mbr_ties_are_deterministic_the_earliest_wins():
    twins = [answer("A", REASONS[3]), answer("B", REASONS[2]), answer("C", REASONS[2]), answer("D", REASONS[3])]
    [selection] = select(MBR_ROUGE, [twins])
    utilities = [candidate.utility for candidate in selection.candidates]
    assert utilities[1] == utilities[2] and utilities[0] == utilities[3]  # equal values, in another order: equal means
    assert selection.chosen == min(range(4), key=lambda i: (-(utilities[i] or 0), i))
    assert select(MBR_ROUGE, [[answer("A"), answer("B")]])[0].chosen == 0  # no reason anywhere


def test_empty_reasons_never_reach_the_scorer():
    seen: list[list[list[str]]] = []

    def recording(metric: str, reason_sets):
        seen.append([list(reasons) for reasons in reason_sets])
        return [np.ones((len(reasons), len(reasons))) for reasons in reason_sets]

    answers = [answer("A", "가"), answer("A"), "이유 없는 답", answer("B", "나")]
    selection, _ = select(SelectionRule.parse("mbr:rouge1"), [answers, [answer("C")]], utilities=recording)
    assert seen == [[["가", "나"], []]]
    assert [candidate.utility for candidate in selection.candidates] == [1.0, None, None, 1.0]


def random_candidate_sets(count: int, seed: int) -> list[list[str]]:
    """Sampled-looking candidate sets: few sentences, reasons recombined from a few fragments, so
    sentences repeat, reasons overlap and sometimes coincide or are missing."""
    rng = random.Random(seed)
    sentences = ["라면이 붇기 전에 먹어라.", "라면이 불기 전에 먹어라.", "풀 수 있다."]
    sets = []
    for _ in range(count):
        candidates = []
        for _ in range(rng.randint(1, 8)):
            reason = " ".join(sorted(rng.sample(REASONS, rng.randint(0, 3))))  # ROUGE-1 ignores the order anyway
            candidates.append(rng.choice([answer(rng.choice(sentences), reason), reason]))
        sets.append(candidates)
    return sets


def brute_force(rule: SelectionRule, answers: list[str]) -> int:
    """The rule's choice, written out: the vote over clauses without quotes, then the brute-force MBR."""
    sentences = [split_answer(text).clause.replace('"', "").replace("'", "").strip() for text in answers]
    counts = {sentence: sentences.count(sentence) for sentence in sentences if sentence}
    allowed = None
    if rule.vote and counts:
        allowed = [i for i, sentence in enumerate(sentences) if counts.get(sentence) == max(counts.values())]
    if not rule.metrics:
        return allowed[0] if allowed else 0
    return brute_force_mbr(answers, allowed)


@pytest.mark.parametrize("rule", [VOTE, MBR_ROUGE, BOTH], ids=SelectionRule.describe)
def test_batched_rouge1_chooses_as_pair_by_pair_plain_rouge1_on_300_random_sets(rule):
    sets = random_candidate_sets(300, seed=31)
    assert [selection.chosen for selection in select(rule, sets)] == [brute_force(rule, answers) for answers in sets]


def test_rouge1_pair_matrix_is_exactly_the_scorer_pair_by_pair():
    texts = [*REASONS, REASONS[0], ""]
    [matrix] = Rouge1Scorer().pair_matrices([texts])
    per_pair = Rouge1Scorer(cache_size=0)
    for i, j in permutations(range(len(texts)), 2):
        assert matrix[i, j] == per_pair.score([texts[j]], [texts[i]])[0]
    assert np.isnan(np.diag(matrix)).all()


def through_score(scorer):
    """Utilities from ``scorer.score`` on each set's ordered pairs (reference ``j``, prediction ``i``): the public path."""

    def matrices(metric: str, reason_sets):
        result = []
        for reasons in reason_sets:
            pairs = list(permutations(range(len(reasons)), 2))
            values = scorer.score([reasons[j] for _, j in pairs], [reasons[i] for i, _ in pairs]) if pairs else []
            matrix = np.full((len(reasons), len(reasons)), np.nan)
            for (i, j), value in zip(pairs, values, strict=True):
                matrix[i, j] = value
            result.append(matrix)
        return result

    return matrices


def margin(selection) -> float:
    """How far the best utility is ahead of the next one (inf with a single one)."""
    utilities = sorted((c.utility for c in selection.candidates if c.utility is not None), reverse=True)
    return utilities[0] - utilities[1] if len(utilities) > 1 else math.inf


def test_batched_bertscore_equals_the_scorers_score_and_chooses_the_same(tiny_bert, sample_texts):
    """Utilities within 1e-6 of ``score`` pair by pair, so the same choice wherever the best is ahead by
    more than that; closer ones are ties (two reasons the tokenizer reads alike, or F1's symmetry with
    two candidates) that BERTScore's float32 rounding decides."""
    rng = random.Random(7)
    reasons = sorted({split_answer(text).reason for text in sample_texts} - {""})
    sets = [[answer(rng.choice("AB"), reason) for reason in rng.sample(reasons, rng.randint(3, 6))] for _ in range(24)]
    sets.append([answer("A", reasons[0]), answer("B", reasons[1])])  # F1 is symmetric: two candidates always tie
    options = ScorerOptions(bertscore_model=tiny_bert, bertscore_layers=2, device="cpu", batch_size=16)
    rule = SelectionRule.parse("mbr:bertscore")
    batched = select(rule, sets, options)
    slow = select(rule, sets, utilities=through_score(BertScoreScorer(tiny_bert, num_layers=2, device="cpu", cache_size=0)))
    for fast, reference in zip(batched, slow, strict=True):
        utilities = [c.utility for c in reference.candidates]
        assert [c.utility for c in fast.candidates] == pytest.approx(utilities, abs=1e-6)
        assert fast.chosen == reference.chosen or utilities[fast.chosen] >= max(utilities) - 1e-6  # else a tie
    assert sum(margin(selection) > 1e-6 for selection in slow) >= 18  # most are no tie: the choices are compared
    assert batched[-1].chosen == 0 and batched[-1].candidates[0].utility == batched[-1].candidates[1].utility
    both = select(SelectionRule.parse("vote+mbr:bertscore,rouge1"), sets[:3], options)[0].candidates[0]
    assert both.utility == pytest.approx((both.utilities["rouge1"] + both.utilities["bertscore"]) / 2)


def test_bleurt_pair_matrices_equal_the_scorers_score(tiny_bleurt):
    sets = [REASONS[:3], [REASONS[3], REASONS[3]], [REASONS[4]]]
    scorer = BleurtScorer(tiny_bleurt, device="cpu", batch_size=4, cache_size=0)  # no pair remembered between calls
    batched = scorer.pair_matrices(sets)
    for matrix, expected in zip(batched, through_score(scorer)("bleurt", sets), strict=True):
        np.testing.assert_allclose(matrix, expected, atol=1e-5)
    assert batched[0][0, 1] != batched[0][1, 0]  # BLEURT is not symmetric: the direction is kept


@pytest.mark.parametrize("text", ["", "mbr", "mbr:", "mbr:em", "mbr:rouge1,bleu", "vote+", "vote+vote", "mbr:rouge1+vote",
                                  "majority", "vote,mbr:rouge1"])
def test_bad_rules_are_one_line_naming_the_flag(text):
    with pytest.raises(MalpyeongError) as info:
        SelectionRule.parse(text)
    message = str(info.value)
    assert message.startswith(f"--select {text!r}:") and "\n" not in message and "rouge1, bertscore, bleurt" in message


@pytest.mark.parametrize(("text", "canonical"), [
    ("vote", "vote"), (" MBR: bleurt , rouge1 ", "mbr:rouge1,bleurt"), ("mbr:rouge1,rouge1", "mbr:rouge1"),
    ("vote+mbr:bertscore,rouge1", "vote+mbr:rouge1,bertscore"),
])
def test_rules_parse_into_one_canonical_value(text, canonical):
    rule = SelectionRule.parse(text)
    assert rule.describe() == canonical and SelectionRule.parse(canonical) == rule
    assert SelectionRule(vote=rule.vote, metrics=tuple(reversed(rule.metrics))) == rule


def test_config_names_the_rule_and_each_utility():
    config = SelectionRule.parse("vote+mbr:rouge1").config()
    assert config.startswith("select(vote+mbr:rouge1;rouge1(organizers-py-rouge") and "mecab" in config
    assert SelectionRule.parse("vote").config() == "select(vote)"


def test_choose_refuses_no_candidates():
    with pytest.raises(ValueError, match="item 1"):
        select(VOTE, [[answer("A")], []])
    with pytest.raises(ValueError):
        choose(VOTE, [], {})
