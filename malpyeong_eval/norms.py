"""Scores by norm: a run's items grouped by the rule each is about, scored the organizers' way per group.

An item's rule is its data's ``output.article`` (a team's labels, or ``malpyeong-eval label``'s for a
dev set without them), a heading like ``<한글 맞춤법, 표준어 규정 - 한글 맞춤법 제57항>``. Items are
grouped by its **category**, the heading's part before `` - `` (``한글 맞춤법, 표준어 규정``), or on
request by the whole **rule** (``한글 맞춤법, 표준어 규정 - 한글 맞춤법 제57항``), brackets and extra
spaces removed (:func:`~malpyeong_eval.retrieval.metrics.normalize_title`). Each group gets the
contest's table (:func:`~malpyeong_eval.metrics.aggregate.summarize`: EM over its items, the reason
metrics over its counted items) and its counts. Items without a rule are counted apart, never
guessed into a group.

:func:`norm_breakdown` is the one implementation: ``show``, ``compare``, the leaderboard's JSON,
the exports and ``serve`` all call it (or :func:`group_by_norm`, for paired groups) on item rows.

>>> norm_category("<한글 맞춤법, 표준어 규정 - 한글 맞춤법 제57항>")
'한글 맞춤법, 표준어 규정'
>>> rows = [{"gold_article": "<띄어쓰기 - 한글 맞춤법 제42항>", "exact_match": 1.0, "counted": False},
...         {"gold_article": "<띄어쓰기 - 한글 맞춤법 제43항>", "exact_match": 0.0, "counted": False},
...         {"gold_article": None, "exact_match": 1.0, "counted": False}]
>>> breakdown = norm_breakdown(rows)
>>> [(group.norm, group.n, group.metrics["exact_match"]) for group in breakdown.groups]
[('띄어쓰기', 2, 0.5)]
>>> breakdown.without_rule.n
1
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import MalpyeongError
from .metrics.aggregate import summarize
from .retrieval.metrics import category_of, normalize_title

__all__ = ["NORM_BY", "NO_RULE", "NormBreakdown", "NormGroup", "check_norm_by", "group_by_norm", "norm_breakdown", "norm_category",
           "norm_key", "norm_rule"]

NORM_BY = ("category", "rule")  # what --by groups items by
NO_RULE = "(no rule)"  # how the group of the items without a rule is named on a screen
BY_FLAG = "--by"
ARTICLE = "gold_article"  # the item rows' field holding the item's rule
Row = TypeVar("Row")


def check_norm_by(by: str) -> str:
    """``by`` when it is one of :data:`NORM_BY`, else a one-line refusal naming ``--by``."""
    if by not in NORM_BY:
        raise MalpyeongError(f"unknown {BY_FLAG} {by!r}; choose from {', '.join(NORM_BY)}")
    return by


def norm_rule(article: str | None) -> str | None:
    """The rule an item's ``output.article`` names, normalized; ``None`` for no article (or a blank one)."""
    rule = normalize_title(article) if isinstance(article, str) else ""
    return rule or None


def norm_category(article: str | None) -> str | None:
    """The rule's category: the part before the first `` - `` (:func:`~malpyeong_eval.retrieval.metrics.category_of`);
    a rule without one is its own category."""
    rule = norm_rule(article)
    return None if rule is None else category_of(rule) or rule


def norm_key(article: str | None, by: str = "category") -> str | None:
    """The group an item with rule ``article`` falls in, by ``category`` or ``rule``; ``None``: no rule."""
    return norm_category(article) if check_norm_by(by) == "category" else norm_rule(article)


def group_by_norm(rows: Iterable[Row], article: Callable[[Row], str | None], by: str = "category"
                  ) -> tuple[dict[str, list[Row]], list[Row]]:
    """``rows`` by their group (groups in name order, rows in their order) and the rows without a rule."""
    check_norm_by(by)
    groups: dict[str, list[Row]] = {}
    without: list[Row] = []
    for row in rows:
        key = norm_key(article(row), by)
        if key is None:
            without.append(row)
        else:
            groups.setdefault(key, []).append(row)
    return dict(sorted(groups.items())), without


@dataclass(frozen=True)
class NormGroup:
    """One group's table: its name (``None``: the items without a rule), its items, the counted ones
    (both reasons non-empty) and the contest's metrics over them."""

    norm: str | None
    n: int
    n_counted: int
    metrics: dict[str, float | None]

    @classmethod
    def of(cls, norm: str | None, rows: Sequence[Mapping[str, Any]]) -> NormGroup:
        return cls(norm, len(rows), sum(bool(row.get("counted")) for row in rows), summarize(rows))

    def to_json(self) -> dict[str, Any]:
        """``norm``, ``n``, ``n_counted`` and the metrics, flat (as ``show --json``'s ``by_type`` rows)."""
        return {"norm": self.norm, "n": self.n, "n_counted": self.n_counted, **self.metrics}


@dataclass(frozen=True)
class NormBreakdown:
    """A run's scores by norm ``by`` category or rule: one :class:`NormGroup` per group (name order),
    and the items without a rule apart (``without_rule``; ``None`` when every item has one)."""

    by: str
    groups: tuple[NormGroup, ...]
    without_rule: NormGroup | None

    @property
    def note(self) -> str | None:
        """The line saying how many items carry no rule and where rules come from (``None``: all do)."""
        if self.without_rule is None:
            return None
        items = "item carries" if self.without_rule.n == 1 else "items carry"
        return (f"{self.without_rule.n} {items} no rule (output.article): counted apart, in no {self.by}; "
                f"malpyeong-eval label writes rules into a dev set")

    def to_json(self) -> dict[str, Any]:
        """``{"by", "groups": [...], "without_rule": {...} | null}``."""
        return {"by": self.by, "groups": [group.to_json() for group in self.groups],
                "without_rule": self.without_rule.to_json() if self.without_rule else None}


def norm_breakdown(rows: Iterable[Mapping[str, Any]], by: str = "category") -> NormBreakdown:
    """The scores of item rows (each with ``gold_article``, ``counted`` and its metric scores: an
    :class:`~malpyeong_eval.evaluation.ItemScore` as a dict, a leaderboard item's ``to_json()``) by norm."""
    groups, without = group_by_norm(rows, lambda row: row.get(ARTICLE), by)
    return NormBreakdown(by, tuple(NormGroup.of(name, members) for name, members in groups.items()),
                         NormGroup.of(None, without) if without else None)
