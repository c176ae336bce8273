"""The leaderboard from Python: one function per board command, each taking the board and one request,
each returning a typed result whose ``to_json()`` is the command's ``--json`` output and which shows
itself as the command's table in a terminal (``rich.print``) and in a notebook (``_repr_html_``).

>>> from leaderboard import Leaderboard, RankingRequest, ranking
>>> board = Leaderboard("sqlite://")   # in memory
>>> ranking(board, RankingRequest(top=5)).to_json()
[]

===============  ======================  ================  ==============
command          function                request           result
===============  ======================  ================  ==============
``leaderboard``  :func:`ranking`         RankingRequest    Ranking
``show``         :func:`run_detail`      RunDetailRequest  RunDetail
``compare``      :func:`comparison`      (two run names)   Comparison
``export``       :func:`export_board`    ExportRequest     Exported
``rescore``      :func:`rescore_runs`    RescoreRequest    RescoreOutcome
``plot``         :func:`training_curve`  CurveRequest      TrainingCurve
===============  ======================  ================  ==============

The first three read (:mod:`leaderboard.reading`, which ``serve``'s pages read through too); the
others are here. A request checks itself when it is made (a bad value is a
:class:`~malpyeong_eval.errors.MalpyeongError` naming the command's flag); a run is named by its
name or ``#id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from rich.console import Group, RenderableType
from rich.text import Text

from malpyeong_eval.display import RichDisplay
from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.metrics.aggregate import SCORING_RULES
from malpyeong_eval.metrics.options import ScorerOptions
from malpyeong_eval.norms import check_norm_by
from malpyeong_eval.outputs import write_output
from malpyeong_eval.report import inert, visible

from .compare import Comparison
from .export import EXPORT_FORMATS, run_rows
from .reading import Ranking, RankingRequest, RunDetail, RunDetailRequest, comparison, ranking, ranking_at, run_detail
from .records import RunRecord, runs_of_training
from .tables import RESCORE_HINT, rescored_table

if TYPE_CHECKING:
    from .rescore import NothingToRescore, Rescored
    from .store import Leaderboard

__all__ = [
    "Comparison", "CurveRequest", "Exported", "ExportRequest", "Ranking", "RankingRequest", "RescoreOutcome",
    "RescoreProgress", "RescoreRequest", "RunDetail", "RunDetailRequest", "TrainingCurve", "comparison", "default_runs_dirs",
    "export_board", "ranking", "ranking_at", "rescore_runs", "run_detail", "training_curve",
]

DEFAULT_RUNS_DIR = Path("malpyeong-runs")  # where ``run`` keeps its run folders unless told otherwise


def default_runs_dirs(given: Sequence[Path] = ()) -> tuple[Path, ...]:
    """The run folders to read prompts from: those given, else ``./malpyeong-runs`` when it exists."""
    if given:
        return tuple(given)
    return (DEFAULT_RUNS_DIR,) if DEFAULT_RUNS_DIR.is_dir() else ()


# -- export ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRequest:
    """``export``: the leaderboard (``all_rules``: every run), or one ``run``'s items, as ``format``
    (csv, md, html, json; ``site``: serve's pages as static files in the ``output`` folder, whose item
    pages read ``data_files`` and ``runs_dirs`` as serve does); to ``output`` (``None``: the text is returned).
    ``by`` (``category`` or ``rule``): instead, the scores by norm of that run or of every run, one row per
    run and group (``norm`` empty: the items without a rule)."""

    format: str = "csv"
    run: str | None = None
    output: Path | None = None
    all_rules: bool = False
    data_files: tuple[Path, ...] = ()
    runs_dirs: tuple[Path, ...] = ()
    by: str | None = None

    def __post_init__(self) -> None:
        if self.format not in EXPORT_FORMATS:
            raise MalpyeongError(f"unknown --format {self.format!r}; choose from {', '.join(EXPORT_FORMATS)}")
        if self.site and (self.output is None or self.run):
            raise MalpyeongError("--format site writes a folder: give -o DIR (and no --run: every run gets its page)")
        if self.by is not None:
            check_norm_by(self.by)
            if self.site:
                raise MalpyeongError("--by exports a table; the site's run pages show the scores by norm already")

    @property
    def site(self) -> bool:
        """Whether it writes serve's pages (which read the database only: open it ``read_only=True``)."""
        return self.format == "site"


@dataclass
class Exported:
    """What an export made: the ``text`` (a table format), the file or folder it wrote (``written``;
    ``None``: nothing), the pages of a site and the site's pages left out (with why)."""

    text: str | None = None
    written: Path | None = None
    pages: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _write_text(path: Path, text: str, fmt: str) -> None:
    """The export file, whole or not at all (:func:`~malpyeong_eval.outputs.write_output`); a CSV with a
    BOM, for spreadsheet programs."""
    write_output(path, text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")


def export_board(board: Leaderboard, request: ExportRequest) -> Exported:
    """``malpyeong-eval export``: the leaderboard or a run's items as text (written to ``request.output``
    when given), or the static site."""
    if request.site:
        from .serve.site import write_site

        output = cast("Path", request.output)  # checked by the request
        report = write_site(board, output, data_files=request.data_files, runs_dirs=request.runs_dirs)
        return Exported(written=output, pages=report.pages, skipped=report.skipped)
    from .export import render

    if request.by is not None:
        from .norms import norm_rows, run_norms

        runs = [board.get(request.run)] if request.run else board.runs(all_rules=request.all_rules)
        rows = [row for run in runs for row in norm_rows(run, run_norms(run, board.items(run), request.by))]
        title = f"malpyeong-eval {'run ' + request.run if request.run else 'leaderboard'} by norm {request.by}"
    elif request.run:
        rows, title = [item.to_json() for item in board.items(board.get(request.run))], f"malpyeong-eval run {request.run}"
    else:
        rows, title = run_rows(board.runs(all_rules=request.all_rules)), "malpyeong-eval leaderboard"
    text = render(rows, request.format, title)
    if request.output is None:
        return Exported(text=text)
    _write_text(request.output, text, request.format)
    return Exported(text=text, written=request.output)


# -- rescore --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RescoreRequest:
    """``rescore``: the ``runs`` (names or ``#id``; none: every run not scored under the current rules)
    and how the model-based scorers run (the models the runs were scored with)."""

    runs: tuple[str, ...] = ()
    options: ScorerOptions = ScorerOptions()


class RescoreProgress(Protocol):
    """What :func:`rescore_runs` reports as it goes (the command line: progress bars on stderr)."""

    def start(self, total: int) -> None:
        """Called once, with the number of runs to rescore."""
        ...

    def rescoring(self, run: RunRecord) -> AbstractContextManager[None]:
        """Held while ``run`` is rescored (its models load and score inside)."""
        ...


@dataclass
class RescoreOutcome(RichDisplay):
    """The runs chosen, those rescored (before and after), those skipped (with why), and the database."""

    chosen: list[RunRecord]
    where: str
    rescored: list[Rescored] = field(default_factory=list)
    skipped: list[NothingToRescore] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``rescore --json``."""
        return {
            "scoring_rules": SCORING_RULES,
            "rescored": [entry.to_json() for entry in self.rescored],
            "skipped": [{"id": exc.run.id, "name": exc.run.name, "reason": exc.why} for exc in self.skipped],
        }

    def notes(self) -> list[str]:
        """The lines beside the table (stderr): each rescored run's notes, then each run skipped."""
        return [*(visible(f"{entry.after.name}: {note}") for entry in self.rescored for note in entry.notes),
                *(visible(f"skipped: {problem}") for problem in self.skipped)]

    def __rich__(self) -> RenderableType:
        if not self.chosen:
            return Text(f"nothing to rescore: every run in {self.where} is scored under {SCORING_RULES}")
        return rescored_table(self.rescored, inert(f"rescored under {SCORING_RULES} ({self.where})")) if self.rescored else Group()


def runs_to_rescore(board: Leaderboard, request: RescoreRequest) -> list[RunRecord]:
    """The runs named (each once), else every run not scored under the current rules, oldest first."""
    if request.runs:
        return list({record.id: record for record in (board.get(reference) for reference in request.runs)}.values())
    return board.old_rules_runs()


def rescore_runs(board: Leaderboard, request: RescoreRequest = RescoreRequest(), *,
                 progress: RescoreProgress | None = None) -> RescoreOutcome:
    """``malpyeong-eval rescore``: each chosen run recomputed under the current rules, each in one
    transaction. A run named in the request that cannot be rescored is an error; one found by
    default is skipped (and said so)."""
    from .rescore import NothingToRescore, Rescorer

    outcome = RescoreOutcome(runs_to_rescore(board, request), board.where)
    rescorer = Rescorer(board, request.options)
    if progress is not None:
        progress.start(len(outcome.chosen))
    for record in outcome.chosen:
        with progress.rescoring(record) if progress is not None else nullcontext():
            try:
                outcome.rescored.append(rescorer.rescore(record))
            except NothingToRescore as exc:
                if request.runs:  # a run asked for by name must be rescored
                    raise
                outcome.skipped.append(exc)
    return outcome


# -- plot -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurveRequest:
    """``plot``: the runs of one training (by ``tag`` or name ``prefix``, on ``dataset``) and the PNG to write."""

    output: Path = Path("training-curve.png")
    tag: str | None = None
    prefix: str | None = None
    dataset: str | None = None

    def __post_init__(self) -> None:
        if not self.tag and not self.prefix:
            raise MalpyeongError("give --tag or --prefix: the runs of one training (one curve), e.g. --tag train:NAME")


@dataclass
class TrainingCurve(RichDisplay):
    """The runs of one training in step order and the PNG of their metrics against the step."""

    runs: list[RunRecord]
    path: Path

    def to_json(self) -> dict[str, Any]:
        """``plot --json``: the PNG and each checkpoint's step and metrics."""
        return {"plot": str(self.path),
                "runs": [{"id": run.id, "name": run.name, "step": run.step, **run.metrics} for run in self.runs]}

    def __rich__(self) -> RenderableType:
        from .plot import CURVE_METRICS, sparkline

        lines = []
        for key, label in CURVE_METRICS:
            values = [run.metrics.get(key) for run in self.runs]
            if all(value is not None for value in values):
                lines.append(Text(f"{label:>9} {sparkline(cast('list[float]', values))}  {values[0]:.4f} → {values[-1]:.4f}"))
        lines.append(Text(f"steps {self.runs[0].step} … {self.runs[-1].step} ({len(self.runs)} checkpoints); plot: {self.path}"))
        return Group(*lines)


def training_curve(board: Leaderboard, request: CurveRequest) -> TrainingCurve:
    """``malpyeong-eval plot``: each metric against the training step, written as a PNG."""
    from .plot import plot_training

    matching = board.runs(dataset=request.dataset, tag=request.tag)
    runs = runs_of_training(run for run in matching if not request.prefix or run.name.startswith(request.prefix))
    if not runs:
        hidden = board.old_rules_count(dataset=request.dataset, tag=request.tag)
        raise MalpyeongError("no runs with a training step match; record checkpoints with a step, or change --tag/--prefix"
                             + (f" ({hidden} scored under the old rules are left out; rescore them: {RESCORE_HINT})" if hidden else ""))
    return TrainingCurve(runs, plot_training(runs, request.output, title=request.tag or request.prefix or "training"))
