"""Experiment trackers (``--report-to trackio|wandb|none``): each scored checkpoint's contest
metrics and its per-item table, logged to the tracker's run.

``train`` logs into the run transformers' own tracker callback opened for the training (TRL's
``report_to``), at the checkpoint's step; ``run`` opens one tracker run of its own. trackio keeps
everything local (SQLite under ``$TRACKIO_DIR``, default ``~/.cache/huggingface/trackio``); wandb
is an optional extra (``pip install wandb``). The leaderboard stays the source of truth: a tracker
only mirrors what was recorded there.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from contextlib import redirect_stdout
from dataclasses import dataclass
from typing import Any

from .errors import MalpyeongError

TRACKERS = ("none", "trackio", "wandb")
ITEM_COLUMNS = ("item_id", "question_type", "prediction", "gold", "counted")


def check_tracker(name: str) -> str:
    """``name`` when it is a tracker that is installed; else one line saying what to do."""
    if name not in TRACKERS:
        raise MalpyeongError(f"unknown --report-to {name!r}; choose from {', '.join(TRACKERS)}")
    if name != "none" and importlib.util.find_spec(name) is None:
        raise MalpyeongError(f"--report-to {name} needs {name}: pip install {name}")
    return name


def training_tracker(report_to: Any) -> str:
    """The tracker a training's evaluations go to: the first of TRL's ``report_to`` that is one of ours."""
    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    return next((name for name in names if name in TRACKERS[1:]), "none")


@dataclass(frozen=True)
class Tracking:
    """Where evaluations are mirrored: the tracker (``none``: nowhere) and, for ``run``, its project and run name."""

    report_to: str = "none"
    project: str = "malpyeong-eval"
    run_name: str | None = None


def evaluation_log(outcome: Any) -> dict[str, Any]:
    """A scored checkpoint as one tracker entry: ``eval/<metric>`` for each metric computed,
    ``eval/n``, and ``train/global_step`` (the step transformers' callbacks log by)."""
    result = outcome.result
    entry: dict[str, Any] = {f"eval/{name}": value for name, value in result.metrics.items() if value is not None}
    entry["eval/n"] = result.n
    entry["train/global_step"] = outcome.target.step or 0
    return entry


def item_rows(outcome: Any) -> list[dict[str, Any]]:
    """The checkpoint's per-item table: id, type, prediction, gold, counted and each item score."""
    rows = []
    for item in outcome.result.items:
        row = {"item_id": item.id, "question_type": item.question_type, "prediction": item.prediction,
               "gold": item.gold, "counted": item.counted}
        row.update({name: getattr(item, name) for name in outcome.result.metrics if hasattr(item, name)})
        rows.append(row)
    return rows


class EvaluationLogger:
    """Logs scored checkpoints to the current run of ``report_to`` (opened by transformers' callback
    in ``train``, by :meth:`open` in ``run``)."""

    def __init__(self, tracking: Tracking) -> None:
        self.tracking = tracking
        self.name = check_tracker(tracking.report_to)
        self.opened = False

    @property
    def active(self) -> bool:
        return self.name != "none"

    def _module(self) -> Any:
        return importlib.import_module(self.name)

    def open(self, config: dict[str, Any] | None = None) -> None:
        """Start a tracker run of this evaluation (``run``; ``train`` uses the training's)."""
        if not self.active:
            return
        module = self._module()
        with redirect_stdout(sys.stderr):  # the tracker's own lines: stdout stays the command's (--json)
            module.init(project=self.tracking.project, name=self.tracking.run_name, config=config or {})
        self.opened = True

    def log(self, outcome: Any) -> None:
        """Log one scored checkpoint (an unscored one, on test items, has nothing to log)."""
        if not self.active or outcome.result is None:
            return
        import pandas as pd

        module = self._module()
        table = module.Table(dataframe=pd.DataFrame(item_rows(outcome)))
        with redirect_stdout(sys.stderr):
            module.log({**evaluation_log(outcome), "eval/items": table})

    def close(self) -> None:
        """Finish the tracker run this logger opened."""
        if self.opened:
            with redirect_stdout(sys.stderr):
                self._module().finish()
            self.opened = False
