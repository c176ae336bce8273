"""What a CHECKPOINT argument stands for, and watching a training folder for new checkpoints.

A CHECKPOINT is a model directory, a PEFT (LoRA) adapter directory, a training output folder
of ``checkpoint-N`` subfolders (each evaluated in step order), or a Hub id where the network
allows. :func:`resolve_targets` turns one into the :class:`Target` models to evaluate;
:func:`watch_checkpoints` yields a training folder's checkpoints as training writes them.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import MalpyeongError

CHECKPOINT_DIR = re.compile(r"^checkpoint-(\d+)$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
TRAINER_STATE = "trainer_state.json"  # transformers writes it last when it saves a checkpoint
_MODEL_WEIGHTS = ("model.safetensors", "model-*.safetensors", "pytorch_model.bin", "pytorch_model-*.bin",
                  "adapter_model.safetensors", "adapter_model.bin")


@dataclass(frozen=True)
class Target:
    """One model to evaluate."""

    model: str  # directory or Hub id of the (base) model
    adapter: str | None  # PEFT adapter directory, if any
    step: int | None
    name: str

    @property
    def checkpoint(self) -> str:
        return self.adapter or self.model


def step_of(directory: Path) -> int | None:
    """The training step of a checkpoint folder: from its name ``checkpoint-N``, else its trainer state."""
    match = CHECKPOINT_DIR.match(directory.name)
    if match:
        return int(match.group(1))
    state = directory / TRAINER_STATE
    if state.exists():
        try:
            return int(json.loads(state.read_text(encoding="utf-8"))["global_step"])
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            return None
    return None


def _check_loadable(model: str, what: str, flag: str) -> None:
    from .metrics.loading import check_hub_reachable

    if Path(model).is_dir():
        return
    if not _HUB_ID.match(model) or model.startswith((".", "/", "~")):
        raise MalpyeongError(f"{what} {model!r} is not a directory; give {flag}")
    try:
        check_hub_reachable(model)
    except OSError as exc:
        raise MalpyeongError(f"{what} {model!r} cannot be loaded: {exc}; give {flag} with a local directory") from None


def checkpoint_target(directory: Path, base_model: str | None, name: str) -> Target:
    """The model (or base model and adapter) in one directory, named ``name``."""
    if (directory / "adapter_config.json").exists():
        from .inputs import read_json

        config = read_json(directory / "adapter_config.json", what="adapter config")
        if not isinstance(config, dict):
            raise MalpyeongError(f"{directory}/adapter_config.json is not a JSON object: not a PEFT adapter")
        base = base_model or config.get("base_model_name_or_path")
        if base is not None and not isinstance(base, str):
            raise MalpyeongError(f"{directory}/adapter_config.json: 'base_model_name_or_path' is not text")
        if not base:
            raise MalpyeongError(f"adapter {directory} names no base model; give --base-model")
        _check_loadable(base, f"base model of adapter {directory}:", "--base-model")
        return Target(model=base, adapter=str(directory), step=step_of(directory), name=name)
    if (directory / "config.json").exists():
        return Target(model=str(directory), adapter=None, step=step_of(directory), name=name)
    raise MalpyeongError(
        f"{directory} is not a model directory (no config.json, adapter_config.json or checkpoint-* folders)"
    )


def checkpoint_dirs(folder: Path) -> list[tuple[int, Path]]:
    """The ``checkpoint-N`` subfolders of a training folder, in step order."""
    if not folder.is_dir():
        return []
    return sorted(
        (int(m.group(1)), child) for child in folder.iterdir()
        if child.is_dir() and (m := CHECKPOINT_DIR.match(child.name))
    )


def is_model_dir(path: Path) -> bool:
    return (path / "config.json").exists() or (path / "adapter_config.json").exists()


def resolve_targets(checkpoint: str, base_model: str | None = None) -> list[Target]:
    """The models a CHECKPOINT argument stands for, in step order for a training folder."""
    path = Path(checkpoint).expanduser()
    if path.is_dir():
        path = path.resolve()
        children = checkpoint_dirs(path)
        if children and not is_model_dir(path):
            return [checkpoint_target(child, base_model, training_run_name(path, child)) for _, child in children]
        name = f"{path.parent.name}/{path.name}" if CHECKPOINT_DIR.match(path.name) else path.name
        return [checkpoint_target(path, base_model, name)]
    if path.exists():
        raise MalpyeongError(f"{checkpoint}: not a directory")
    if not _HUB_ID.match(checkpoint) or checkpoint.startswith((".", "/", "~")):
        raise MalpyeongError(f"{checkpoint}: no such directory")
    _check_loadable(checkpoint, "model", "a local model directory")
    return [Target(model=checkpoint, adapter=None, step=None, name=checkpoint)]


def training_run_name(folder: Path, checkpoint: Path) -> str:
    """The leaderboard name of a training folder's checkpoint: ``FOLDER/checkpoint-N``."""
    return f"{folder.name}/{checkpoint.name}"


def is_complete_checkpoint(directory: Path) -> bool:
    """Whether training has finished writing this checkpoint: model weights and a readable
    ``trainer_state.json`` (written after the weights, optimizer and RNG states)."""
    try:
        json.loads((directory / TRAINER_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # absent, or caught while it is being written
        return False
    if not is_model_dir(directory):
        return False
    return any(next(directory.glob(pattern), None) is not None for pattern in _MODEL_WEIGHTS)


def watch_checkpoints(
    folder: Path,
    *,
    poll_seconds: float = 30.0,
    idle_timeout: float | None = None,
    until_step: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[tuple[int, Path]]:
    """Yield ``(step, directory)`` for each complete ``checkpoint-N`` of ``folder``, once, in step order.

    Checkpoints already there come first; then the folder is polled every ``poll_seconds``.
    The watch ends after ``idle_timeout`` seconds without a new checkpoint (``None``: never;
    the time the caller spends on a checkpoint does not count), or once a checkpoint of step
    ``until_step`` or later is complete (checkpoints after ``until_step`` are not yielded).
    Interrupting it (Ctrl-C) raises ``KeyboardInterrupt`` from the sleep.
    """
    seen: set[int] = set()
    last_new = clock()
    while True:
        fresh = [(step, path) for step, path in checkpoint_dirs(folder)
                 if step not in seen and is_complete_checkpoint(path)]
        for step, path in fresh:
            seen.add(step)
            if until_step is None or step <= until_step:
                yield step, path
            last_new = clock()  # after the caller's work: evaluating is not idling
        if until_step is not None and any(step >= until_step for step in seen):
            return
        if idle_timeout is not None and clock() - last_new >= idle_timeout:
            return
        wait = poll_seconds if idle_timeout is None else min(poll_seconds, max(0.0, idle_timeout - (clock() - last_new)))
        sleep(wait)
