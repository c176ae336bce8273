"""Splitting an answer into its answer clause and its reason (SCORING.md §2).

The organizers do not publish their split; participants split the same way:
the answer clause runs from the start to the end of the first match of
``[이가]\\s*옳다``; a ``.`` directly after it belongs to neither part; the reason
is the rest, stripped. Without a match the clause is the whole text and the
reason is empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

ANSWER_END = re.compile(r"[이가]\s*옳다")
_WHITESPACE = re.compile(r"\s+")
_CURLY_DOUBLE = str.maketrans({"“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "＂": '"'})
_QUOTED = re.compile(r'"([^"]*)"')
_SPACE_AROUND_QUOTE = re.compile(r'\s*"\s*')
# The official shape: "문장"가 옳다. 이유   (alternatives joined by 혹은/또는)
_QUOTE = r'"[^"\n]+"'
_OFFICIAL_CLAUSE = re.compile(rf"{_QUOTE}(?:\s*(?:혹은|또는)\s*{_QUOTE})*\s*[이가]\s*옳다")


@dataclass(frozen=True)
class ParsedAnswer:
    """An answer split into the part scored by Exact Match and the part scored as text."""

    clause: str
    reason: str
    has_clause_end: bool  # whether ``[이가]\s*옳다`` was found


def split_answer(text: str) -> ParsedAnswer:
    """Split ``text`` into answer clause and reason by the contest rule.

    >>> split_answer('"우동이 불을 것 같아 걱정이다."가 옳다. 어간이 바뀐다.')
    ParsedAnswer(clause='"우동이 불을 것 같아 걱정이다."가 옳다', reason='어간이 바뀐다.', has_clause_end=True)
    >>> split_answer('설명만 있다.').reason
    ''
    """
    match = ANSWER_END.search(text)
    if match is None:
        return ParsedAnswer(clause=text, reason="", has_clause_end=False)
    rest_start = match.end()
    if text[rest_start : rest_start + 1] == ".":
        rest_start += 1
    return ParsedAnswer(clause=text[: match.end()], reason=text[rest_start:].strip(), has_clause_end=True)


def normalize_clause(clause: str) -> str:
    """The default Exact Match normalization: NBSP to space, whitespace runs collapsed, stripped."""
    return _WHITESPACE.sub(" ", clause.replace("\u00a0", " ")).strip()


def normalize_clause_lenient(clause: str) -> str:
    """Normalization for lenient EM: default rule, straight quotes, no spaces around quotes."""
    return _SPACE_AROUND_QUOTE.sub('"', normalize_clause(clause).translate(_CURLY_DOUBLE))


def quoted_sentences(clause: str) -> list[str]:
    """The quoted sentences of a clause, e.g. both alternatives of ``"A" 혹은 "B"가 옳다``."""
    return [normalize_clause(s) for s in _QUOTED.findall(normalize_clause(clause).translate(_CURLY_DOUBLE))]


class FormatVerdict(str, Enum):
    """How closely a text follows ``"{문장}"가 옳다. {이유}``; rewards give partial credit by it."""

    OK = "ok"  # official format with a non-empty reason
    NO_REASON = "no_reason"  # official clause, but nothing after it
    LOOSE_CLAUSE = "loose_clause"  # 가/이 옳다 found, but the clause is not a quoted sentence
    NO_CLAUSE_END = "no_clause_end"  # no 가/이 옳다 at all
    EMPTY = "empty"  # nothing but whitespace


def check_format(text: str) -> FormatVerdict:
    """Judge whether ``text`` is ``"…"가/이 옳다. {non-empty reason}`` (straight quotes, as in gold).

    >>> check_format('"밥을 먹었다."가 옳다. 과거 시제이다.')
    <FormatVerdict.OK: 'ok'>
    >>> check_format('"밥을 먹었다."가 옳다.')
    <FormatVerdict.NO_REASON: 'no_reason'>
    """
    if not text.strip():
        return FormatVerdict.EMPTY
    parsed = split_answer(text)
    if not parsed.has_clause_end:
        return FormatVerdict.NO_CLAUSE_END
    if _OFFICIAL_CLAUSE.fullmatch(normalize_clause(parsed.clause)) is None:
        return FormatVerdict.LOOSE_CLAUSE
    if not parsed.reason:
        return FormatVerdict.NO_REASON
    return FormatVerdict.OK
