"""Retrieval metrics against gold rule labels: recall@1/3/5/10 and MRR, overall and by question_type.

A label is the rule an item is about, as teams write it (``output.article``, or a ``--labels``
file of id → article), e.g. ``<한글 맞춤법, 표준어 규정 - 한글 맞춤법 제18항>`` or just
``한글 맞춤법 제18항``; a list of such labels (a ``--labels`` entry) means any of them. A retrieved passage is
relevant when its title, with ``<`` and ``>`` removed, equals the label treated the same way, or
equals the label's part after its last `` - ``, whitespace ignored in the comparison (a PDF's
``제 18 항`` is ``제18항``).

recall@k: the share of labelled items with a relevant passage among their first k retrieved
(``None`` when fewer than k were retrieved: it cannot be told). MRR: the mean over labelled
items of 1 / the rank of the first relevant passage retrieved (0 when none is). Items without a
label are not counted; ``n_unlabelled`` says how many.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["CUTOFFS", "RetrievalScores", "is_relevant", "normalize_title", "relevance_keys", "retrieval_metrics"]

CUTOFFS = (1, 3, 5, 10)
_SPACE = re.compile(r"\s+")


def normalize_title(text: str) -> str:
    """``<`` and ``>`` removed, whitespace collapsed.

    >>> normalize_title("<한글 맞춤법,  표준어 규정 - 한글 맞춤법 제18항>")
    '한글 맞춤법, 표준어 규정 - 한글 맞춤법 제18항'
    """
    return _SPACE.sub(" ", text.replace("<", "").replace(">", "")).strip()


def relevance_keys(label: str) -> tuple[str, str]:
    """What a label is compared by: its whole normalized text and its part after the last `` - ``, spaces removed.

    >>> relevance_keys("<한글 맞춤법, 표준어 규정 - 한글 맞춤법 제 18 항>")
    ('한글맞춤법,표준어규정-한글맞춤법제18항', '한글맞춤법제18항')
    """
    normal = normalize_title(label)
    return _SPACE.sub("", normal), _SPACE.sub("", normal.rsplit(" - ", 1)[-1])


def is_relevant(title: str, label: str | Sequence[str]) -> bool:
    """Whether a passage titled ``title`` is the rule ``label`` names (or one of them, for a list).

    >>> is_relevant("<한글 맞춤법, 표준어 규정 - 한글 맞춤법 제18항>", "한글 맞춤법, 표준어 규정 - 한글 맞춤법 제18항")
    True
    >>> is_relevant("한글 맞춤법 제18항", "<한글 맞춤법, 표준어 규정 - 한글 맞춤법 제18항>")
    True
    >>> is_relevant("<한글 맞춤법, 표준어 규정 - 한글 맞춤법 제18항>", "한글 맞춤법 제18항")
    False
    """
    if not isinstance(label, str):
        return any(is_relevant(title, one) for one in label)
    key = relevance_keys(title)[0]
    return bool(key) and key in relevance_keys(label)


@dataclass
class RetrievalScores:
    """recall@k (k in :data:`CUTOFFS`) and MRR over ``n`` labelled items."""

    n: int
    recall: dict[int, float | None]
    mrr: float | None

    def to_dict(self) -> dict:
        return {"n": self.n, **{f"recall@{k}": value for k, value in self.recall.items()}, "mrr": self.mrr}


@dataclass
class RetrievalReport:
    overall: RetrievalScores
    by_type: dict[str, RetrievalScores]
    n_items: int
    n_unlabelled: int
    top_k: int
    cutoffs: tuple[int, ...] = field(default=CUTOFFS)

    def to_dict(self) -> dict:
        return {
            "n_items": self.n_items,
            "n_labelled": self.overall.n,
            "n_unlabelled": self.n_unlabelled,
            "top_k": self.top_k,
            "overall": self.overall.to_dict(),
            "by_question_type": {name: scores.to_dict() for name, scores in self.by_type.items()},
        }


def _first_relevant_rank(titles: Sequence[str], label) -> int | None:
    for rank, title in enumerate(titles, start=1):
        if is_relevant(title, label):
            return rank
    return None


def _scores(ranks: list[int | None], top_k: int) -> RetrievalScores:
    n = len(ranks)
    recall = {
        k: (sum(1 for rank in ranks if rank is not None and rank <= k) / n if n and k <= top_k else None)
        for k in CUTOFFS
    }
    mrr = sum(1 / rank for rank in ranks if rank is not None) / n if n else None
    return RetrievalScores(n, recall, mrr)


def retrieval_metrics(
    retrieved_titles: Sequence[Sequence[str]],
    labels: Sequence[str | Sequence[str] | None],
    question_types: Iterable[str],
    top_k: int,
) -> RetrievalReport:
    """recall@k and MRR of each item's retrieved titles (best first) against its label, overall and by type.

    >>> report = retrieval_metrics([["<a - 제1항>", "<a - 제2항>"], ["제1항", "제2항"], ["<a - 제2항>"]],
    ...                            ["a - 제2항", "<a - 제1항>", None], ["선택형", "교정형", "선택형"], top_k=2)
    >>> report.overall.recall[1], report.overall.mrr, report.n_unlabelled
    (0.5, 0.75, 1)
    """
    ranks: list[int | None] = []
    by_type: dict[str, list[int | None]] = {}
    unlabelled = 0
    for titles, label, question_type in zip(retrieved_titles, labels, question_types, strict=True):
        if label is None or (not isinstance(label, str) and not label):
            unlabelled += 1
            continue
        rank = _first_relevant_rank(titles, label)
        ranks.append(rank)
        by_type.setdefault(question_type, []).append(rank)
    return RetrievalReport(
        overall=_scores(ranks, top_k),
        by_type={name: _scores(group, top_k) for name, group in sorted(by_type.items())},
        n_items=len(retrieved_titles),
        n_unlabelled=unlabelled,
        top_k=top_k,
    )
