"""ROUGE-1 must equal the organizers' algorithm bit for bit (the plain reference in benchmarks/)."""

import random

import pytest

from tests.reference.rouge import plain_rouge1, plain_tokens
from malpyeong_eval.metrics.rouge import MecabTokenizer, Rouge1Scorer, clean_text

FRAGMENTS = [
    "'붇다'는 'ㄷ' 불규칙 용언으로 어간 끝 받침이 모음 앞에서 'ㄹ'로 바뀐다.",
    "한글 맞춤법 제42항에 따라 의존 명사는 띄어 쓴다.",
    "자격을 나타낼 때는 '로서'를, 수단을 나타낼 때는 '로써'를 쓴다.",
    "'되-'에 '-어'가 붙은 '되어'가 줄면 '돼'가 된다.",
    "사이시옷은 순우리말이 들어간 합성어에서 앞말이 모음으로 끝날 때 받치어 적는다.",
    "표준어 규정 제17항에 따라 '설거지'만 표준어로 삼는다.",
    "외래어 표기법에 따라 juice는 '주스'로 적는다.",
    "2025년 3월 1일에 개정된 규정이다.",
    "OK, Seoul City와 같은 로마자는 그대로 둔다.",
    "ABC Def GHI 123 456 x2y",
    "İstanbul ǅemal Kelvin K sign",
    "…!?“”‘’「」—·()[]{}<>",
    "!!!   ???   ...",
    "",
    "   ",
    "\n\n",
    "줄 바꿈이\n있는\n설명이다.",
    "no\u00a0break\u00a0space 와 탭\t문자",
    "ㄱㄴㄷ ㅏㅑㅓ 자모만",
    "漢字와 かな 섞인 문장",
    "😀 이모지 🎉 포함",
]


def _random_text(rng: random.Random) -> str:
    return " ".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(0, 4)))


def _pairs(sample_texts: list[str]) -> list[tuple[str, str]]:
    rng = random.Random(20251124)
    pairs = [(_random_text(rng), _random_text(rng)) for _ in range(260)]
    pairs += list(zip(sample_texts[:40], sample_texts[40:], strict=True))  # sample gold vs submission
    pairs += [(fragment, "") for fragment in FRAGMENTS] + [("", fragment) for fragment in FRAGMENTS]
    long_words = " ".join(rng.choice(FRAGMENTS[:10]) for _ in range(200))  # well over 1000 words
    assert len(long_words.split()) > 1000
    pairs += [(long_words, long_words[::-1]), (long_words, FRAGMENTS[0]), (long_words, long_words + " 끝 더하기")]
    return pairs


def test_rouge1_equals_plain_organizers_algorithm_bit_for_bit(sample_texts):
    pairs = _pairs(sample_texts)
    ours = Rouge1Scorer().score([reference for reference, _ in pairs], [prediction for _, prediction in pairs])
    mismatches = [
        (reference, prediction, value, plain)
        for (reference, prediction), value in zip(pairs, ours, strict=True)
        if value != (plain := plain_rouge1(reference, prediction))
    ]
    assert mismatches == []


def test_public_rouge_score_path_gives_the_same_numbers(sample_texts):
    from rouge_score.rouge_scorer import RougeScorer

    public, ours = RougeScorer(["rouge1"], tokenizer=MecabTokenizer()), Rouge1Scorer()
    for reference, prediction in _pairs(sample_texts):
        assert public.score(reference, prediction)["rouge1"].fmeasure == ours.score([reference], [prediction])[0]


def test_tokens_equal_plain_mecab_morphs(sample_texts):
    tokenizer = MecabTokenizer()
    for reference, prediction in _pairs(sample_texts):
        assert tokenizer.tokenize(reference) == plain_tokens(reference)
        assert tokenizer.tokenize(prediction) == plain_tokens(prediction)


def test_thousand_word_limit_applies():
    words = ["가나"] * 1000 + ["다라"] * 50
    assert "다라" not in clean_text(" ".join(words))
    assert Rouge1Scorer().score([" ".join(words)], ["다라"]) == [0.0]


def test_hangul_is_kept_unlike_rouge_score_default_tokenizer():
    assert Rouge1Scorer().score(["어간이 바뀐다"], ["어간이 바뀐다"]) == [1.0]
    assert MecabTokenizer().tokenize("Hello, 세계!") == ["hello", "세계"]


def test_cache_is_bounded_and_returns_same_tokens():
    tokenizer = MecabTokenizer(cache_size=3)
    first = tokenizer.tokenize("어간이 바뀐다")
    for text in ("가", "나", "다", "라"):
        tokenizer.tokenize(text)
    assert len(tokenizer._cached_tokens) == 3
    assert tokenizer.tokenize("어간이 바뀐다") == first
    scorer = Rouge1Scorer(cache_size=2)
    scorer.score(["가", "나", "다"], ["가", "나", "다"])
    assert len(scorer._unigrams) == 2


@pytest.mark.parametrize("reference,prediction,expected", [("a b c d", "a b", 2 * 1 * 0.5 / 1.5), ("a", "b", 0.0)])
def test_rouge1_f1_values(reference, prediction, expected):
    assert Rouge1Scorer().score([reference], [prediction]) == pytest.approx([expected])


def test_score_refuses_unequal_lengths():
    with pytest.raises(ValueError, match="differ in length"):
        Rouge1Scorer().score(["가"], ["가", "나"])
