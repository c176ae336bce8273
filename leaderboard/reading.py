"""Reading the board as its commands do: the ranked runs (``leaderboard``), one run whole (``show``
and the run page of ``serve``), two runs compared (``compare``). Each function takes the board and
one request and returns a typed result; :mod:`leaderboard.api` gathers them with the commands that
write (``export``, ``rescore``, ``plot``).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from malpyeong_eval.display import RichDisplay
from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.metrics.aggregate import SCORING_RULES
from malpyeong_eval.metrics.registry import CONTEXT_METRICS, REASON_METRICS
from malpyeong_eval.norms import NormBreakdown, check_norm_by
from malpyeong_eval.secrets import mask_url
from malpyeong_eval.report import inert, result_caption, scores_table, visible
from malpyeong_eval.table_width import NAME_ROOM, shorten

from .compare import Comparison, compare_runs, old_rules_items
from .export import run_rows
from .norms import norm_matrix, norm_table, run_norms
from .ranking_rule import Standing, by_dataset, item_standing
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

__all__ = ["Ranking", "RankingRequest", "RunDetail", "RunDetailRequest", "at_least", "comparison", "ranking", "ranking_at", "run_detail"]


def at_least(flag: str, value: int | None, low: int) -> None:
    """Refuse ``value`` below ``low``, in the command line's own words for ``flag``."""
    if value is not None and value < low:
        raise MalpyeongError(f"Invalid value for '{flag}': {value} is not in the range x>={low}.")


# -- leaderboard ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RankingRequest:
    """``leaderboard``'s filters: runs on ``dataset``, of ``model`` (base model, checkpoint, or in the
    name), with ``tag``; the best ``top``; ``all_rules``: runs scored under the old rules too; ``by``:
    each run's scores by norm ``category`` or ``rule`` too (``None``: not)."""

    dataset: str | None = None
    model: str | None = None
    tag: str | None = None
    top: int | None = None
    all_rules: bool = False
    by: str | None = None

    def __post_init__(self) -> None:
        at_least("--top", self.top, 1)
        if self.by is not None:
            check_norm_by(self.by)


FILL_HINT = "fill it: malpyeong-eval demo, or malpyeong-eval score --sample --record --name NAME"


@dataclass
class Ranking(RichDisplay):
    """The ranked runs (the store's order: :meth:`~leaderboard.store.Leaderboard.runs`, dataset by
    dataset), how many runs scored under the old rules the ranking leaves out (``hidden``), the
    database (``where``), whether filters chose the runs (``filtered``) and, when asked for, each
    run's scores by norm (``by_norm``, by run id)."""

    runs: list[RunRecord]
    hidden: int
    where: str
    filtered: bool = False
    by_norm: dict[int, NormBreakdown] | None = None

    def to_json(self) -> list[dict[str, Any]]:
        """``leaderboard --json``: the leaderboard's columns of each run, ranked within its dataset (with
        ``--by``: and its ``by_norm``)."""
        rows = run_rows(self.runs)
        if self.by_norm is not None:
            for row, run in zip(rows, self.runs, strict=True):
                row["by_norm"] = self.by_norm[run.id].to_json()
        return rows

    @property
    def hidden_note(self) -> str | None:
        """The line saying that runs are hidden and how to see them (``None``: none is)."""
        return hidden_runs_note(self.hidden) if self.hidden else None

    @property
    def empty_note(self) -> str | None:
        """With no run to show: where it looked and how to fill it (``None``: runs are shown)."""
        if self.runs:
            return None
        if self.filtered or self.hidden:
            return f"no run matches in {self.where}"
        return f"no runs recorded in {self.where} yet; {FILL_HINT}"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        groups = by_dataset(self.runs)
        yield Text(visible(f"malpyeong-eval leaderboard ({self.where})"))
        for items, runs in groups:
            yield leaderboard_table(runs, title=inert(str(items)), width=options.max_width)
        if self.by_norm is not None and self.runs:
            yield norm_matrix(self.runs, self.by_norm)
        if len(groups) > 1:
            yield Text(f"{len(groups)} sets of items (dataset and item count), each ranked on its own (--dataset NAME: one dataset)")
        for note in (self.empty_note, self.hidden_note):
            if note:
                yield Text(visible(note))


def ranking(board: Leaderboard, request: RankingRequest = RankingRequest()) -> Ranking:
    """``malpyeong-eval leaderboard``: the runs that match, best first."""
    runs = board.runs(dataset=request.dataset, model=request.model, tag=request.tag, top=request.top,
                      all_rules=request.all_rules)
    hidden = 0 if request.all_rules else board.old_rules_count(dataset=request.dataset, model=request.model, tag=request.tag)
    by_norm = None if request.by is None else {run.id: run_norms(run, board.items(run), request.by) for run in runs}
    return Ranking(runs, hidden, board.where, filtered=any((request.dataset, request.model, request.tag)), by_norm=by_norm)


def ranking_at(db: str | None, request: RankingRequest = RankingRequest()) -> Ranking:
    """``malpyeong-eval leaderboard`` on the database ``db`` names (``--db``, else ``$MALPYEONG_DB``, else the
    per-user default), opened without creating it. The default not made yet is an empty board, which says
    where it looked and how to fill it (nothing is created); a ``db`` given that does not exist is an error."""
    from .db import default_not_made, resolve_url
    from .store import Leaderboard

    if default_not_made(db):
        return Ranking([], 0, mask_url(resolve_url(None)), filtered=any((request.dataset, request.model, request.tag)))
    return ranking(Leaderboard(db, create=False), request)


# -- show -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunDetailRequest:
    """``show``'s run (name or ``#id``), how many of its worst items to show, and what its scores by
    norm group by (``category``, or ``rule``)."""

    run: str
    worst: int = 5
    by: str = "category"

    def __post_init__(self) -> None:
        at_least("--worst", self.worst, 0)
        check_norm_by(self.by)


def _badness(item: ItemRecord) -> tuple[Standing, str]:
    """An item's place among the worst: its standing under the ranking rule (lowest first)."""
    return (item_standing(item.scores, item.counted), item.item_id)


@dataclass
class RunDetail(RichDisplay):
    """One run: its record, its metrics by question type, every item in its original order, its
    configuration and provenance rows, (``worst``) how many of its worst items ``show`` lists, and its
    scores by norm (``by_norm``: :func:`~malpyeong_eval.norms.norm_breakdown` of its items)."""

    run: RunRecord
    groups: list[GroupRecord]
    items: list[ItemRecord]
    configuration: list[tuple[str, str]]
    worst: int = 5
    by_norm: NormBreakdown | None = None

    @property
    def worst_items(self) -> list[ItemRecord]:
        """The ``worst`` items by the ranking rule (:func:`~leaderboard.ranking_rule.item_standing`), lowest first; under the old rules
        every item counts in the reason metrics."""
        scored = old_rules_items(self.items) if self.run.scoring_rules is None else self.items
        ranked = sorted(zip(self.items, scored, strict=True), key=lambda pair: _badness(pair[1]))
        return [item for item, _ in ranked[: self.worst]]

    def to_json(self) -> dict[str, Any]:
        """``show --json``: the run, its metrics by type, its worst items, its scores by norm."""
        return {"run": self.run.to_json(), "by_type": [group.to_json() for group in self.groups],
                "worst_items": [item.to_json() for item in self.worst_items],
                "by_norm": self.by_norm.to_json() if self.by_norm is not None else None}

    def _scores(self, console: Console, options: ConsoleOptions) -> Table:
        """The run's scores within the width, titled ``run NAME`` (the name shortened to the table's width)."""
        run = self.run
        reason_metrics = any(run.metrics.get(key) is not None for key in REASON_METRICS)
        selection = run.n_selection if run.metrics.get(CONTEXT_METRICS[0]) is not None else None
        caption = result_caption(run.n, run.n_counted, run.aligned_by_id, reason_metrics, selection)
        table = scores_table(run.metrics, run.n, {group.question_type: group.to_json() for group in self.groups},
                             title="", n_counted=run.n_counted, caption=inert(caption) or None, width=options.max_width)
        marks = ALIGNED_MARK * run.aligned_by_id + ("" if run.current_rules else OLD_RULES_MARK)
        room = max(Measurement.get(console, options, table).maximum, NAME_ROOM) - len("run ") - len(marks)
        table.title = inert(f"run {shorten(visible(run.name), room)}{marks}")
        return table

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        run, parts = self.run, list[RenderableType]([self._scores(console, options)])
        if self.by_norm is not None:
            parts.append(norm_table(run, self.by_norm) if self.by_norm.groups else
                         Text(f"by norm: none of the {run.n} items carries a rule (output.article); "
                              f"malpyeong-eval label writes rules into a dev set"))
        if not run.current_rules:
            parts.append(Text(f"scored under {run.scoring_rules or 'the old (pre-2025) rules'}, not {SCORING_RULES}: not "
                              f"comparable with current runs; rescore it: {RESCORE_HINT} {visible(shlex.quote(run.name))}"))
        if self.worst:
            cited = any(item.choice is not None for item in self.items)
            parts.append(worst_items_table(self.worst_items, cited))
        parts.append(configuration_table(self.configuration))
        yield from parts


def run_detail(board: Leaderboard, request: RunDetailRequest | str) -> RunDetail:
    """``malpyeong-eval show`` (and the run page of ``serve``): one run read whole."""
    request = RunDetailRequest(request) if isinstance(request, str) else request
    run = board.get(request.run)
    items = board.items(run)
    return RunDetail(run, board.groups(run), items, configuration_rows(run), request.worst, run_norms(run, items, request.by))


# -- compare --------------------------------------------------------------------------------------------------


def comparison(board: Leaderboard, run_a: str, run_b: str, by: str = "category") -> Comparison:
    """``malpyeong-eval compare A B``: B against A on the same items (paired bootstrap intervals),
    overall and by norm ``by`` category or rule."""
    check_norm_by(by)
    a, b = board.get(run_a), board.get(run_b)
    return compare_runs(a, board.items(a), b, board.items(b), by=by)
