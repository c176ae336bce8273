"""Retrieval metrics against gold rule labels: recall@1/3/5/10/20/30 and MRR, overall, by question_type
and by norm category.

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

A label's norm category (:func:`category_of`) is its heading's part before `` - ``
(``한글 맞춤법, 표준어 규정``, ``문장 부호``, ``띄어쓰기``, ``외래어 표기법``). Given each item's gold
category, the report breaks recall down by it and counts how often the first passage retrieved is
of the right category (``top1_category_accuracy``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "CUTOFFS", "RetrievalReport", "RetrievalScores", "category_of", "is_relevant", "normalize_title", "relevance_keys",
    "retrieval_metrics",
]

CUTOFFS = (1, 3, 5, 10, 20, 30)
_SPACE = re.compile(r"\s+")


def normalize_title(text: str) -> str:
    """``<`` and ``>`` removed, whitespace collapsed.

    >>> normalize_title("<한글 맞춤법,  표준어 규정 - 한글 맞춤법 제18항>")
    '한글 맞춤법, 표준어 규정 - 한글 맞춤법 제18항'
    """
    return _SPACE.sub(" ", text.replace("<", "").replace(">", "")).strip()


def category_of(title: str) -> str:
    """The norm category of a heading or a label: its part before the first `` - `` ('' where it has none).

    >>> category_of("<한글 맞춤법, 표준어 규정 - 한글 맞춤법 제18항>")
    '한글 맞춤법, 표준어 규정'
    """
    normal = normalize_title(title)
    return normal.split(" - ", 1)[0] if " - " in normal else ""


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
    """recall@k and MRR overall, by question type and (where the gold categories are given) by norm category."""

    overall: RetrievalScores
    by_type: dict[str, RetrievalScores]
    n_items: int
    n_unlabelled: int
    top_k: int
    cutoffs: tuple[int, ...] = field(default=CUTOFFS)
    by_category: dict[str, RetrievalScores] = field(default_factory=dict)
    top1_category_accuracy: float | None = None

    def to_dict(self) -> dict:
        return {
            "n_items": self.n_items,
            "n_labelled": self.overall.n,
            "n_unlabelled": self.n_unlabelled,
            "top_k": self.top_k,
            "overall": self.overall.to_dict(),
            "by_question_type": {name: scores.to_dict() for name, scores in self.by_type.items()},
            "by_norm_category": {name: scores.to_dict() for name, scores in self.by_category.items()},
            "top1_category_accuracy": self.top1_category_accuracy,
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
    categories: Sequence[str | None] | None = None,
) -> RetrievalReport:
    """recall@k and MRR of each item's retrieved titles (best first) against its label, overall, by type
    and, given each item's gold ``categories``, by norm category.

    >>> report = retrieval_metrics([["<a - 제1항>", "<a - 제2항>"], ["제1항", "제2항"], ["<a - 제2항>"]],
    ...                            ["a - 제2항", "<a - 제1항>", None], ["선택형", "교정형", "선택형"], top_k=2,
    ...                            categories=["a", "a", None])
    >>> report.overall.recall[1], report.overall.mrr, report.n_unlabelled, report.top1_category_accuracy
    (0.5, 0.75, 1, 0.5)
    """
    ranks: list[int | None] = []
    by_type: dict[str, list[int | None]] = {}
    by_category: dict[str, list[int | None]] = {}
    right_category = []
    unlabelled = 0
    for position, (titles, label, question_type) in enumerate(zip(retrieved_titles, labels, question_types, strict=True)):
        if label is None or (not isinstance(label, str) and not label):
            unlabelled += 1
            continue
        rank = _first_relevant_rank(titles, label)
        ranks.append(rank)
        by_type.setdefault(question_type, []).append(rank)
        category = categories[position] if categories is not None else None
        if category:
            by_category.setdefault(category, []).append(rank)
            right_category.append(bool(titles) and category_of(titles[0]) == category)
    return RetrievalReport(
        overall=_scores(ranks, top_k),
        by_type={name: _scores(group, top_k) for name, group in sorted(by_type.items())},
        n_items=len(retrieved_titles),
        n_unlabelled=unlabelled,
        top_k=top_k,
        by_category={name: _scores(group, top_k) for name, group in sorted(by_category.items())},
        top1_category_accuracy=sum(right_category) / len(right_category) if right_category else None,
    )
