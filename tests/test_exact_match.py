"""Exact Match by the organizers' rule (malpyeong_eval/docs/scoring.md §3) and the lenient diagnostic beside it."""

import pytest

from malpyeong_eval.metrics.exact_match import (
    ExactMatchLenientScorer,
    ExactMatchScorer,
    exact_match,
    exact_match_lenient,
)

GOLD = '"우동이 불을 것 같아 걱정이다."가 옳다. 이유이다.'
ALTERNATIVES = '"짜장면" 혹은 "자장면"이 옳다. 둘 다 표준어이다.'
HASH_ALTERNATIVES = '"짜장면을 먹었다."#"자장면을 먹었다."가 옳다. 둘 다 표준어이다.'


@pytest.mark.parametrize(
    ("prediction", "gold", "strict", "lenient"),
    [
        (GOLD, GOLD, 1.0, 1.0),
        ('"우동이 불을 것 같아 걱정이다."가 옳다 다른 이유.', GOLD, 1.0, 1.0),
        ('  "우동이 불을 것 같아 걱정이다."가 옳다.', GOLD, 1.0, 1.0),
        ("'우동이 불을 것 같아 걱정이다.'가 옳다. 이유", GOLD, 1.0, 1.0),  # quotes are deleted
        ("우동이 불을 것 같아 걱정이다.가 옳다. 이유", GOLD, 1.0, 1.0),  # no quotes at all
        ('"우동이\u00a0불을 것 같아 걱정이다."가 옳다. 이유', GOLD, 0.0, 1.0),  # NBSP is not a space
        ('"우동이 불을  것 같아 걱정이다."가 옳다. 이유', GOLD, 0.0, 1.0),  # no whitespace collapsing
        ('"우동이 불 것 같아 걱정이다."가 옳다. 이유이다.', GOLD, 0.0, 0.0),
        ("“우동이 불을 것 같아 걱정이다.”가 옳다. 이유", GOLD, 0.0, 1.0),  # curly quotes stay
        ('" 우동이 불을 것 같아 걱정이다. " 가 옳다. 이유', GOLD, 0.0, 1.0),
        ('"우동이 불을 것 같아 걱정이다."가옳다. 이유', GOLD, 0.0, 1.0),  # no clause end for the organizers
        ('"자장면"이 옳다. 이유', ALTERNATIVES, 0.0, 1.0),
        ('"짜장면" 또는 "자장면"이 옳다. 이유', ALTERNATIVES, 0.0, 1.0),
        ('"짬뽕"이 옳다. 이유', ALTERNATIVES, 0.0, 0.0),
        # '#' alternatives: the gold clause 짜장면을 먹었다.#자장면을 먹었다.가 옳다 gives two alternatives
        ('"짜장면을 먹었다."#"자장면을 먹었다."가 옳다. 이유', HASH_ALTERNATIVES, 0.0, 1.0),  # the gold itself fails
        ('"자장면을 먹었다."가 옳다. 이유', HASH_ALTERNATIVES, 1.0, 1.0),
        ('"짜장면을 먹었다."가 옳다. 이유', HASH_ALTERNATIVES, 0.0, 1.0),  # the first one lacks 가 옳다
        ("짜장면을 먹었다.", HASH_ALTERNATIVES, 1.0, 1.0),  # ... so the bare sentence matches it
        ("우동이 불을 것 같아 걱정이다.", GOLD, 0.0, 0.0),
        ('답변: "우동이 불을 것 같아 걱정이다."가 옳다. 이유', GOLD, 0.0, 1.0),
        ('**"우동이 불을 것 같아 걱정이다."가 옳다.** 이유', GOLD, 0.0, 1.0),
        ("옳다는 말 없이 같은 글", "옳다는 말 없이 같은 글", 1.0, 1.0),
        ("", GOLD, 0.0, 0.0),
        ('"우동이 불을 것 같아 걱정이다." "다른 문장"이 옳다. 이유', GOLD, 0.0, 0.0),
    ],
)
def test_exact_match_strict_and_lenient(prediction, gold, strict, lenient):
    assert exact_match(gold, prediction) == strict
    assert exact_match_lenient(gold, prediction) == lenient


def test_lenient_never_below_strict_on_sample(sample_texts):
    golds, predictions = sample_texts[:40], sample_texts[40:]
    for prediction, gold in zip(predictions, golds, strict=True):
        assert exact_match_lenient(gold, prediction) >= exact_match(gold, prediction)


def test_scorers_take_references_first_in_batches():
    golds, predictions = [GOLD, ALTERNATIVES], ["“우동이 불을 것 같아 걱정이다.”가 옳다. 이유", '"자장면"이 옳다. 이유']
    assert ExactMatchScorer().score(golds, predictions) == [0.0, 0.0]
    assert ExactMatchLenientScorer().score(golds, predictions) == [1.0, 1.0]
    # the reference's clause lists the # alternatives, not the prediction's
    assert exact_match('"A"#"B"가 옳다.', '"B"가 옳다.') == 1.0 and exact_match('"B"가 옳다.', '"A"#"B"가 옳다.') == 0.0
    with pytest.raises(ValueError, match="differ in length"):
        ExactMatchScorer().score(golds, predictions[:1])
