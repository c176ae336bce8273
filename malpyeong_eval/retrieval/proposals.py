"""Error-span proposals for 교정형 questions: Kiwi's correction of the sentence as an ``{original/proposal}``.

A 교정형 question carries no alternatives: the wrong spot must be found. Kiwi (``kiwipiepy``, the
``kiwi`` extra: ``pip install 'malpyeong-eval[kiwi]'``; its models ship in ``kiwipiepy-model``,
offline) analyses the sentence with its typo correction (``typos="basic"``) and proposes a
corrected form of each word it changed (``않 했다`` → ``안 했다``, ``몇일`` → ``며칠``). The
question is rewritten with each changed word as an ``{original/proposal}`` group, so every part
reads the proposal as it reads a 선택형's alternatives: BM25 matches both sentences, the examples
and category parts see their difference (:mod:`.question`). Kiwi's spacing model is not used: it
also splits misspelt words, which misleads the category evidence. A 선택형 question, and a
sentence Kiwi leaves as it is, is unchanged. The question type a query had stays with it.

Without the extra, ``--proposals kiwi`` is one line naming it, and nothing else changes.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from ..errors import MalpyeongError
from .base import Hit, Query, Retriever
from .examples import Example
from .question import read_question

__all__ = ["INSTALL_HINT", "KiwiProposer", "Proposer", "ProposingRetriever", "with_proposal"]

INSTALL_HINT = "--proposals kiwi needs kiwipiepy: pip install 'malpyeong-eval[kiwi]'"


class Proposer(Protocol):
    """Proposes a corrected sentence; rewrites queries and examples with it."""

    name: str

    def correct(self, sentence: str) -> str: ...

    def query(self, query: Query) -> Query: ...

    def example(self, example: Example) -> Example: ...


def _merged(sentence: str, corrected: str) -> str:
    """``sentence`` with each run of words ``corrected`` changes written as ``{original/proposal}``.

    >>> _merged("숙제를 않 했다.", "숙제를 안 했다.")
    '숙제를 {않/안} 했다.'
    """
    before, after = sentence.split(" "), corrected.split(" ")
    words: list[str] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes():
        if tag == "equal":
            words += before[i1:i2]
        else:
            words.append("{" + " ".join(before[i1:i2]) + "/" + " ".join(after[j1:j2]) + "}")
    return " ".join(words)


def with_proposal(question: str, proposer: Proposer) -> str:
    """``question`` with its sentence's proposed corrections as alternatives (unchanged: a question
    with alternatives already, one whose sentence holds ``{``, ``}`` or ``/``, or nothing proposed)."""
    view = read_question(question)
    if view.groups or any(char in view.sentence for char in "{}/"):
        return question
    corrected = proposer.correct(view.sentence)
    if corrected == view.sentence or not corrected.strip():
        return question
    start = question.find(view.sentence)
    if start < 0:
        return question
    return question[:start] + _merged(view.sentence, corrected) + question[start + len(view.sentence):]


class KiwiProposer:
    """Kiwi's typo correction, word by word (see the module docstring); each sentence analysed once."""

    name = "kiwi"

    def __init__(self) -> None:
        try:
            from kiwipiepy import Kiwi
        except ImportError:
            raise MalpyeongError(INSTALL_HINT) from None
        self._kiwi = Kiwi()
        self._corrected: dict[str, str] = {}
        self._questions: dict[str, str] = {}

    def correct(self, sentence: str) -> str:
        """``sentence`` with each word Kiwi corrects (a token of positive typo cost) replaced by its correction."""
        if sentence not in self._corrected:
            self._corrected[sentence] = self._correct(sentence)
        return self._corrected[sentence]

    def _correct(self, sentence: str) -> str:
        tokens = self._kiwi.tokenize(sentence, typos="basic")
        words: dict[int, list] = {}
        for token in tokens:
            words.setdefault(token.word_position, []).append(token)
        pieces, end = [], 0
        for word in words.values():
            if not any(token.typo_cost > 0 for token in word):
                continue
            start, stop = min(token.start for token in word), max(token.end for token in word)
            pieces += [sentence[end:start], self._kiwi.join([(token.form, token.tag) for token in word])]
            end = stop
        return "".join(pieces) + sentence[end:] if pieces else sentence

    def _question(self, question: str) -> str:
        if question not in self._questions:
            self._questions[question] = with_proposal(question, self)
        return self._questions[question]

    def query(self, query: Query) -> Query:
        """``query`` with the proposal; its question type kept (read from the question as it was)."""
        return replace(query, question=self._question(query.question),
                       question_type=_type_of(query.question, query.question_type))

    def example(self, example: Example) -> Example:
        """``example`` with the proposal, its question type kept."""
        return replace(example, question=self._question(example.question),
                       question_type=_type_of(example.question, example.question_type))


def _type_of(question: str, given: str | None) -> str:
    """``given``, else the type ``question`` is written as: 선택형 with ``{A/B}``, else 교정형."""
    return given or ("선택형" if read_question(question).groups else "교정형")


class ProposingRetriever:
    """``inner`` asked with the proposer's rewriting of each query; named ``{inner}+{proposer}``."""

    def __init__(self, inner: Retriever, proposer: Proposer) -> None:
        self.inner = inner
        self.proposer = proposer
        self.name = f"{inner.name}+{proposer.name}"

    def search(self, queries: Sequence[Query], k: int) -> list[list[Hit]]:
        return self.inner.search([self.proposer.query(query) for query in queries], k)
