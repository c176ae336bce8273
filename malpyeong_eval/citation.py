"""The cited answer: which candidate context a model names before its answer, and whether it is the gold rule.

A prompt that cites (``contest-cite``, see :mod:`.prompts`) numbers the candidate passages of an
item (``[1] <title>`` …) and asks the model to name the one it relies on before its answer, on a
line of its own::

    근거: [2]
    "라면이 붇기 전에 어서 먹어라."가 옳다. …

This module is the one place that reads that line. :func:`split_citation` separates it from the
answer (``clean_output`` keeps only the answer, so the official split, EM and the reason metrics
never see it); :func:`choose` resolves what it names against the item's candidates and judges the
choice against the gold rule (``output.article``) the way retrieval recall does
(:func:`~malpyeong_eval.retrieval.metrics.is_relevant`). The context reward (``rewards``) and
``run``'s per-item record both go through :func:`choose`.

- Citation lines are the leading lines of the text (blank lines skipped) that start with
  ``근거:`` (or ``근거 :``, a full-width colon); the first one counts, every one is stripped.
- ``[N]``, ``N`` or ``[N] <title>`` names the candidate numbered N (1-based, as the prompt shows
  it); a number out of range names none. Anything else is read as a title: the first candidate
  whose title it matches (:func:`is_relevant` with the cited text as the passage title, so the
  rule's full title or the part after its last `` - `` both match).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .retrieval.metrics import is_relevant

CITATION_LABEL = "근거"
_CITATION_LINE = re.compile(r"[ \t]*근거[ \t]*[:：][ \t]*(?P<reference>[^\n]*?)[ \t]*(?:\r?\n|$)")
_BLANK_LINES = re.compile(r"(?:[ \t]*\r?\n)+")
_NUMBER = re.compile(r"^\[?\s*(?P<number>\d{1,6})\s*\]?(?=\s|$|[.,:)\]])")
CANDIDATES_FIELD = "references"  # where ``retrieve`` writes the candidate passages, "{title}\n{text}" each


@dataclass(frozen=True)
class Citation:
    """A generated text split into its answer and what its first citation line names.

    ``reference``: the text after ``근거:`` as written (``"[2]"``, a title), ``None`` without a line.
    """

    answer: str
    reference: str | None


def split_citation(text: str) -> Citation:
    """The text without its leading citation lines, and what the first of them names.

    >>> split_citation('근거: [2]\\n"가"가 옳다. 이유.')
    Citation(answer='"가"가 옳다. 이유.', reference='[2]')
    >>> split_citation('"가"가 옳다. 이유.')
    Citation(answer='"가"가 옳다. 이유.', reference=None)
    """
    position, reference = 0, None
    while True:
        blank = _BLANK_LINES.match(text, position)
        start = blank.end() if blank else position
        line = _CITATION_LINE.match(text, start)
        if line is None or line.end() == start:
            break
        if reference is None:
            reference = line.group("reference")
        position = line.end()
    return Citation(text[position:] if reference is not None else text, reference)


def candidate_titles(passages: Any) -> list[str]:
    """The titles of candidate passages as ``retrieve`` writes them (the first line of each
    ``"{title}\\n{text}"`` string); ``[]`` for anything that is not a list of strings."""
    if not isinstance(passages, list) or not all(isinstance(passage, str) for passage in passages):
        return []
    return [passage.split("\n", 1)[0].strip() for passage in passages]


def item_candidates(extra_inputs: Mapping[str, Any], retrieval: Mapping[str, Any] | None = None) -> list[str]:
    """The candidate titles of an item: its ``retrieval`` record's field (default ``references``)."""
    field = (retrieval or {}).get("field") or CANDIDATES_FIELD
    return candidate_titles(extra_inputs.get(field))


def cited_number(reference: str | None, candidates: Sequence[str]) -> int | None:
    """The 1-based number of the candidate ``reference`` names, or ``None`` (no citation, a number
    out of range, a title that is no candidate's).

    >>> cited_number("[2]", ["<가 제1항>", "<나 제2항>"]), cited_number("3", ["a", "b"]), cited_number("나 제2항", ["<가 제1항>", "<나 제2항>"])
    (2, None, 2)
    """
    if reference is None or not reference.strip():
        return None
    number = _NUMBER.match(reference.strip())
    if number:
        value = int(number.group("number"))
        return value if 1 <= value <= len(candidates) else None
    for index, title in enumerate(candidates, start=1):
        if is_relevant(reference, title):
            return index
    return None


@dataclass(frozen=True)
class Choice:
    """One item's choice of context: the citation as written, the candidate it names (number and
    title, ``None`` when none), and the gold rule it is judged against (``None``: not measured,
    the item has no gold rule or no candidates)."""

    citation: str | None
    number: int | None
    title: str | None
    article: str | None

    @property
    def measured(self) -> bool:
        """Whether the item enters selection accuracy (it has a gold rule and candidates)."""
        return self.article is not None

    @property
    def correct(self) -> bool | None:
        """Whether the named candidate is the gold rule (``None`` when not measured)."""
        if self.article is None:
            return None
        return self.title is not None and is_relevant(self.title, self.article)


def choose(reference: str | None, candidates: Sequence[str], article: str | None) -> Choice:
    """The :class:`Choice` a citation makes among ``candidates`` (titles, in the prompt's order)
    for an item whose gold rule is ``article``.

    >>> choose("[1]", ["<한글 맞춤법 제18항>", "<한글 맞춤법 제19항>"], "한글 맞춤법 제18항").correct
    True
    """
    number = cited_number(reference, candidates)
    measured = isinstance(article, str) and bool(article.strip()) and bool(candidates)
    return Choice(reference, number, None if number is None else candidates[number - 1],
                  article if measured else None)
