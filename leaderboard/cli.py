"""The leaderboard's commands (``leaderboard``, ``show``, ``compare``, ``export``, ``plot``) on the app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from malpyeong_eval.errors import MalpyeongError
from malpyeong_eval.report import format_score, make_console

from .store import Leaderboard, RunRecord

DbOption = Annotated[Optional[str], typer.Option("--db", help="Leaderboard database URL or SQLite path [env MALPYEONG_DB; default: per-user SQLite file; demo: its own].")]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
LEADERBOARD_COLUMNS = (
    ("exact_match", "EM"),
    ("rouge1", "ROUGE-1"),
    ("bertscore", "BERTScore"),
    ("bleurt", "BLEURT"),
    ("descriptive_avg", "Desc. Avg"),
    ("final_score", "Final"),
)
console = make_console()


def leaderboard_table(runs: list[RunRecord], title: str) -> Table:
    """Rank, name, step, the metrics (best of each column highlighted), n and date."""
    best = {
        key: max((run.metrics[key] for run in runs if run.metrics.get(key) is not None), default=None)
        for key, _ in LEADERBOARD_COLUMNS
    }
    table = Table(title=title)
    for header, justify in (("#", "right"), ("name", "left"), ("step", "right")):
        table.add_column(header, justify=justify)
    for _, label in LEADERBOARD_COLUMNS:
        table.add_column(label, justify="right")
    table.add_column("n", justify="right")
    table.add_column("date")
    for rank, run in enumerate(runs, start=1):
        cells = []
        for key, _ in LEADERBOARD_COLUMNS:
            value = run.metrics.get(key)
            text = format_score(value)
            cells.append(f"[bold green]{text}[/]" if value is not None and value == best[key] else text)
        table.add_row(
            str(rank), escape(run.name), "" if run.step is None else str(run.step), *cells, str(run.n),
            run.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    return table


def register(app: typer.Typer) -> None:
    """Add the leaderboard commands to the ``malpyeong-eval`` app."""

    @app.command("leaderboard")
    def leaderboard(
        db: DbOption = None,
        dataset: Annotated[Optional[str], typer.Option("--dataset", help="Only runs on this dataset name.")] = None,
        model: Annotated[Optional[str], typer.Option("--model", help="Only runs of this base model or checkpoint (or name containing it).")] = None,
        tag: Annotated[Optional[str], typer.Option("--tag", help="Only runs with this tag.")] = None,
        top: Annotated[Optional[int], typer.Option("--top", min=1, help="Show the best N runs.")] = None,
        json_output: JsonFlag = False,
        where: Annotated[bool, typer.Option("--where", help="Print the database location and exit.")] = False,
    ) -> None:
        """Every recorded run, best Final Score first."""
        if where:
            from .db import mask_url, resolve_url

            print(mask_url(resolve_url(db)))
            return
        board = Leaderboard(db)
        runs = board.runs(dataset=dataset, model=model, tag=tag, top=top)
        if json_output:
            from .export import run_rows

            print(json.dumps(run_rows(runs), ensure_ascii=False, indent=2, default=str))
            return
        console.print(leaderboard_table(runs, title=f"malpyeong-eval leaderboard ({board.where})"))

    @app.command("show")
    def show(
        run: Annotated[str, typer.Argument(help="Run name (or #id).")],
        db: DbOption = None,
        worst: Annotated[int, typer.Option("--worst", min=0, help="How many of the worst items to show.")] = 5,
        json_output: JsonFlag = False,
    ) -> None:
        """One run: metrics by question_type, its worst items, its configuration."""
        from .compare import item_final

        board = Leaderboard(db)
        record = board.get(run)
        groups, items = board.groups(record), board.items(record)
        def badness(row):  # Final of the item where all four metrics exist, else its ROUGE-1
            final = item_final(row)
            return (final if final is not None else row.get("rouge1") or 0.0, row["item_id"])

        ranked = sorted(items, key=badness)
        if json_output:
            print(json.dumps({"run": record.to_json(), "by_type": groups, "worst_items": ranked[:worst]}, ensure_ascii=False, indent=2, default=str))
            return
        from malpyeong_eval.report import scores_table

        console.print(scores_table(record.metrics, record.n, {g["question_type"]: g for g in groups}, title=escape(f"run {record.name}")))
        if worst:
            table = Table(title=f"worst {min(worst, len(ranked))} items", show_lines=True)
            for header in ("id", "type", "EM", "ROUGE-1", "gold", "prediction"):
                table.add_column(header, overflow="fold")
            for row in ranked[:worst]:
                table.add_row(*(escape(str(row[key])) for key in ("item_id", "question_type")), format_score(row["exact_match"]),
                              format_score(row["rouge1"]), escape(row["gold"]), escape(row["prediction"]))
            console.print(table)
        config = Table(title="configuration", show_header=False)
        for key, value in {
            "checkpoint": record.checkpoint, "base model": record.base_model, "step": record.step,
            "dataset": f"{record.dataset_name or ''} {record.dataset_hash or ''}".strip(), "prompt": record.prompt_id,
            "tags": ", ".join(record.tags), "tool version": record.tool_version, **record.metric_config,
        }.items():
            if value not in (None, ""):
                config.add_row(key, escape(str(value)))
        console.print(config)

    @app.command("compare")
    def compare(
        run_a: Annotated[str, typer.Argument(help="Baseline run name.")],
        run_b: Annotated[str, typer.Argument(help="Run compared with it.")],
        db: DbOption = None,
        json_output: JsonFlag = False,
    ) -> None:
        """B against A: per-metric deltas with paired bootstrap 95% intervals, items won and lost, EM flips."""
        from .compare import compare_runs

        board = Leaderboard(db)
        a, b = board.get(run_a), board.get(run_b)
        result = compare_runs(a, board.items(a), b, board.items(b))
        if json_output:
            print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
            return
        table = Table(title=escape(f"{b.name} vs {a.name} (paired bootstrap, 95%)"))
        for header in ("metric", escape(a.name), escape(b.name), "delta", "95% CI"):
            table.add_column(header, justify="right")
        for metric, (delta, low, high) in result.deltas.items():
            style = "green" if low > 0 else "red" if high < 0 else ""
            table.add_row(metric, format_score(a.metrics.get(metric)), format_score(b.metrics.get(metric)),
                          f"[{style}]{delta:+.4f}[/]" if style else f"{delta:+.4f}", f"[{low:+.4f}, {high:+.4f}]")
        console.print(table)
        console.print(f"items won {result.won}, lost {result.lost}, tied {result.tied}")
        for flip in result.em_flips:
            console.print(
                f"EM flip {flip['item_id']}: {flip['em_a']:.0f} → {flip['em_b']:.0f}  A: {flip['a'][:80]}  B: {flip['b'][:80]}",
                highlight=False, markup=False,
            )

    @app.command("export")
    def export(
        fmt: Annotated[str, typer.Option("--format", help="csv, md, html or json.")] = "csv",
        run: Annotated[Optional[str], typer.Option("--run", help="Export this run's items instead of the leaderboard.")] = None,
        output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
        db: DbOption = None,
    ) -> None:
        """The leaderboard, or one run's items, as CSV, Markdown, HTML (escaped) or JSON."""
        from .export import FORMATS, render, run_rows

        if fmt not in FORMATS:
            raise MalpyeongError(f"unknown --format {fmt!r}; choose from {', '.join(FORMATS)}")
        board = Leaderboard(db)
        if run:
            rows, title = board.items(board.get(run)), f"malpyeong-eval run {run}"
        else:
            rows, title = run_rows(board.runs()), "malpyeong-eval leaderboard"
        text = render(rows, fmt, title)
        if output:
            output.write_text(text, encoding="utf-8")
        else:
            print(text, end="")

    @app.command("plot")
    def plot(
        output: Annotated[Path, typer.Option("--output", "-o", help="PNG file to write.")] = Path("training-curve.png"),
        tag: Annotated[Optional[str], typer.Option("--tag", help="Runs of one training, by tag.")] = None,
        prefix: Annotated[Optional[str], typer.Option("--prefix", help="Runs of one training, by name prefix.")] = None,
        dataset: Annotated[Optional[str], typer.Option("--dataset", help="Only runs on this dataset name.")] = None,
        db: DbOption = None,
    ) -> None:
        """Each metric against the training step: a PNG and a small curve in the terminal."""
        from .plot import CURVE_METRICS, plot_training, sparkline
        from .store import runs_of_training

        board = Leaderboard(db)
        runs = runs_of_training(
            run for run in board.runs(dataset=dataset, tag=tag) if not prefix or run.name.startswith(prefix)
        )
        if len(runs) < 1:
            raise MalpyeongError("no runs with a training step match; record checkpoints with a step, or change --tag/--prefix")
        path = plot_training(runs, output, title=tag or prefix or "training")
        for key, label in CURVE_METRICS:
            values = [run.metrics.get(key) for run in runs]
            if all(value is not None for value in values):
                console.print(f"{label:>9} {sparkline(values)}  {values[0]:.4f} → {values[-1]:.4f}", highlight=False)
        console.print(f"steps {runs[0].step} … {runs[-1].step} ({len(runs)} checkpoints); plot: {path}", highlight=False)
