"""A contest question read the way the task writes it: the quoted sentence, its ``{A/B}`` alternatives,
and where the alternatives differ.

A question is an instruction around a quoted sentence (``"우동이 {불을/불} 것 같아 걱정이다." 가운데
올바른 것을 선택하고, ...`` for 선택형; ``다음 문장에서 ... 고치고, ...\\n"..."`` for 교정형). The
instruction is the same for every question of a type, so it only adds noise to a query; the rule
lives in the sentence, and for 선택형 in the difference between its alternatives: a space (띄어쓰기),
a punctuation mark (문장 부호), a jamo of a loanword's spelling (외래어 표기법), a stem's 받침.

:func:`read_question` gives

- ``sentence``: the quoted sentence, from the first double quote (straight or curly) to the last,
  or the whole question when nothing is quoted;
- ``groups``: the options of each ``{A/B[/C…]}`` in the sentence;
- ``variants``: the sentence with each group's *i*-th option chosen, one per option;
- ``difference``: tokens naming how the options of each group differ — ``Δspace``, with the
  syllables around the space (``Δspace>지``, ``Δspace<본``); ``Δpunct:,`` with the mark's Korean
  name (``쉼표``); for changed syllables their changed jamo, initial, medial or final, as an
  unordered pair (``Δ중:ㅔ|ㅣ``, ``Δ종:∅|ㅅ``); text added in one option only (``Δ+들``); and the
  part of speech of the morphemes the difference falls in (``pos:NNB``, from Mecab);
- :meth:`QuestionView.query_text`: the text a lexical retriever matches — the variants and the
  Korean names of the marks that differ, never the instruction.

Nothing here reads an answer: a query is built from the question only.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

__all__ = ["PUNCTUATION_NAMES", "QuestionView", "read_question"]

_QUOTES = "\"“”"
_GROUP = re.compile(r"\{([^{}]*/[^{}]*)\}")

# the marks of the 문장 부호 rules, by the names the rules use
PUNCTUATION_NAMES: dict[str, str] = {
    ".": "마침표", "?": "물음표", "!": "느낌표", ",": "쉼표", "·": "가운뎃점", ":": "쌍점", "/": "빗금",
    "\"": "큰따옴표", "“": "큰따옴표", "”": "큰따옴표", "'": "작은따옴표", "‘": "작은따옴표", "’": "작은따옴표",
    "(": "소괄호", ")": "소괄호", "{": "중괄호", "}": "중괄호", "[": "대괄호", "]": "대괄호",
    "「": "홑낫표", "」": "홑낫표", "『": "겹낫표", "』": "겹낫표", "〈": "홑화살괄호", "〉": "홑화살괄호",
    "<": "홑화살괄호", ">": "홑화살괄호", "《": "겹화살괄호", "》": "겹화살괄호", "—": "줄표", "―": "줄표",
    "-": "붙임표", "~": "물결표", "∼": "물결표", "…": "줄임표", "⋯": "줄임표", "_": "밑줄", "○": "숨김표",
    "×": "숨김표", "□": "빠짐표",
}

_INITIALS = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_MEDIALS = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"
_FINALS = ("∅", *"ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ")


def _jamo(syllable: str) -> tuple[str, str, str] | None:
    code = ord(syllable) - 0xAC00
    if not 0 <= code < 11172:
        return None
    return _INITIALS[code // 588], _MEDIALS[code % 588 // 28], _FINALS[code % 28]


def _pair(a: str, b: str) -> str:
    return "|".join(sorted((a, b)))


def _is_punctuation(char: str) -> bool:
    return unicodedata.category(char).startswith(("P", "S")) or char in PUNCTUATION_NAMES


@dataclass(frozen=True)
class QuestionView:
    """What a retriever reads of a question (see the module docstring)."""

    question: str
    sentence: str
    groups: tuple[tuple[str, ...], ...]
    variants: tuple[str, ...]
    difference: tuple[str, ...]

    def query_text(self) -> str:
        """The variants (or the sentence) and the names of the marks that differ, one text."""
        names = [token for token in self.difference if not token.startswith(("Δ", "pos:"))]
        return " ".join([*(self.variants or (self.sentence,)), *names])


def _sentence(question: str) -> str:
    """From the first double quote to the last (quotes inside the sentence kept), else the whole question."""
    marks = [i for i, char in enumerate(question) if char in _QUOTES]
    if len(marks) < 2:
        return question.strip()
    return question[marks[0] + 1: marks[-1]].strip() or question.strip()


def _variants(sentence: str, groups: list[tuple[str, ...]]) -> tuple[str, ...]:
    if not groups:
        return ()
    width = max(len(group) for group in groups)
    variants = []
    for choice in range(width):
        options = iter(group[min(choice, len(group) - 1)] for group in groups)
        variants.append(_GROUP.sub(lambda _match: next(options), sentence))
    return tuple(variants)


def _spacing_tokens(a: str, b: str) -> list[str]:
    """``a`` and ``b`` differ in spaces only: the syllables on each side of each differing space."""
    spaced, other = (a, b) if a.count(" ") >= b.count(" ") else (b, a)
    tokens = ["Δspace", "띄어쓰기"]
    matcher = difflib.SequenceMatcher(None, spaced, other, autojunk=False)
    for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
        if tag == "delete":
            before, after = spaced[:i1].rstrip()[-1:], spaced[i2:].lstrip()[:1]
            tokens += [f"Δspace<{before}", f"Δspace>{after}"]
    return tokens


def _jamo_tokens(left: str, right: str) -> list[str]:
    """Syllables replaced one for one: their changed jamo (initial, medial, final) as unordered pairs."""
    tokens = []
    for x, y in zip(left, right, strict=True):
        jx, jy = _jamo(x), _jamo(y)
        if jx is not None and jy is not None:
            tokens += [f"Δ{part}:{_pair(p, q)}" for part, p, q in zip("초중종", jx, jy, strict=True) if p != q]
    return tokens


def _mark_tokens(marks: list[str]) -> list[str]:
    """Each differing punctuation mark, and its Korean name where the rules name it."""
    tokens = []
    for mark in marks:
        tokens += [f"Δpunct:{mark}", *([PUNCTUATION_NAMES[mark]] if mark in PUNCTUATION_NAMES else [])]
    return tokens


def _character_tokens(a: str, b: str) -> list[str]:
    tokens: list[str] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        left, right = a[i1:i2], b[j1:j2]
        marks = [char for char in left + right if _is_punctuation(char)]
        tokens += _mark_tokens(marks)
        if tag == "replace" and len(left) == len(right):
            tokens += _jamo_tokens(left, right)
        else:
            added = (left or right).strip()
            if added and not marks:
                tokens.append(f"Δ+{added}")
    return tokens


@lru_cache(maxsize=1)
def _tagger():
    import mecab

    return mecab.MeCab()


def _pos_tokens(variant: str, start: int, end: int) -> list[str]:
    """Parts of speech (Mecab) of the morphemes of ``variant`` that overlap ``[start, end)``."""
    try:
        morphemes = _tagger().parse(variant)
    except Exception:  # noqa: BLE001 - a tagger failure only loses a feature
        return []
    return [f"pos:{m.pos.split('+')[0]}" for m in morphemes if m.span[0] < max(end, start + 1) and m.span[1] > start]


def _group_spans(sentence: str, variants: tuple[str, ...]) -> list[list[tuple[int, int]]]:
    """For each variant, where each group's chosen option lies in it."""
    spans: list[list[tuple[int, int]]] = []
    for choice in range(len(variants)):
        shift, found = 0, []
        for match in _GROUP.finditer(sentence):
            options = [option.strip() for option in match.group(1).split("/")]
            option = options[min(choice, len(options) - 1)]
            start = match.start() + shift
            found.append((start, start + len(option)))
            shift += len(option) - (match.end() - match.start())
        spans.append(found)
    return spans


def _difference(sentence: str, groups: list[tuple[str, ...]], variants: tuple[str, ...]) -> tuple[str, ...]:
    tokens: list[str] = []
    for group in groups:
        for a, b in combinations(group, 2):
            if a == b:
                continue
            if a.replace(" ", "") == b.replace(" ", ""):
                tokens += _spacing_tokens(a, b)
            else:
                tokens += _character_tokens(a, b)
    for variant, spans in zip(variants, _group_spans(sentence, variants), strict=True):
        for start, end in spans:
            tokens += _pos_tokens(variant, start, end)
    return tuple(dict.fromkeys(tokens))


@lru_cache(maxsize=65536)
def read_question(question: str) -> QuestionView:
    """The parts of ``question`` a retriever reads (see the module docstring).

    >>> view = read_question('"나는 그를 {본 지/본지} 오래되었다." 가운데 올바른 것을 선택하고, 그 이유를 설명하세요.')
    >>> view.variants
    ('나는 그를 본 지 오래되었다.', '나는 그를 본지 오래되었다.')
    >>> [t for t in view.difference if t.startswith("Δspace>") or t == "pos:NNB"]
    ['Δspace>지', 'pos:NNB']
    >>> read_question('"{메세지/메시지}를 보냈다."').difference[:1]
    ('Δ중:ㅔ|ㅣ',)
    >>> read_question('"사과{,/} 배를 샀다."').query_text()
    '사과, 배를 샀다. 사과 배를 샀다. 쉼표'
    """
    sentence = _sentence(question)
    groups = [tuple(option.strip() for option in match.group(1).split("/")) for match in _GROUP.finditer(sentence)]
    variants = _variants(sentence, groups)
    return QuestionView(question, sentence, tuple(groups), variants, _difference(sentence, groups, variants))
