import pytest

from malpyeong_eval.parsing import FormatVerdict, check_format, quoted_sentences, split_answer


@pytest.mark.parametrize(
    ("text", "clause", "reason"),
    [
        ('"밥을 먹었다."가 옳다. 과거이다.', '"밥을 먹었다."가 옳다', "과거이다."),
        ('"밥을 먹었다."가 옳다 과거이다.', '"밥을 먹었다."가 옳다', "과거이다."),
        ('"책상이 있다."이 옳다.  이유가 있다.  ', '"책상이 있다."이 옳다', "이유가 있다."),
        ('"밥" 가 옳다. 띄어 쓴 조사.', '"밥" 가 옳다', "띄어 쓴 조사."),
        ('"가"가  옳다.. 두 점', '"가"가  옳다', ". 두 점"),
        ('"A" 혹은 "B"가 옳다. 둘 다 표준어이다.', '"A" 혹은 "B"가 옳다', "둘 다 표준어이다."),
        ("옳다는 말이 없다.", "옳다는 말이 없다.", ""),
        ("", "", ""),
        ('"가"가 옳다. 이것도 "나"가 옳다. 아니다.', '"가"가 옳다', '이것도 "나"가 옳다. 아니다.'),
    ],
)
def test_split_answer(text, clause, reason):
    parsed = split_answer(text)
    assert (parsed.clause, parsed.reason) == (clause, reason)


def test_split_without_clause_end_keeps_whole_text():
    parsed = split_answer("설명만 하고 결론이 없다.")
    assert parsed.clause == "설명만 하고 결론이 없다." and parsed.reason == "" and not parsed.has_clause_end


def test_nbsp_is_whitespace_between_particle_and_okda():
    assert split_answer('"가"가\u00a0옳다. 이유').reason == "이유"


def test_quoted_sentences_of_alternatives_and_curly_quotes():
    assert quoted_sentences('"A 는" 또는 “B”가 옳다') == ["A 는", "B"]


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ('"밥을 먹었다."가 옳다. 과거 시제이다.', FormatVerdict.OK),
        ('"A." 혹은 "B."가 옳다. 둘 다 맞다.', FormatVerdict.OK),
        ('"밥을 먹었다."이 옳다. 이유.', FormatVerdict.OK),
        ('"밥을 먹었다."가 옳다.', FormatVerdict.NO_REASON),
        ('"밥을 먹었다."가 옳다.   ', FormatVerdict.NO_REASON),
        ("밥을 먹었다가 옳다. 이유.", FormatVerdict.LOOSE_CLAUSE),
        ('답변: "밥을 먹었다."가 옳다. 이유.', FormatVerdict.LOOSE_CLAUSE),
        ("“밥을 먹었다.”가 옳다. 이유.", FormatVerdict.LOOSE_CLAUSE),
        ("과거 시제이므로 먹었다를 쓴다.", FormatVerdict.NO_CLAUSE_END),
        ("  \n", FormatVerdict.EMPTY),
    ],
)
def test_check_format(text, verdict):
    assert check_format(text) is verdict
