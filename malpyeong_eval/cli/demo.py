"""``malpyeong-eval demo``: the whole loop offline on CPU (:func:`train.demo.run_demo`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from train.demo import DEMO_STEPS

from ..report import make_console
from .options import DbOption


def demo(
    db: DbOption = None,
    output_dir: Annotated[Path, typer.Option("--output-dir", help="Checkpoints, run folders and the training curve.")] = Path("malpyeong-demo"),
    steps: Annotated[int, typer.Option("--steps", min=2, help="GRPO steps (a checkpoint every half).")] = DEMO_STEPS,
    eval_limit: Annotated[Optional[int], typer.Option("--eval-limit", min=1, help="Score each checkpoint on the first N sample items (default: all 40).")] = None,
) -> None:
    """Offline on CPU: tiny models, GRPO on the sample, every checkpoint scored and recorded on the leaderboard
    (the one 'leaderboard', 'show' and 'compare' read), tagged train:<output folder name>."""
    import shlex

    from platformdirs import user_cache_dir

    from leaderboard.db import resolve_url
    from leaderboard.tables import leaderboard_table
    from train.demo import run_demo

    console, err_console = make_console(), make_console(stderr=True)
    result = run_demo(err_console, db_url=resolve_url(db), output_dir=output_dir,
                      cache=Path(user_cache_dir("malpyeong-eval")) / "demo-models", steps=steps, save_steps=max(1, steps // 2),
                      eval_limit=eval_limit)
    board = result.board
    console.print(leaderboard_table(board.runs(tag=result.tag), title="the demo's runs", width=console.width))
    console.print(f"training curve: {result.plot}", highlight=False, markup=False, soft_wrap=True)
    again = " ".join(["malpyeong-eval leaderboard", *(["--db", shlex.quote(board.where)] if db else []),
                      "--tag", shlex.quote(result.tag)])
    console.print(f"recorded in {board.where}; see them again: {again}", highlight=False, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the app."""
    app.command("demo")(demo)
