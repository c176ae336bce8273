"""The leaderboard's commands (``leaderboard``, ``show``, ``compare``, ``export``, ``serve``, ``plot``, ``rescore``) on the app."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional, cast

import typer
from rich.table import Table

from leaderboard.tables import (
    ALIGNED_MARK,
    OLD_RULES_MARK,
    RESCORE_HINT,
    choice_text,
    hidden_runs_note,
    leaderboard_table,
    provenance_rows,
    retrieval_text,
)

from ..errors import MalpyeongError
from ..metrics.aggregate import SCORING_RULES
from ..metrics.registry import CONTEXT_METRICS, LABELS, REASON_METRICS
from ..outputs import write_output
from ..report import format_score, inert, json_text, make_console, visible
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
    from rich.console import JustifyMethod

    from leaderboard.store import Leaderboard

__all__ = ["register"]

AllRulesFlag = Annotated[bool, typer.Option("--all-rules", help="Also runs scored under the old (pre-2025) rules, marked; they are not comparable (malpyeong-eval rescore recomputes them).")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
console = make_console()
err_console = make_console(stderr=True)


DataFilesOption = Annotated[Optional[list[Path]], typer.Option("--data", help="Data file whose questions and passages the item pages show, for the runs scored on it (matched by sha256; repeatable; the packaged sample is always known).")]
RunsDirsOption = Annotated[Optional[list[Path]], typer.Option("--runs-dir", help="Run folders of 'run' whose generations.jsonl hold each item's prompt (repeatable; default: ./malpyeong-runs when it exists).")]


def open_board(db: str | None, *, read_only: bool = False) -> Leaderboard:
    """The leaderboard at ``db``, its modules imported only here: ``--help`` and the commands that
    record nothing start without SQLAlchemy and Alembic."""
    from leaderboard.store import Leaderboard

    return Leaderboard(db, read_only=read_only, create=False)  # a reader never creates a database


def _runs_dirs(given: list[Path] | None) -> list[Path]:
    """The run folders to read prompts from: those given, else ``./malpyeong-runs`` when it exists."""
    if given:
        return list(given)
    default = Path("malpyeong-runs")
    return [default] if default.is_dir() else []


def register(app: typer.Typer) -> None:
    """Add the leaderboard commands to the ``malpyeong-eval`` app."""

    @app.command("leaderboard")
    def leaderboard(
        db: DbOption = None,
        dataset: Annotated[Optional[str], typer.Option("--dataset", help="Only runs on this dataset name.")] = None,
        model: Annotated[Optional[str], typer.Option("--model", help="Only runs of this base model or checkpoint (or name containing it).")] = None,
        tag: Annotated[Optional[str], typer.Option("--tag", help="Only runs with this tag.")] = None,
        top: Annotated[Optional[int], typer.Option("--top", min=1, help="Show the best N runs.")] = None,
        all_rules: AllRulesFlag = False,
        json_output: JsonFlag = False,
        where: Annotated[bool, typer.Option("--where", help="Print the database location and exit.")] = False,
    ) -> None:
        """Every recorded run scored under the current rules, best Final Score first (--all-rules: every run)."""
        if where:
            from ..secrets import mask_url

            from leaderboard.db import resolve_url

            print(mask_url(resolve_url(db)))
            return
        board = open_board(db)
        runs = board.runs(dataset=dataset, model=model, tag=tag, top=top, all_rules=all_rules)
        hidden = 0 if all_rules else board.old_rules_count(dataset=dataset, model=model, tag=tag)
        if json_output:
            from leaderboard.export import run_rows

            print(json_text(run_rows(runs)))
            if hidden:  # stdout stays JSON
                err_console.print(hidden_runs_note(hidden), highlight=False, markup=False)
            return
        console.print(leaderboard_table(runs, title=inert(f"malpyeong-eval leaderboard ({board.where})")))
        if hidden:
            console.print(hidden_runs_note(hidden), highlight=False, markup=False)

    @app.command("show")
    def show(
        run: Annotated[str, typer.Argument(help="Run name (or #id).")],
        db: DbOption = None,
        worst: Annotated[int, typer.Option("--worst", min=0, help="How many of the worst items to show.")] = 5,
        json_output: JsonFlag = False,
    ) -> None:
        """One run: metrics by question_type (with the counted items), its worst items, its configuration."""
        from leaderboard.compare import item_final, old_rules_rows

        board = open_board(db)
        record = board.get(run)
        groups, items = board.groups(record), board.items(record)
        scored = old_rules_rows(items) if record.scoring_rules is None else items  # old rules: every item counted

        def badness(pair):  # Final of the item where all four metrics exist, else its ROUGE-1
            row = pair[1]
            final = item_final(row)
            return (final if final is not None else row.get("rouge1") or 0.0, row["item_id"])

        ranked = [item for item, _ in sorted(zip(items, scored, strict=True), key=badness)]
        if json_output:
            print(json_text({"run": record.to_json(), "by_type": groups, "worst_items": ranked[:worst]}))
            return
        from ..report import result_caption, scores_table

        reason_metrics = any(record.metrics.get(key) is not None for key in REASON_METRICS)
        caption = result_caption(record.n, record.n_counted, record.aligned_by_id, reason_metrics, record.n_selection
                                 if record.metrics.get(CONTEXT_METRICS[0]) is not None else None)
        title = f"run {record.name}" + ALIGNED_MARK * record.aligned_by_id + ("" if record.current_rules else OLD_RULES_MARK)
        console.print(scores_table(record.metrics, record.n, {g["question_type"]: g for g in groups}, title=inert(title),
                                   n_counted=record.n_counted, caption=inert(caption) or None))
        if not record.current_rules:
            console.print(f"scored under {record.scoring_rules or 'the old (pre-2025) rules'}, not {SCORING_RULES}: not "
                          f"comparable with current runs; rescore it: {RESCORE_HINT} {visible(shlex.quote(record.name))}",
                          highlight=False, markup=False)
        if worst:
            table = Table(title=f"worst {min(worst, len(ranked))} items", show_lines=True)
            cited = any(row.get("citation") is not None or row.get("gold_article") is not None for row in items)
            for header in ("id", "type", LABELS["exact_match"], LABELS["rouge1"], "counted", *(("cited",) * cited),
                           "gold", "prediction"):
                table.add_column(header, overflow="fold")
            for row in ranked[:worst]:
                counted = "—" if row.get("counted") is None else "yes" if row["counted"] else "no"
                choice = [inert(choice_text(row))] if cited else []
                table.add_row(*(inert(str(row[key])) for key in ("item_id", "question_type")), format_score(row["exact_match"]),
                              format_score(row["rouge1"]), counted, *choice, inert(row["gold"]), inert(row["prediction"]))
            console.print(table)
        config = Table(title="configuration", show_header=False)
        for key, value in {
            "checkpoint": record.checkpoint, "base model": record.base_model, "step": record.step,
            "dataset": f"{record.dataset_name or ''} {record.dataset_hash or ''}".strip(), "prompt": record.prompt_id,
            "context": retrieval_text(record),
            "tags": ", ".join(record.tags), "tool version": record.tool_version,
            "scoring rules": record.scoring_rules or "old (pre-2025) rules",
            **{key: value for key, value in record.metric_config.items() if key != "rules"},
            **provenance_rows(record.provenance),
        }.items():
            if value not in (None, ""):
                config.add_row(key, inert(str(value)))
        console.print(config)

    @app.command("compare")
    def compare(
        run_a: Annotated[str, typer.Argument(help="Baseline run name.")],
        run_b: Annotated[str, typer.Argument(help="Run compared with it.")],
        db: DbOption = None,
        json_output: JsonFlag = False,
    ) -> None:
        """B against A: per-metric deltas with paired bootstrap 95% intervals, items won and lost, EM flips."""
        from leaderboard.compare import compare_runs

        board = open_board(db)
        a, b = board.get(run_a), board.get(run_b)
        result = compare_runs(a, board.items(a), b, board.items(b))
        if json_output:
            print(json_text(result.to_json()))
            return
        for run in (a, b):  # what each run's items carried: what retrieval buys is the delta below
            console.print(visible(f"context of {run.name}: {retrieval_text(run)}"), highlight=False, markup=False)
        table = Table(title=inert(f"{b.name} vs {a.name} (paired bootstrap, 95%)"))
        for header in ("metric", inert(a.name), inert(b.name), "delta", "95% CI"):
            table.add_column(header, justify="right")
        for metric, (delta, low, high) in result.deltas.items():
            style = "green" if low > 0 else "red" if high < 0 else ""
            table.add_row(metric, format_score(a.metrics.get(metric)), format_score(b.metrics.get(metric)),
                          f"[{style}]{delta:+.4f}[/]" if style else f"{delta:+.4f}", f"[{low:+.4f}, {high:+.4f}]")
        console.print(table)
        if a.scoring_rules is None:
            console.print(f"both runs were scored under the old (pre-2025) rules; rescore them: {RESCORE_HINT}", highlight=False, markup=False)
        by = LABELS.get(result.decided_by or "", result.decided_by or "no metric")
        why = "" if result.decided_by == "final_score" else ": the runs have no Final Score (not scored with all four metrics)"
        console.print(f"items won {result.won}, lost {result.lost}, tied {result.tied} (by each item's {by}{why})",
                      highlight=False, markup=False)
        for flip in result.em_flips:
            console.print(
                visible(f"EM flip {flip['item_id']}: {flip['em_a']:.0f} → {flip['em_b']:.0f}  A: {flip['a'][:80]}  B: {flip['b'][:80]}"),
                highlight=False, markup=False,
            )

    @app.command("export")
    def export(
        fmt: Annotated[str, typer.Option("--format", help="csv, md, html, json, or site (the serve pages as static files in the -o folder).")] = "csv",
        run: Annotated[Optional[str], typer.Option("--run", help="Export this run's items instead of the leaderboard.")] = None,
        output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
        all_rules: AllRulesFlag = False,
        db: DbOption = None,
        data: DataFilesOption = None,
        runs_dir: RunsDirsOption = None,
    ) -> None:
        """The leaderboard (runs scored under the current rules; --all-rules: every run), or one run's items,
        as CSV, Markdown, HTML (escaped) or JSON; --format site writes serve's pages as static files."""
        from leaderboard.export import FORMATS, render, run_rows

        if fmt not in (*FORMATS, "site"):
            raise MalpyeongError(f"unknown --format {fmt!r}; choose from {', '.join((*FORMATS, 'site'))}")
        if fmt == "site":
            if output is None or run:
                raise MalpyeongError("--format site writes a folder: give -o DIR (and no --run: every run gets its page)")
            from leaderboard.serve.site import write_site

            report = write_site(open_board(db, read_only=True), output, data_files=data or [],
                                runs_dirs=_runs_dirs(runs_dir))
            for note in report.skipped:
                err_console.print(f"left out: {note}", highlight=False, markup=False)
            console.print(f"wrote {len(report.pages)} pages to {output} (open {output / 'index.html'})", highlight=False, markup=False)
            return
        board = open_board(db)
        if run:
            rows, title = board.items(board.get(run)), f"malpyeong-eval run {run}"
        else:
            rows, title = run_rows(board.runs(all_rules=all_rules)), "malpyeong-eval leaderboard"
        text = render(rows, fmt, title)
        if output:
            write_output(output, text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
        else:
            print(text, end="")

    @app.command("serve")
    def serve(
        db: DbOption = None,
        host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default; any other prints a warning).")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8765,
        data: DataFilesOption = None,
        runs_dir: RunsDirsOption = None,
    ) -> None:
        """The leaderboard, each run's items, comparisons and training curves in the browser (read-only; Ctrl-C stops)."""
        from leaderboard.serve.app import serve as serve_app

        serve_app(db, host, port, data_files=data or [], runs_dirs=_runs_dirs(runs_dir))

    @app.command("plot")
    def plot(
        output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write.")] = Path("training-curve.png"),
        tag: Annotated[Optional[str], typer.Option("--tag", help="Runs of one training, by tag.")] = None,
        prefix: Annotated[Optional[str], typer.Option("--prefix", help="Runs of one training, by name prefix.")] = None,
        dataset: Annotated[Optional[str], typer.Option("--dataset", help="Only runs on this dataset name.")] = None,
        db: DbOption = None,
    ) -> None:
        """Each metric against the training step: a PNG and a small curve in the terminal."""
        from leaderboard.plot import CURVE_METRICS, plot_training, sparkline
        from leaderboard.store import runs_of_training

        if not tag and not prefix:
            raise MalpyeongError("give --tag or --prefix: the runs of one training (one curve), e.g. --tag train:NAME")

        board = open_board(db)
        runs = runs_of_training(
            run for run in board.runs(dataset=dataset, tag=tag) if not prefix or run.name.startswith(prefix)
        )
        if len(runs) < 1:
            hidden = board.old_rules_count(dataset=dataset, tag=tag)
            raise MalpyeongError("no runs with a training step match; record checkpoints with a step, or change --tag/--prefix"
                                 + (f" ({hidden} scored under the old rules are left out; rescore them: {RESCORE_HINT})" if hidden else ""))
        path = plot_training(runs, output, title=tag or prefix or "training")
        for key, label in CURVE_METRICS:
            values = [run.metrics.get(key) for run in runs]
            if all(value is not None for value in values):
                console.print(f"{label:>9} {sparkline(cast('list[float]', values))}  {values[0]:.4f} → {values[-1]:.4f}", highlight=False)
        console.print(f"steps {runs[0].step} … {runs[-1].step} ({len(runs)} checkpoints); plot: {path}", highlight=False)

    @app.command("rescore")
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
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from ..metrics.progress import reporting
        from ..report import ProgressTasks

        from leaderboard.rescore import NothingToRescore, Rescorer

        board = open_board(db)
        if runs:
            chosen = list({record.id: record for record in (board.get(reference) for reference in runs)}.values())
        else:
            chosen = board.old_rules_runs()
        rescorer = Rescorer(board, scorer_options(bertscore_model, bertscore_layers, bleurt_model, device, batch_size))
        done, skipped = [], []
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=err_console, transient=json_output, disable=not chosen) as bar:
            task = bar.add_task("rescoring", total=len(chosen))
            for record in chosen:
                bar.update(task, description=f"rescoring {inert(record.name)}")
                try:
                    with reporting(None if json_output else ProgressTasks(err_console, bar)):
                        done.append(rescorer.rescore(record))
                except NothingToRescore as exc:
                    if runs:  # a run asked for by name must be rescored
                        raise
                    skipped.append(exc)
                bar.advance(task)
        if json_output:
            print(json_text({
                "scoring_rules": SCORING_RULES,
                "rescored": [entry.to_json() for entry in done],
                "skipped": [{"id": exc.run.id, "name": exc.run.name, "reason": exc.why} for exc in skipped],
            }))
            return
        if not chosen:
            console.print(f"nothing to rescore: every run in {board.where} is scored under {SCORING_RULES}",
                          highlight=False, markup=False)
            return
        if done:
            table = Table(title=inert(f"rescored under {SCORING_RULES} ({board.where})"))
            rescored: tuple[tuple[str, JustifyMethod], ...] = (
                ("#", "right"), ("run", "left"), ("metrics", "left"), (LABELS["final_score"], "right"),
                (LABELS["exact_match"], "right"), (LABELS["rouge1"], "right"), ("counted", "right"))
            for header, justify in rescored:
                table.add_column(header, justify=justify)
            for entry in done:
                def change(key):
                    return f"{format_score(entry.before.metrics.get(key))} → {format_score(entry.after.metrics.get(key))}"

                table.add_row(str(entry.after.id), inert(entry.after.name), ",".join(entry.metrics), change("final_score"),
                              change("exact_match"), change("rouge1"), f"{entry.after.n_counted}/{entry.after.n}")
            console.print(table)
        for entry in done:
            for note in entry.notes:
                err_console.print(visible(f"{entry.after.name}: {note}"), highlight=False, markup=False)
        for problem in skipped:
            err_console.print(visible(f"skipped: {problem}"), highlight=False, markup=False)
