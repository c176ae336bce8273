"""The organizers' split (malpyeong_eval/docs/scoring.md §2), case by case, with the surprises it holds."""

import pytest

from malpyeong_eval.parsing import FormatVerdict, check_format, is_counted, quoted_sentences, split_answer


@pytest.mark.parametrize(
    ("text", "clause", "reason"),
    [
        ('"밥을 먹었다."가 옳다. 과거이다.', '"밥을 먹었다."가 옳다', "과거이다."),
        ('"밥을 먹었다."가 옳다 과거이다.', '"밥을 먹었다."가 옳다', "과거이다."),
        ('"책상이 있다."이 옳다.  이유가 있다.  ', '"책상이 있다."이 옳다', "이유가 있다."),
        ('"밥" 가 옳다. 띄어 쓴 조사.', '"밥" 가 옳다', "띄어 쓴 조사."),
        ('"가"가 옳다.., 두 점과 쉼표', '"가"가 옳다', "두 점과 쉼표"),  # every leading . , and space goes
        ('"A" 혹은 "B"가 옳다. 둘 다 표준어이다.', '"A" 혹은 "B"가 옳다', "둘 다 표준어이다."),
        ("옳다는 말이 없다.", "옳다는 말이 없다.", ""),
        ("", "", ""),
        ('"가"가 옳다. 이것도 "나"가 옳다. 아니다.', '"가"가 옳다', '이것도 "나"가 옳다. 아니다.'),
        # surprises of the literal rule
        ('"가"가  옳다. 두 칸', '"가"가  옳다. 두 칸', ""),  # two spaces: no pattern at all
        ('"가"가옳다. 붙여 씀', '"가"가옳다. 붙여 씀', ""),  # no space: no pattern
        ('"가"가\u00a0옳다. 이유', '"가"가\u00a0옳다. 이유', ""),  # NBSP: no pattern
        ('"가"가 옳다고 본다. 이유', '"가"가 옳다', "고 본다. 이유"),  # matches inside 옳다고
        ('"A"이 옳다는 견해도 있으나 "B"가 옳다. 이유', '"A"이 옳다는 견해도 있으나 "B"가 옳다', "이유"),  # 가 옳다 first
        ('  답변: "가"가 옳다.\n이유\n', '답변: "가"가 옳다', "\n이유"),  # lstrip('., ') keeps the newline
    ],
)
def test_split_answer(text, clause, reason):
    parsed = split_answer(text)
    assert (parsed.clause, parsed.reason) == (clause, reason)


def test_split_without_clause_end_keeps_whole_text_stripped():
    parsed = split_answer("  설명만 하고 결론이 없다.\n")
    assert parsed.clause == "설명만 하고 결론이 없다." and parsed.reason == "" and not parsed.has_clause_end


def test_counted_needs_both_reasons():
    assert is_counted("이유", "이유") and not is_counted("", "이유") and not is_counted("이유", "")


def test_quoted_sentences_of_alternatives_and_curly_quotes():
    assert quoted_sentences('"A 는" 또는 “B”가 옳다') == ["A 는", "B"]


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ('"밥을 먹었다."가 옳다. 과거 시제이다.', FormatVerdict.OK),
        ('"A." 혹은 "B."가 옳다. 둘 다 맞다.', FormatVerdict.OK),
        ('"밥을 먹었다."이 옳다. 이유.', FormatVerdict.OK),
        ('답변: "밥을 먹었다."가 옳다. 이유.', FormatVerdict.OK),  # the split finds pattern and reason
        ("“밥을 먹었다.”가 옳다. 이유.", FormatVerdict.OK),
        ('"밥을 먹었다."가 옳다.', FormatVerdict.NO_REASON),
        ('"밥을 먹었다."가 옳다.,.   ', FormatVerdict.NO_REASON),
        ('"밥을 먹었다."가옳다. 이유.', FormatVerdict.LOOSE_CLAUSE_END),
        ('"밥을 먹었다."가\u00a0옳다. 이유.', FormatVerdict.LOOSE_CLAUSE_END),
        ("과거 시제이므로 먹었다를 쓴다.", FormatVerdict.NO_CLAUSE_END),
        ("  \n", FormatVerdict.EMPTY),
    ],
)
def test_check_format(text, verdict):
    assert check_format(text) is verdict


@pytest.mark.parametrize("text", ['"가"가 옳다. 이유', '"가"가 옳다.', '"가"가옳다. 이유', "아무 말", "", '"가"이 옳다 ,. 이유'])
def test_format_ok_exactly_when_split_finds_pattern_and_reason(text):
    parsed = split_answer(text)
    assert (check_format(text) is FormatVerdict.OK) == (parsed.has_clause_end and bool(parsed.reason))
