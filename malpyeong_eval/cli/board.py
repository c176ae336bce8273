"""The leaderboard's commands (``leaderboard``, ``show``, ``compare``, ``export``, ``serve``, ``plot``, ``rescore``).

Each parses its flags into one request of :mod:`leaderboard.api`, calls the function of the same
command, and prints the typed result: its ``to_json()`` for ``--json``, else the result itself
(each renders as the command's tables). The database modules load only when a command opens one,
so ``--help`` starts without SQLAlchemy and Alembic.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional, cast

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from leaderboard.api import (
    CurveRequest,
    ExportRequest,
    RankingRequest,
    RescoreRequest,
    RunDetailRequest,
    comparison,
    default_runs_dirs,
    export_board,
    ranking_at,
    rescore_runs,
    run_detail,
    training_curve,
)

from ..report import ProgressTasks, inert, json_text, make_console
from .options import (
    BatchSizeOption,
    BertScoreLayersOption,
    BertScoreModelOption,
    BleurtModelOption,
    DbOption,
    DeviceOption,
    scorer_options,
)

if TYPE_CHECKING:
    from leaderboard.records import RunRecord
    from leaderboard.store import Leaderboard

__all__ = ["compare", "export", "leaderboard", "plot", "register", "rescore", "serve", "show"]

AllRulesFlag = Annotated[bool, typer.Option("--all-rules", help="Also runs scored under the old (pre-2025) rules, marked; they are not comparable (malpyeong-eval rescore recomputes them).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
WideFlag = Annotated[bool, typer.Option("--wide", help="Every column and whole names, however wide (default: the tables fit the terminal, or 100 columns when piped; COLUMNS sets it).")]
DataFilesOption = Annotated[Optional[list[Path]], typer.Option("--data", help="Data file whose questions and passages the item pages show, for the runs scored on it (matched by sha256; repeatable; the packaged sample is always known).")]
NormByOption = Annotated[str, typer.Option("--by", help="Scores by norm 'category' (the rule heading's part before ' - ') or 'rule'; items without a rule (output.article) are counted apart.")]
ByOption = Annotated[Optional[str], typer.Option("--by", help="Also each run's scores by norm: 'category' (the rule heading's part before ' - ') or 'rule'; items without a rule (output.article) counted apart.")]
RunsDirsOption = Annotated[Optional[list[Path]], typer.Option("--runs-dir", help="Run folders of 'run' whose generations.jsonl hold each item's prompt (repeatable; default: ./malpyeong-runs when it exists).")]
console = make_console()
err_console = make_console(stderr=True)


def open_board(db: str | None, *, read_only: bool = False) -> Leaderboard:
    """The leaderboard at ``db``, its modules imported only here: ``--help`` and the commands that
    record nothing start without SQLAlchemy and Alembic."""
    from leaderboard.store import Leaderboard

    return Leaderboard(db, read_only=read_only, create=False)  # a reader never creates a database


def note(line: str) -> None:
    """A line on stderr (beside JSON on stdout, or a table)."""
    err_console.print(line, highlight=False, markup=False, soft_wrap=True)


def leaderboard(
    db: DbOption = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="Only runs on this dataset name.")] = None,
    model: Annotated[Optional[str], typer.Option("--model", help="Only runs of this base model or checkpoint (or name containing it).")] = None,
    tag: Annotated[Optional[str], typer.Option("--tag", help="Only runs with this tag.")] = None,
    top: Annotated[Optional[int], typer.Option("--top", min=1, help="Show the best N runs.")] = None,
    all_rules: AllRulesFlag = False,
    by: ByOption = None,
    json_output: JsonFlag = False,
    where: Annotated[bool, typer.Option("--where", help="Print the database location and exit.")] = False,
    wide: WideFlag = False,
) -> None:
    """Every recorded run scored under the current rules, one table per dataset, best first: by Final Score;
    without one by the mean of the reason metrics scored, then EM; ties newest first (--all-rules: every run).
    With no database yet at the default place, says where it looked and how to fill it."""
    if where:
        from leaderboard.db import resolve_url

        from ..secrets import mask_url

        print(mask_url(resolve_url(db)))
        return
    request = RankingRequest(dataset=dataset, model=model, tag=tag, top=top, all_rules=all_rules, by=by)
    result = ranking_at(db, request)
    if json_output:
        print(json_text(result.to_json()))
        for line in (result.empty_note, result.hidden_note):  # stdout stays JSON
            if line:
                note(line)
        return
    make_console(wide=wide).print(result)


def show(
    run: Annotated[str, typer.Argument(help="Run name (or #id).")],
    db: DbOption = None,
    worst: Annotated[int, typer.Option("--worst", min=0, help="How many of the worst items to show.")] = 5,
    by: NormByOption = "category",
    json_output: JsonFlag = False,
    wide: WideFlag = False,
) -> None:
    """One run: metrics by question_type and by norm (with the counted items), its worst items, its configuration."""
    request = RunDetailRequest(run, worst=worst, by=by)
    detail = run_detail(open_board(db), request)
    if json_output:
        print(json_text(detail.to_json()))
        return
    make_console(wide=wide).print(detail)


def compare(
    run_a: Annotated[str, typer.Argument(help="Baseline run name.")],
    run_b: Annotated[str, typer.Argument(help="Run compared with it.")],
    db: DbOption = None,
    by: NormByOption = "category",
    json_output: JsonFlag = False,
    wide: WideFlag = False,
) -> None:
    """B against A: per-metric deltas with paired bootstrap 95% intervals (overall and by norm), items won and lost
    (each item by the leaderboard's ranking rule), EM flips."""
    result = comparison(open_board(db), run_a, run_b, by=by)
    if json_output:
        print(json_text(result.to_json()))
        return
    make_console(wide=wide).print(result)


def export(
    fmt: Annotated[str, typer.Option("--format", help="csv, md, html, json, or site (the serve pages as static files in the -o folder).")] = "csv",
    run: Annotated[Optional[str], typer.Option("--run", help="Export this run's items instead of the leaderboard.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
    all_rules: AllRulesFlag = False,
    db: DbOption = None,
    data: DataFilesOption = None,
    runs_dir: RunsDirsOption = None,
    by: Annotated[Optional[str], typer.Option("--by", help="Instead, the scores by norm 'category' or 'rule' of --run's run or of every run: one row per run and group (an empty norm: the items without a rule).")] = None,
) -> None:
    """The leaderboard (runs scored under the current rules; --all-rules: every run), or one run's items,
    as CSV, Markdown, HTML (escaped) or JSON; --by: the scores by norm; --format site writes serve's pages as static files."""
    request = ExportRequest(format=fmt, run=run, output=output, all_rules=all_rules, data_files=tuple(data or ()),
                            runs_dirs=default_runs_dirs(runs_dir or ()), by=by)
    exported = export_board(open_board(db, read_only=request.site), request)
    for skipped in exported.skipped:
        note(f"left out: {skipped}")
    if request.site:
        folder = cast("Path", exported.written)
        console.print(f"wrote {len(exported.pages)} pages to {folder} (open {folder / 'index.html'})", highlight=False, markup=False, soft_wrap=True)
    elif exported.written is None:
        print(exported.text, end="")
    else:
        what = f"the items of run {run}" if run else "the leaderboard"
        console.print(f"wrote {what} as {request.format} to {exported.written}", highlight=False, markup=False, soft_wrap=True)


def serve(
    db: DbOption = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default; any other prints a warning).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8765,
    data: DataFilesOption = None,
    runs_dir: RunsDirsOption = None,
) -> None:
    """The leaderboard, each run's items, comparisons and training curves in the browser (read-only; Ctrl-C stops)."""
    from leaderboard.serve.app import serve as serve_app

    serve_app(db, host, port, data_files=data or [], runs_dirs=default_runs_dirs(runs_dir or ()))


def plot(
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write.")] = Path("training-curve.png"),
    tag: Annotated[Optional[str], typer.Option("--tag", help="Runs of one training, by tag.")] = None,
    prefix: Annotated[Optional[str], typer.Option("--prefix", help="Runs of one training, by name prefix.")] = None,
    dataset: Annotated[Optional[str], typer.Option("--dataset", help="Only runs on this dataset name.")] = None,
    db: DbOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Each metric against the training step: a PNG and a small curve in the terminal."""
    request = CurveRequest(output=output, tag=tag, prefix=prefix, dataset=dataset)
    curve = training_curve(open_board(db), request)
    if json_output:
        print(json_text(curve.to_json()))
        return
    console.print(curve)


class RescoreBar:
    """``rescore``'s progress on stderr: one bar over the runs, the model scorers' bars beside it
    (``quiet``: the bar goes when done and the scorers report nothing, as with ``--json``)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=err_console, transient=quiet)
        self.task = self.bar.add_task("rescoring", start=False)
        self.shown = False

    def start(self, total: int) -> None:
        """Show the bar, when there is a run to rescore."""
        if total:
            self.bar.update(self.task, total=total)
            self.bar.start_task(self.task)
            self.bar.start()
            self.shown = True

    def stop(self, finished: bool) -> None:
        """Hide the bar; its last state stays on the screen only when every run was rescored (a
        refusal is then one line)."""
        if self.shown:
            self.bar.live.transient = self.quiet or not finished
            self.bar.stop()

    @contextmanager
    def rescoring(self, run: RunRecord) -> Iterator[None]:
        from ..metrics.progress import reporting

        self.bar.update(self.task, description=f"rescoring {inert(run.name)}")
        with reporting(None if self.quiet else ProgressTasks(err_console, self.bar)):
            yield
        self.bar.advance(self.task)


def rescore(
    runs: Annotated[Optional[list[str]], typer.Argument(metavar="[RUN]...", help="Run names or #ids (default: every run not scored under the current rules).", show_default=False)] = None,
    db: DbOption = None,
    bertscore_model: BertScoreModelOption = None,
    bertscore_layers: BertScoreLayersOption = None,
    bleurt_model: BleurtModelOption = None,
    device: DeviceOption = None,
    batch_size: BatchSizeOption = None,
    json_output: JsonFlag = False,
) -> None:
    """Recompute stored runs under the current scoring rules from their stored predictions and gold.

    Without RUN arguments: every run scored under older rules (those the leaderboard hides). Each run gets the metrics it had: EM and ROUGE-1 need no model; BERTScore and BLEURT load the models named as for score (give the ones the run was scored with).

    A run keeps its id, name, tags, checkpoint and step. Each run is updated in one transaction: an interrupted rescore leaves every run either rescored or exactly as it was.
    """
    request = RescoreRequest(runs=tuple(runs or ()),
                             options=scorer_options(bertscore_model, bertscore_layers, bleurt_model, device, batch_size))
    board = open_board(db)
    bar, finished = RescoreBar(quiet=json_output), False
    try:
        outcome = rescore_runs(board, request, progress=bar)
        finished = True
    finally:
        bar.stop(finished)
    if request.options.batch_size == "auto":
        from ..metrics.pool import settled_batch_sizes

        for line in settled_batch_sizes():
            note(line)
    if json_output:
        print(json_text(outcome.to_json()))
        return
    console.print(outcome)
    for line in outcome.notes():
        note(line)


def register(app: typer.Typer) -> None:
    """Add the leaderboard commands to the ``malpyeong-eval`` app."""
    for command in (leaderboard, show, compare, export, serve, plot, rescore):
        app.command(command.__name__)(command)
