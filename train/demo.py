"""The demo behind ``malpyeong-eval demo``: the whole loop offline on CPU in about a minute.

Builds tiny local models (a Qwen2 chat policy warm-started on the sample, a BERT for
BERTScore, a checkpoint in the BLEURT-20 layout) in a cache folder, then runs the same
``train`` a user runs: the policy is scored before GRPO (step 0, ``eval.start``),
trained on the packaged sample, and each saved checkpoint is scored with all four
metrics and recorded. It ends on the leaderboard and a PNG training curve. The tiny
models' scores mean nothing; the machinery is the real one.
"""

from __future__ import annotations

import logging
import shutil
import sys
import warnings
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from malpyeong_eval.metrics.registry import DEFAULT_METRICS_TEXT

if TYPE_CHECKING:
    from leaderboard.store import Leaderboard

DEMO_MARKER = ".malpyeong-demo"
LEARNING_RATE = 5e-4  # gentle: the warm-started policy keeps its shape while ROUGE-1 rises


@dataclass
class DemoResult:
    board: Leaderboard
    plot: Path
    runs: int


def demo_db_url(db: str | None = None) -> str:
    """The database the demo records into: ``--db``, else ``$MALPYEONG_DB``, else the demo's own
    SQLite file, apart from the user's leaderboard."""
    from platformdirs import user_data_dir

    from leaderboard.db import resolve_url

    return resolve_url(db, default=f"sqlite:///{Path(user_data_dir('malpyeong-eval')) / 'demo.db'}")


WARM_START_STEPS = 150  # the supervised pass's steps: after them the tiny policy answers in the contest's shape


def _warm_policy(folder: Path, texts: list[str]) -> Path:
    """The tiny Qwen2 after a short supervised pass on the sample (see ``warm_start_policy``)."""
    from malpyeong_eval.data import load_items, sample_path
    from malpyeong_eval.prompts import load_prompt
    from malpyeong_eval.tiny_models import build_tiny_qwen2, warm_start_policy

    build_tiny_qwen2(folder, texts)
    prompt = load_prompt()
    pairs = [(prompt.messages(i.question_type, i.question), i.answer or "") for i in load_items(sample_path("gold"))]
    return warm_start_policy(folder, pairs, steps=WARM_START_STEPS)


def _tiny_models(cache: Path, progress: Progress, task) -> dict[str, str]:
    from malpyeong_eval.data import load_items, sample_path
    from malpyeong_eval.tiny_models import TINY_MODELS_VERSION, build_tiny_bert, build_tiny_bleurt

    items = load_items(sample_path("gold")) + load_items(sample_path("submission"))
    texts = [item.answer or "" for item in items] + [item.question for item in items]
    builders: dict[str, Callable[[Path, list[str]], Any]] = {"policy": _warm_policy, "bert": build_tiny_bert,
                                                            "bleurt": build_tiny_bleurt}
    paths = {}
    for name, build in builders.items():
        folder = cache / f"{name}-{TINY_MODELS_VERSION}"  # a model built by an older builder is not reused
        if not (folder / "complete").exists():
            progress.update(task, description=f"building the tiny {name} model")
            shutil.rmtree(folder, ignore_errors=True)
            build(folder, texts)
            (folder / "complete").write_text("")
        paths[name] = str(folder)
        progress.advance(task)
    return paths


def _written(folder: Path) -> list[str]:
    """The files a previous demo listed in its marker (relative paths)."""
    marker = folder / DEMO_MARKER
    lines = marker.read_text(encoding="utf-8", errors="replace").splitlines()[1:] if marker.is_file() else []
    return [line for line in lines if line and not Path(line).is_absolute() and ".." not in Path(line).parts]


def check_output_dir(folder: Path) -> None:
    """Refuse ``folder`` unless it is new, empty or made by a demo (its marker file): the demo never
    writes into a user's folder."""
    from malpyeong_eval.errors import MalpyeongError

    if folder.exists() and not folder.is_dir():
        raise MalpyeongError(f"--output-dir {folder}: is a file, not a folder")
    if folder.is_dir() and not (folder / DEMO_MARKER).is_file() and any(folder.iterdir()):
        raise MalpyeongError(f"--output-dir {folder}: not a demo folder (no {DEMO_MARKER}) and not empty; "
                             "give a new or empty folder")


def prepare_output_dir(folder: Path) -> set[str]:
    """Make ``folder`` ready for a demo (:func:`check_output_dir`). In a demo's folder only the files the
    marker lists (what that demo wrote) are deleted, then the folders they leave empty; anything else
    stays. Returns the files that stay (not the demo's: :func:`record_written` leaves them out)."""
    check_output_dir(folder)
    emptied: set[Path] = set()
    for relative in _written(folder):
        path = folder / relative
        if path.is_file() and not path.is_symlink():
            path.unlink()
            emptied.update(parent for parent in path.parents if folder in parent.parents)
    for directory in sorted(emptied, key=lambda p: len(p.parts), reverse=True):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / DEMO_MARKER).write_text(_MARKER_HEADER, encoding="utf-8")
    return _files(folder)


_MARKER_HEADER = "made by malpyeong-eval demo; the files it wrote:\n"


def _files(folder: Path) -> set[str]:
    marker = folder / DEMO_MARKER
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p != marker}


def record_written(folder: Path, kept: set[str]) -> None:
    """List in the marker every file under ``folder`` but those ``kept`` from before: what the demo wrote,
    the only files the next demo deletes."""
    (folder / DEMO_MARKER).write_text(_MARKER_HEADER + "".join(f"{name}\n" for name in sorted(_files(folder) - kept)),
                                      encoding="utf-8")


def run_demo(console: Console, *, db_url: str, output_dir: Path, cache: Path, steps: int = 40, save_steps: int = 20,
             eval_limit: int | None = None) -> DemoResult:
    """Build, score, train, score each checkpoint, record, plot."""
    from leaderboard.plot import plot_training
    from leaderboard.store import Leaderboard, runs_of_training

    from .config import EvalSettings, TrainSettings, validate
    from .trainer import train, training_name

    from malpyeong_eval.data import sample_path

    check_output_dir(output_dir)  # before the database is created
    board = Leaderboard(db_url)
    kept = prepare_output_dir(output_dir)
    quiet = StringIO()  # what the libraries print goes here; the progress display keeps the real stderr
    display = Console(file=sys.stderr, width=console.width)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=display) as progress, warnings.catch_warnings(), \
            redirect_stdout(quiet), redirect_stderr(quiet):
        warnings.simplefilter("ignore")
        logging.getLogger("malpyeong_eval.rewards").setLevel(logging.ERROR)
        models_task = progress.add_task("tiny models", total=3)
        models = _tiny_models(cache, progress, models_task)
        progress.update(models_task, description="tiny models ready")
        settings = TrainSettings(
            model=models["policy"], data=str(sample_path("gold")), output_dir=str(output_dir),
            rewards=["format", "em", "rouge1"], db=db_url, bertscore_model=models["bert"], bertscore_layers=2,
            bleurt_model=models["bleurt"],
            eval=EvalSettings(data=str(sample_path("gold")), limit=eval_limit, metrics=DEFAULT_METRICS_TEXT, max_new_tokens=96,
                              batch_size=20, dataset_name="sample", start=True, mode="inline"),
            grpo={"max_steps": steps, "save_steps": save_steps, "per_device_train_batch_size": 16, "num_generations": 8,
                  "max_completion_length": 96, "learning_rate": LEARNING_RATE, "gradient_accumulation_steps": 1,
                  "use_cpu": True, "disable_tqdm": True, "logging_steps": 1, "seed": 0},
        )
        grpo_config = validate(settings)
        eval_tasks: dict[str, Any] = {}

        def eval_progress(label: str, done: int, total: int) -> None:
            if label not in eval_tasks:
                eval_tasks[label] = progress.add_task(f"scoring {label}", total=total)
            progress.update(eval_tasks[label], completed=done)

        train_task = progress.add_task("GRPO training", total=steps)
        try:
            train(settings, grpo_config, progress=eval_progress,
                  on_step=lambda step: progress.update(train_task, completed=step))
            name = training_name(settings)
            runs = runs_of_training(board.runs(tag=f"train:{name}"))
            plot = plot_training(runs, output_dir / "training-curve.png", title=f"malpyeong-eval demo ({name})")
        finally:  # even an interrupted demo leaves the list of what it wrote, for the next one to clear
            record_written(output_dir, kept)
    return DemoResult(board=board, plot=plot, runs=len(runs))
