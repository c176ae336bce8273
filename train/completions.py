"""The completions logs of a training: what GRPOTrainer writes with ``log_completions=True``.

TRL writes one parquet file per logging step, ``OUTPUT_DIR/completions/completions_{step:05d}.parquet``,
with the columns ``step``, ``prompt``, ``completion`` (conversations or strings), one column per reward
function (its ``__name__``), the ``log_extra`` columns (:class:`rewards.PartsLogging`'s ``answer_clause``
and ``reason``) and ``advantage``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from malpyeong_eval.errors import MalpyeongError
from rewards.functions import EXTRA_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

COMPLETIONS_FOLDER = "completions"
FILE_NAME = re.compile(r"completions_(\d+)\.parquet")
REQUIRED_COLUMNS = ("step", "prompt", "completion", "advantage")
REASON_COLUMN = EXTRA_COLUMNS[1]


@dataclass(frozen=True)
class StepSummary:
    """One logged step: how many completions, each reward's mean (``None``: no completion scored), and
    the share whose format is right (``None`` without PartsLogging's ``reason`` column)."""

    step: int
    n: int
    rewards: dict[str, float | None]
    format_ok: float | None


@dataclass(frozen=True)
class CompletionRow:
    """One logged completion: the prompt's last user message, the completion's text, its rewards and advantage."""

    prompt: str
    completion: str
    rewards: dict[str, float | None]
    advantage: float | None


def completion_files(output_dir: Path) -> dict[int, Path]:
    """The completions files of a training folder by step, in step order."""
    folder = Path(output_dir) / COMPLETIONS_FOLDER
    if not folder.is_dir():
        raise MalpyeongError(f"{folder}: no completions logs (train with --grpo log_completions=true)")
    files = {int(found.group(1)): path for path in folder.iterdir() if (found := FILE_NAME.fullmatch(path.name))}
    if not files:
        raise MalpyeongError(f"{folder}: no completions_STEP.parquet file")
    return dict(sorted(files.items()))


def read_completions(path: Path) -> pd.DataFrame:
    """One completions file; a file pandas cannot read, or one without TRL's columns, fails naming it."""
    import pandas as pd

    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # pyarrow's errors are many kinds (ArrowInvalid, OSError, ...)
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MalpyeongError(f"{path}: not a readable parquet file ({first_line})") from None
    missing = [column for column in REQUIRED_COLUMNS if column not in frame.columns]
    if missing:
        raise MalpyeongError(f"{path}: not a GRPOTrainer completions log (no column {missing[0]!r})")
    return frame


def reward_columns(frame: pd.DataFrame) -> list[str]:
    """The reward columns: TRL puts them between ``completion`` and the ``log_extra`` columns or ``advantage``."""
    columns = list(frame.columns)
    between = columns[columns.index("completion") + 1 : columns.index("advantage")]
    return [column for column in between if column not in EXTRA_COLUMNS]


def _number(value: Any) -> float | None:
    """A float, ``None`` for a missing value (NaN: a reward that returned ``None``)."""
    return None if value is None or math.isnan(float(value)) else float(value)


def summarize(step: int, frame: pd.DataFrame) -> StepSummary:
    """A step's summary. Format right: PartsLogging found a non-empty reason after ``가 옳다``/``이 옳다``
    (the organizers' split; ``format_reward`` is 1.0 exactly then)."""
    format_ok = None
    if REASON_COLUMN in frame.columns and len(frame):
        format_ok = float((frame[REASON_COLUMN].fillna("").astype(str).str.len() > 0).mean())
    return StepSummary(step=step, n=len(frame), format_ok=format_ok,
                       rewards={column: _number(frame[column].mean()) for column in reward_columns(frame)})


def step_summaries(output_dir: Path) -> list[StepSummary]:
    """Every logged step's summary, in step order."""
    return [summarize(step, read_completions(path)) for step, path in completion_files(output_dir).items()]


def message_text(value: Any, role: str | None = None) -> str:
    """The text of a logged prompt or completion: a string as is; of a conversation, the last message's
    content (the last of ``role`` when given; content parts joined)."""
    if isinstance(value, str):
        return value
    messages = [message for message in value if isinstance(message, Mapping) and role in (None, message.get("role"))]
    content = messages[-1].get("content") if messages else None
    if content is None or isinstance(content, str):
        return content or ""
    return "".join(str(part.get("text", "")) for part in content if isinstance(part, Mapping))


def step_completions(output_dir: Path, step: int) -> list[CompletionRow]:
    """The completions logged at ``step``; a step with no file fails naming the steps there are."""
    files = completion_files(output_dir)
    if step not in files:
        raise MalpyeongError(f"no completions logged at step {step}; logged steps: {', '.join(map(str, files))}")
    frame = read_completions(files[step])
    names = reward_columns(frame)
    return [CompletionRow(prompt=message_text(row["prompt"], role="user"), completion=message_text(row["completion"]),
                          rewards={name: _number(row[name]) for name in names}, advantage=_number(row["advantage"]))
            for _, row in frame.iterrows()]
