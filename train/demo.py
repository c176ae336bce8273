"""The demo behind ``malpyeong-eval demo``: the whole loop offline on CPU in about a minute.

Builds tiny local models (a Qwen2 chat policy warm-started on the sample, a BERT for
BERTScore, a checkpoint in the BLEURT-20 layout) in a cache folder, then runs the same
``train`` a user runs: the policy is scored before GRPO (step 0, ``eval.start``),
trained on the packaged sample (20 steps of one question and 4 completions, rewards
``format,em,rouge1``), and each saved checkpoint (steps 10 and 20) is scored with all four
metrics and recorded. It ends on the leaderboard and a PNG training curve. The tiny
models' scores mean nothing; the machinery is the real one.
"""

from __future__ import annotations

import logging
import re
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
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from malpyeong_eval.metrics.registry import DEFAULT_METRICS_TEXT

if TYPE_CHECKING:
    from leaderboard.store import Leaderboard

    from .config import TrainSettings

DEMO_MARKER = ".malpyeong-demo"
DEMO_STEPS = 20  # one question and 4 completions a step, a checkpoint every half: about 25 s of GRPO on 2 idle cores
ANSWER_TOKENS = 80  # the sample's longest answer is 70 of the policy's tokens
POLICY_VOCABULARY = 4000  # an upper bound: the sample and the prompt hold about 2,450 pieces
LEARNING_RATE = 5e-4  # gentle: the warm-started policy keeps its answers' shape
MODELS_STAGE = "build the tiny models (policy warm start, BERT, BLEURT)"  # its line; each build shows its own while it runs


@dataclass
class DemoResult:
    """What a demo recorded: the leaderboard, the tag of its runs, the training curve, how many runs."""

    board: Leaderboard
    tag: str
    plot: Path
    runs: int


WARM_START_STEPS = 150  # the supervised pass's steps: after them the tiny policy answers in the contest's shape


def warm_policy(folder: Path, texts: list[str]) -> Path:
    """The tiny Qwen2 after a short supervised pass on the sample (see ``warm_start_policy``)."""
    from malpyeong_eval.data import load_items, sample_path
    from malpyeong_eval.prompts import load_prompt
    from malpyeong_eval.tiny_models import build_tiny_qwen2, warm_start_policy

    prompt = load_prompt()
    # the prompt's fixed text in its vocabulary too: prompts of ~200 tokens, not ~360 bytes' pieces
    build_tiny_qwen2(folder, [*texts, prompt.system, *prompt.instructions.values()], vocab_size=POLICY_VOCABULARY)
    pairs = [(prompt.messages(i.question_type, i.question), i.answer or "") for i in load_items(sample_path("gold"))]
    return warm_start_policy(folder, pairs, steps=WARM_START_STEPS)


def tiny_model_texts() -> list[str]:
    """The texts the tiny models' vocabularies are built from: the packaged sample's answers and questions."""
    from malpyeong_eval.data import load_items, sample_path

    items = load_items(sample_path("gold")) + load_items(sample_path("submission"))
    return [item.answer or "" for item in items] + [item.question for item in items]


def _tiny_models(cache: Path, stages: DemoDisplay) -> dict[str, str]:
    from malpyeong_eval.tiny_models import TINY_MODELS_VERSION, build_tiny_bert, build_tiny_bleurt

    texts = tiny_model_texts()
    builders: dict[str, Callable[[Path, list[str]], Any]] = {"policy": warm_policy, "bert": build_tiny_bert,
                                                            "bleurt": build_tiny_bleurt}
    paths = {}
    for name, build in builders.items():
        folder = cache / f"{name}-{TINY_MODELS_VERSION}"  # a model built by an older builder is not reused
        if not (folder / "complete").exists():
            stages.start(stages.models, description=f"build the tiny {name} model")
            shutil.rmtree(folder, ignore_errors=True)
            build(folder, texts)
            (folder / "complete").write_text("")
        paths[name] = str(folder)
        stages.advance(stages.models, description=MODELS_STAGE)
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


class DemoDisplay:
    """The demo's one progress display: every stage is listed from the start, so what comes next is
    on the screen (``·`` waiting, ``→`` running, ``✓`` done), and the running one moves. A stage's
    clock starts when it does: the training's when the policy before training is scored."""

    def __init__(self, progress: Progress, *, steps: int, save_steps: int, items: int) -> None:
        self.progress = progress
        self.models = self._add(MODELS_STAGE, 3)
        self.scoring = {0: self._add("score the policy before training (step 0)", items)}
        self.training = self._add(f"GRPO training, {steps} steps", steps)
        for step in range(save_steps, steps + 1, save_steps):
            self.scoring[step] = self._add(f"score checkpoint-{step}", items)
        self.finish = self._add("leaderboard and training curve", 1)

    def _add(self, description: str, total: int) -> TaskID:
        return self.progress.add_task(description, total=total, state="·", start=False)

    def start(self, task: TaskID, description: str | None = None) -> None:
        """Mark ``task`` running and start its clock (once)."""
        if not self.progress.tasks[task].started:
            self.progress.start_task(task)
        self.progress.update(task, state="→", description=description)

    def advance(self, task: TaskID, completed: int | None = None, description: str | None = None) -> None:
        """Move ``task`` on (by one, or to ``completed``), marking it running or done."""
        self.start(task)
        if completed is None:
            self.progress.advance(task)
        else:
            self.progress.update(task, completed=completed)
        finished = self.progress.tasks[task].finished
        self.progress.update(task, state="✓" if finished else "→", description=description)
        if finished and task == self.scoring[0]:
            self.start(self.training)

    def scored(self, label: str, done: int, total: int) -> None:
        """The evaluation's progress callback: ``label`` ends with ``checkpoint-N``."""
        match = re.search(r"checkpoint-(\d+)$", label)
        task = self.scoring.get(int(match.group(1))) if match else None
        if task is not None:
            self.progress.update(task, total=total)
            self.advance(task, done)


def demo_settings(models: dict[str, str], *, db_url: str, output_dir: Path, steps: int, save_steps: int,
                  eval_limit: int | None) -> TrainSettings:
    """The ``train`` settings the demo runs: the tiny models, the packaged sample, all four metrics."""
    from malpyeong_eval.data import sample_path

    from .config import EvalSettings, TrainSettings

    return TrainSettings(
        model=models["policy"], data=str(sample_path("gold")), output_dir=str(output_dir),
        rewards=["format", "em", "rouge1"], db=db_url, bertscore_model=models["bert"], bertscore_layers=2,
        bleurt_model=models["bleurt"],
        eval=EvalSettings(data=str(sample_path("gold")), limit=eval_limit, metrics=DEFAULT_METRICS_TEXT, max_new_tokens=ANSWER_TOKENS,
                          batch_size=20, dataset_name="sample", start=True, mode="inline"),
        grpo={"max_steps": steps, "save_steps": save_steps, "per_device_train_batch_size": 4, "num_generations": 4,
              "max_completion_length": ANSWER_TOKENS, "learning_rate": LEARNING_RATE, "gradient_accumulation_steps": 1,
              "use_cpu": True, "disable_tqdm": True, "logging_steps": 1, "seed": 0},
    )


def run_demo(console: Console, *, db_url: str, output_dir: Path, cache: Path, steps: int = DEMO_STEPS, save_steps: int = DEMO_STEPS // 2,
             eval_limit: int | None = None) -> DemoResult:
    """Build, score, train, score each checkpoint, record (in the leaderboard at ``db_url``, tag
    ``train:NAME``), plot."""
    from leaderboard.plot import plot_training
    from leaderboard.store import Leaderboard, runs_of_training

    from malpyeong_eval.data import load_items, sample_path

    from .config import validate
    from .trainer import train, training_name

    check_output_dir(output_dir)  # before the database is created
    board = Leaderboard(db_url)
    kept = prepare_output_dir(output_dir)
    quiet = StringIO()  # what the libraries print goes here; the progress display keeps the real stderr
    display = Console(file=sys.stderr, width=console.width)
    with Progress(TextColumn("{task.fields[state]}"), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=display) as progress, warnings.catch_warnings(), \
            redirect_stdout(quiet), redirect_stderr(quiet):
        warnings.simplefilter("ignore")
        logging.getLogger("malpyeong_eval.rewards").setLevel(logging.ERROR)
        items = len(load_items(sample_path("gold"))[:eval_limit])
        stages = DemoDisplay(progress, steps=steps, save_steps=save_steps, items=items)
        models = _tiny_models(cache, stages)
        settings = demo_settings(models, db_url=db_url, output_dir=output_dir, steps=steps, save_steps=save_steps,
                                 eval_limit=eval_limit)
        grpo_config = validate(settings)
        try:
            train(settings, grpo_config, progress=stages.scored,
                  on_step=lambda step: stages.advance(stages.training, step))
            stages.start(stages.finish)
            name = training_name(settings)
            tag = f"train:{name}"
            runs = runs_of_training(board.runs(tag=tag))
            plot = plot_training(runs, output_dir / "training-curve.png", title=f"malpyeong-eval demo ({name})")
            stages.advance(stages.finish)
        finally:  # even an interrupted demo leaves the list of what it wrote, for the next one to clear
            record_written(output_dir, kept)
    return DemoResult(board=board, tag=tag, plot=plot, runs=len(runs))
