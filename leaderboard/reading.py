"""Reading the board as its commands do: the ranked runs (``leaderboard``), one run whole (``show``
and the run page of ``serve``), two runs compared (``compare``). Each function takes the board and
one request and returns a typed result; :mod:`leaderboard.api` gathers them with the commands that
write (``export``, ``rescore``, ``plot``).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.text import Text

from malpyeong_eval.display import RichDisplay
from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.metrics.aggregate import SCORING_RULES
from malpyeong_eval.metrics.registry import CONTEXT_METRICS, REASON_METRICS
from malpyeong_eval.report import inert, result_caption, scores_table, visible

from .compare import Comparison, compare_runs, old_rules_items
from .export import run_rows
from .records import GroupRecord, ItemRecord, RunRecord, configuration_rows
from .tables import (
    ALIGNED_MARK,
    OLD_RULES_MARK,
    RESCORE_HINT,
    configuration_table,
    hidden_runs_note,
    leaderboard_table,
    worst_items_table,
)

if TYPE_CHECKING:
    from .store import Leaderboard

__all__ = ["Ranking", "RankingRequest", "RunDetail", "RunDetailRequest", "at_least", "comparison", "ranking", "run_detail"]


def at_least(flag: str, value: int | None, low: int) -> None:
    """Refuse ``value`` below ``low``, in the command line's own words for ``flag``."""
    if value is not None and value < low:
        raise MalpyeongError(f"Invalid value for '{flag}': {value} is not in the range x>={low}.")


# -- leaderboard ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankingRequest:
    """``leaderboard``'s filters: runs on ``dataset``, of ``model`` (base model, checkpoint, or in the
    name), with ``tag``; the best ``top``; ``all_rules``: runs scored under the old rules too."""

    dataset: str | None = None
    model: str | None = None
    tag: str | None = None
    top: int | None = None
    all_rules: bool = False

    def __post_init__(self) -> None:
        at_least("--top", self.top, 1)


@dataclass
class Ranking(RichDisplay):
    """The ranked runs (the store's order: :meth:`~leaderboard.store.Leaderboard.runs`), how many runs
    scored under the old rules the ranking leaves out (``hidden``), and the database (``where``)."""

    runs: list[RunRecord]
    hidden: int
    where: str

    def to_json(self) -> list[dict[str, Any]]:
        """``leaderboard --json``: the leaderboard's columns of each run, ranked."""
        return run_rows(self.runs)

    @property
    def hidden_note(self) -> str | None:
        """The line saying that runs are hidden and how to see them (``None``: none is)."""
        return hidden_runs_note(self.hidden) if self.hidden else None

    def __rich__(self) -> RenderableType:
        table, note = leaderboard_table(self.runs, title=inert(f"malpyeong-eval leaderboard ({self.where})")), self.hidden_note
        return Group(table, Text(note)) if note else table


def ranking(board: Leaderboard, request: RankingRequest = RankingRequest()) -> Ranking:
    """``malpyeong-eval leaderboard``: the runs that match, best first."""
    runs = board.runs(dataset=request.dataset, model=request.model, tag=request.tag, top=request.top,
                      all_rules=request.all_rules)
    hidden = 0 if request.all_rules else board.old_rules_count(dataset=request.dataset, model=request.model, tag=request.tag)
    return Ranking(runs, hidden, board.where)


# -- show -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunDetailRequest:
    """``show``'s run (name or ``#id``) and how many of its worst items to show."""

    run: str
    worst: int = 5

    def __post_init__(self) -> None:
        at_least("--worst", self.worst, 0)


def _badness(item: ItemRecord) -> tuple[float, str]:
    """An item's place among the worst: its Final where all four metrics exist, else its ROUGE-1."""
    final = item.final
    return (final if final is not None else item.score("rouge1") or 0.0, item.item_id)


@dataclass
class RunDetail(RichDisplay):
    """One run: its record, its metrics by question type, every item in its original order, its
    configuration and provenance rows, and (``worst``) how many of its worst items ``show`` lists."""

    run: RunRecord
    groups: list[GroupRecord]
    items: list[ItemRecord]
    configuration: list[tuple[str, str]]
    worst: int = 5

    @property
    def worst_items(self) -> list[ItemRecord]:
        """The ``worst`` items by their Final (ROUGE-1 without one), lowest first; under the old rules
        every item counts in the reason metrics."""
        scored = old_rules_items(self.items) if self.run.scoring_rules is None else self.items
        ranked = sorted(zip(self.items, scored, strict=True), key=lambda pair: _badness(pair[1]))
        return [item for item, _ in ranked[: self.worst]]

    def to_json(self) -> dict[str, Any]:
        """``show --json``: the run, its metrics by type, its worst items."""
        return {"run": self.run.to_json(), "by_type": [group.to_json() for group in self.groups],
                "worst_items": [item.to_json() for item in self.worst_items]}

    def _scores(self) -> RenderableType:
        run = self.run
        reason_metrics = any(run.metrics.get(key) is not None for key in REASON_METRICS)
        selection = run.n_selection if run.metrics.get(CONTEXT_METRICS[0]) is not None else None
        caption = result_caption(run.n, run.n_counted, run.aligned_by_id, reason_metrics, selection)
        title = f"run {run.name}" + ALIGNED_MARK * run.aligned_by_id + ("" if run.current_rules else OLD_RULES_MARK)
        return scores_table(run.metrics, run.n, {group.question_type: group.to_json() for group in self.groups},
                            title=inert(title), n_counted=run.n_counted, caption=inert(caption) or None)

    def __rich__(self) -> RenderableType:
        run, parts = self.run, [self._scores()]
        if not run.current_rules:
            parts.append(Text(f"scored under {run.scoring_rules or 'the old (pre-2025) rules'}, not {SCORING_RULES}: not "
                              f"comparable with current runs; rescore it: {RESCORE_HINT} {visible(shlex.quote(run.name))}"))
        if self.worst:
            cited = any(item.citation is not None or item.gold_article is not None for item in self.items)
            parts.append(worst_items_table(self.worst_items, cited))
        parts.append(configuration_table(self.configuration))
        return Group(*parts)


def run_detail(board: Leaderboard, request: RunDetailRequest | str) -> RunDetail:
    """``malpyeong-eval show`` (and the run page of ``serve``): one run read whole."""
    request = RunDetailRequest(request) if isinstance(request, str) else request
    run = board.get(request.run)
    return RunDetail(run, board.groups(run), board.items(run), configuration_rows(run), request.worst)


# -- compare --------------------------------------------------------------------------------------------------


def comparison(board: Leaderboard, run_a: str, run_b: str) -> Comparison:
    """``malpyeong-eval compare A B``: B against A on the same items (paired bootstrap intervals)."""
    a, b = board.get(run_a), board.get(run_b)
    return compare_runs(a, board.items(a), b, board.items(b))
