"""Splitting an answer into its answer clause and its reason: the organizers' 2025 rule (malpyeong_eval/docs/scoring.md §2).

1. Look for the literal ``가 옳다`` anywhere in the text; only if it does not occur, for
   the literal ``이 옳다``. The first occurrence of the pattern found ends the clause.
2. Clause = the text up to and including the pattern, stripped. Reason = the rest,
   stripped, then every leading ``.``, ``,`` and space removed.
3. Neither pattern: the clause is the whole text stripped, the reason is empty.

No regex, no ``\\s*``: ``"X"가옳다`` and ``"X"가\\u00a0옳다`` have no pattern (no reason at
all), ``옳다고`` matches, and ``"A"이 옳다 … "B"가 옳다`` splits at ``가 옳다``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

CLAUSE_ENDS = ("가 옳다", "이 옳다")  # searched in this order, each anywhere in the text
REASON_LEAD = "., "  # characters stripped from the start of the reason
# What a reader would take for a clause end; only diagnostics (lenient EM, format credit) use it.
READER_CLAUSE_END = re.compile(r"[이가]\s*옳다")
_WHITESPACE = re.compile(r"\s+")
_CURLY_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "＂": '"',
                               "‘": "'", "’": "'", "‚": "'", "‛": "'"})
_QUOTED = re.compile(r'"([^"]*)"')
_SPACE_AROUND_QUOTE = re.compile(r'\s*"\s*')


@dataclass(frozen=True)
class ParsedAnswer:
    """An answer split into the part scored by Exact Match and the part scored as text."""

    clause: str
    reason: str
    has_clause_end: bool  # whether ``가 옳다`` or ``이 옳다`` was found


def split_answer(text: str) -> ParsedAnswer:
    """Split ``text`` into answer clause and reason by the organizers' rule.

    >>> split_answer('"우동이 불을 것 같아 걱정이다."가 옳다. 어간이 바뀐다.')
    ParsedAnswer(clause='"우동이 불을 것 같아 걱정이다."가 옳다', reason='어간이 바뀐다.', has_clause_end=True)
    >>> split_answer('"밥을 먹었다."가옳다. 과거이다.').reason    # no space: no pattern, no reason
    ''
    >>> split_answer('"A"이 옳다고 볼 수도 있지만 "B"가 옳다., 이유').reason
    '이유'
    """
    for pattern in CLAUSE_ENDS:
        position = text.find(pattern)
        if position >= 0:
            end = position + len(pattern)
            return ParsedAnswer(clause=text[:end].strip(), reason=text[end:].strip().lstrip(REASON_LEAD),
                                has_clause_end=True)
    return ParsedAnswer(clause=text.strip(), reason="", has_clause_end=False)


def is_counted(gold_reason: str, predicted_reason: str) -> bool:
    """Whether an item enters the reason metrics' means: both reasons non-empty (malpyeong_eval/docs/scoring.md §3)."""
    return bool(gold_reason) and bool(predicted_reason)


def normalize_clause(clause: str) -> str:
    """The organizers' Exact Match normalization: every ``"`` and ``'`` deleted, then stripped."""
    return clause.replace('"', "").replace("'", "").strip()


def clause_alternatives(gold_clause: str) -> list[str]:
    """The normalized alternatives of a gold clause (``#``-separated, each stripped)."""
    return [alternative.strip() for alternative in normalize_clause(gold_clause).split("#")]


def split_answer_loosely(text: str) -> ParsedAnswer:
    """A reader's split, for diagnostics only: the clause ends at the first ``[이가]\\s*옳다``
    (so ``가옳다`` and ``가\\u00a0옳다`` end it too)."""
    match = READER_CLAUSE_END.search(text)
    if match is None:
        return ParsedAnswer(clause=text.strip(), reason="", has_clause_end=False)
    return ParsedAnswer(clause=text[: match.end()].strip(), reason=text[match.end():].strip().lstrip(REASON_LEAD),
                        has_clause_end=True)


def normalize_clause_lenient(clause: str) -> str:
    """Lenient EM's normalization: straight quotes, NBSP and whitespace runs to one space, no
    spaces around quotes, then the organizers' rule (quotes deleted, stripped)."""
    text = _WHITESPACE.sub(" ", clause.replace("\u00a0", " ").translate(_CURLY_QUOTES))
    return normalize_clause(_SPACE_AROUND_QUOTE.sub('"', text))


def quoted_sentences(clause: str) -> list[str]:
    """The quoted sentences of a clause, e.g. both alternatives of ``"A" 혹은 "B"가 옳다``."""
    text = _WHITESPACE.sub(" ", clause.replace("\u00a0", " ").translate(_CURLY_QUOTES))
    return [sentence.strip() for sentence in _QUOTED.findall(text)]


class FormatVerdict(str, Enum):
    """How closely a text follows ``"{문장}"가 옳다. {이유}`` as the organizers split it."""

    OK = "ok"  # the organizers' split finds 가/이 옳다 and a non-empty reason
    NO_REASON = "no_reason"  # 가/이 옳다 found, nothing after it: the reason metrics skip the item
    LOOSE_CLAUSE_END = "loose_clause_end"  # only a reader's 가옳다 / 가\u00a0옳다: the organizers find no clause end
    NO_CLAUSE_END = "no_clause_end"  # no 옳다 after 가/이 at all
    EMPTY = "empty"  # nothing but whitespace


def check_format(text: str) -> FormatVerdict:
    """Judge ``text`` by the organizers' split: OK exactly when it finds a pattern and a reason.

    >>> check_format('"밥을 먹었다."가 옳다. 과거 시제이다.')
    <FormatVerdict.OK: 'ok'>
    >>> check_format('"밥을 먹었다."가 옳다.')
    <FormatVerdict.NO_REASON: 'no_reason'>
    >>> check_format('"밥을 먹었다."가옳다. 과거 시제이다.')
    <FormatVerdict.LOOSE_CLAUSE_END: 'loose_clause_end'>
    """
    if not text.strip():
        return FormatVerdict.EMPTY
    parsed = split_answer(text)
    if parsed.has_clause_end:
        return FormatVerdict.OK if parsed.reason else FormatVerdict.NO_REASON
    if READER_CLAUSE_END.search(text):
        return FormatVerdict.LOOSE_CLAUSE_END
    return FormatVerdict.NO_CLAUSE_END
