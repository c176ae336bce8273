"""``malpyeong-eval run``: generate answers with a checkpoint, write a submission, score, record.

A CHECKPOINT is a model directory, a PEFT (LoRA) adapter directory, a training
output folder of ``checkpoint-N`` subfolders (each evaluated in step order), or a
Hub id where the network allows. Generations are appended to ``generations.jsonl``
in a run folder as each batch finishes, so an interrupted run resumes without
regenerating finished items. A run whose fingerprint (checkpoint, data, prompt,
decoding settings, metric configuration) is already on the leaderboard is reported,
not recorded again; its submission is still written.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .data import Item, file_sha256
from .errors import MalpyeongError
from .evaluation import ContestScorer, EvaluationResult
from .generation import GenerationSettings, make_generator, render_prompts
from .prompts import ContestPrompt

_CHECKPOINT_DIR = re.compile(r"^checkpoint-(\d+)$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_WEIGHTS = ("*.safetensors", "*.bin", "*.pt")


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


def _step_of(directory: Path) -> int | None:
    match = _CHECKPOINT_DIR.match(directory.name)
    if match:
        return int(match.group(1))
    state = directory / "trainer_state.json"
    if state.exists():
        try:
            return int(json.loads(state.read_text(encoding="utf-8"))["global_step"])
        except (ValueError, KeyError, TypeError, json.JSONDecodeError):
            return None
    return None


def _check_loadable(model: str, what: str, flag: str) -> None:
    from .metrics.models import check_hub_reachable

    if Path(model).is_dir():
        return
    if not _HUB_ID.match(model) or model.startswith((".", "/", "~")):
        raise MalpyeongError(f"{what} {model!r} is not a directory; give {flag}")
    try:
        check_hub_reachable(model)
    except OSError as exc:
        raise MalpyeongError(f"{what} {model!r} cannot be loaded: {exc}; give {flag} with a local directory") from None


def _single_target(directory: Path, base_model: str | None, name: str) -> Target:
    if (directory / "adapter_config.json").exists():
        try:
            config = json.loads((directory / "adapter_config.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise MalpyeongError(f"{directory}/adapter_config.json cannot be read: {exc}") from None
        base = base_model or config.get("base_model_name_or_path")
        if not base:
            raise MalpyeongError(f"adapter {directory} names no base model; give --base-model")
        _check_loadable(base, f"base model of adapter {directory}:", "--base-model")
        return Target(model=base, adapter=str(directory), step=_step_of(directory), name=name)
    if (directory / "config.json").exists():
        return Target(model=str(directory), adapter=None, step=_step_of(directory), name=name)
    raise MalpyeongError(
        f"{directory} is not a model directory (no config.json, adapter_config.json or checkpoint-* folders)"
    )


def resolve_targets(checkpoint: str, base_model: str | None = None) -> list[Target]:
    """The models a CHECKPOINT argument stands for, in step order for a training folder."""
    path = Path(checkpoint).expanduser()
    if path.is_dir():
        path = path.resolve()
        children = sorted(
            (int(m.group(1)), child) for child in path.iterdir()
            if child.is_dir() and (m := _CHECKPOINT_DIR.match(child.name))
        )
        if children and not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
            return [_single_target(child, base_model, f"{path.name}/{child.name}") for _, child in children]
        name = f"{path.parent.name}/{path.name}" if _CHECKPOINT_DIR.match(path.name) else path.name
        return [_single_target(path, base_model, name)]
    if path.exists():
        raise MalpyeongError(f"{checkpoint}: not a directory")
    if not _HUB_ID.match(checkpoint) or checkpoint.startswith((".", "/", "~")):
        raise MalpyeongError(f"{checkpoint}: no such directory")
    _check_loadable(checkpoint, "model", "a local model directory")
    return [Target(model=checkpoint, adapter=None, step=None, name=checkpoint)]


def _weights_signature(directory: str) -> list[tuple[str, int, int]]:
    path = Path(directory)
    if not path.is_dir():
        return []
    files = sorted({f for pattern in _WEIGHTS for f in path.glob(pattern)})
    return [(f.name, f.stat().st_size, int(f.stat().st_mtime)) for f in files]


def generation_key(target: Target, data_hash: str, prompt: ContestPrompt, settings: GenerationSettings,
                   limit: int | None, backend: str) -> str:
    """Names the generations of a target on these data with this prompt and decoding."""
    payload = {
        "model": target.model if not Path(target.model).exists() else str(Path(target.model).resolve()),
        "adapter": str(Path(target.adapter).resolve()) if target.adapter else None,
        "weights": _weights_signature(target.checkpoint),
        "data": data_hash, "limit": limit, "prompt": prompt.hash, "settings": settings.to_dict(), "backend": backend,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class GenerationStore:
    """Generations of one run folder: ``generations.jsonl``, appended and synced batch by batch."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "generations.jsonl"

    def load(self) -> dict[str, str]:
        done: dict[str, str] = {}
        if self.path.exists():
            for line in self.path.read_bytes().splitlines():
                try:
                    record = json.loads(line.decode("utf-8"))
                    done[str(record["id"])] = str(record["prediction"])
                except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut off by a crash: regenerate that item
        return done

    def append(self, records: Sequence[tuple[str, str]]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            for item_id, prediction in records:
                handle.write(json.dumps({"id": item_id, "prediction": prediction}, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def write_submission(path: Path, items: Sequence[Item], predictions: dict[str, str], source: Path | None) -> None:
    """The data file with ``output.answer`` filled in (other fields kept when the source is JSON)."""
    records: list[dict[str, Any]] = [
        {"id": item.id, "input": {"question_type": item.question_type, "question": item.question}} for item in items
    ]
    if source is not None:
        from .data import read_records

        originals = {str(r.get("id")): r for r in read_records(source) if isinstance(r, dict)}
        records = [dict(originals.get(record["id"], record)) for record in records]
    for record in records:
        record["output"] = {**(record.get("output") or {}), "answer": predictions[str(record["id"])]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(records, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


@dataclass
class RunOutcome:
    target: Target
    predictions: dict[str, str]
    submission: Path
    result: EvaluationResult | None = None
    run_id: int | None = None
    run_name: str | None = None
    already_recorded: bool = False
    resumed: int = 0


class CheckpointRunner:
    """Evaluates checkpoints on one dataset with one prompt, settings and scorer (models loaded once)."""

    def __init__(
        self,
        items: Sequence[Item],
        *,
        data_path: Path | None,
        dataset_name: str,
        prompt: ContestPrompt,
        settings: GenerationSettings,
        batch_size: int = 8,
        backend: str = "transformers",
        scorer: ContestScorer | None = None,
        board=None,
        runs_root: Path = Path("malpyeong-runs"),
        device: str | None = None,
        trust_remote_code: bool = False,
        tags: Sequence[str] = (),
        progress: Callable[[str, int, int], Any] | None = None,
    ) -> None:
        if not items:
            raise MalpyeongError(f"{data_path or 'data'}: no items to run")
        self.items = list(items)
        self.data_path = data_path
        self.data_hash = file_sha256(data_path) if data_path else hashlib.sha256(
            json.dumps([vars(i) for i in items], ensure_ascii=False).encode()).hexdigest()
        self.dataset_name = dataset_name
        self.prompt, self.settings, self.batch_size, self.backend = prompt, settings, batch_size, backend
        self.scorer, self.board, self.runs_root = scorer, board, runs_root
        self.device, self.trust_remote_code, self.tags = device, trust_remote_code, list(tags)
        self.progress = progress
        self.scorable = all(item.answer is not None for item in self.items)
        self.limit = len(self.items)

    def fingerprint(self, key: str) -> str:
        metric_config = self.scorer.config if self.scorer else {}
        metric_config = {k: v for k, v in metric_config.items() if k != "malpyeong_eval"}
        return hashlib.sha256(json.dumps([key, metric_config], sort_keys=True).encode()).hexdigest()

    def _generate(self, target: Target, store: GenerationStore) -> tuple[dict[str, str], int]:
        wanted = {item.id for item in self.items}
        done = {k: v for k, v in store.load().items() if k in wanted}
        todo = [item for item in self.items if item.id not in done]
        if todo:
            generator = make_generator(self.backend, target.model, adapter=target.adapter, device=self.device,
                                       trust_remote_code=self.trust_remote_code)
            prompts = render_prompts(generator.tokenizer, self.prompt, todo)
            finished = len(done)

            def on_batch(indices: list[int], answers: list[str]) -> None:
                nonlocal finished
                records = [(todo[i].id, answer) for i, answer in zip(indices, answers)]
                store.append(records)
                done.update(records)
                finished += len(records)
                if self.progress:
                    self.progress(target.name, finished, len(self.items))

            if self.progress:
                self.progress(target.name, finished, len(self.items))
            generator.generate(prompts, self.settings, self.batch_size, on_batch)
        return done, len(self.items) - len(todo)

    def run(self, target: Target, *, name: str | None = None, output: Path | None = None) -> RunOutcome:
        """Generate (resuming), write the submission, score and record one target."""
        key = generation_key(target, self.data_hash, self.prompt, self.settings, self.limit, self.backend)
        fingerprint = self.fingerprint(key)
        folder = self.runs_root / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', target.name)}-{key[:10]}"
        submission = output or folder / "submission.json"
        stored = self.board.find(fingerprint) if self.board is not None and self.scorable else None
        if stored is not None:
            predictions = {row["item_id"]: row["prediction"] for row in self.board.items(stored)}
            if set(predictions) >= {item.id for item in self.items}:
                write_submission(submission, self.items, predictions, self.data_path)
                return RunOutcome(target, predictions, submission, run_id=stored.id, run_name=stored.name,
                                  already_recorded=True)
        predictions, resumed = self._generate(target, GenerationStore(folder))
        write_submission(submission, self.items, predictions, self.data_path)
        outcome = RunOutcome(target, predictions, submission, resumed=resumed)
        if not self.scorable or self.scorer is None:
            return outcome
        submitted = [Item(i.id, i.question_type, i.question, predictions[i.id]) for i in self.items]
        outcome.result = self.scorer.evaluate(self.items, submitted)
        if self.board is not None:
            from leaderboard.store import AlreadyRecorded

            try:
                record = self.board.record(
                    outcome.result, name=self._free_name(name or target.name, fingerprint),
                    checkpoint=target.checkpoint, base_model=target.model if target.adapter else None,
                    step=target.step, dataset_name=self.dataset_name, dataset_hash=self.data_hash,
                    prompt_id=self.prompt.id, prompt_hash=self.prompt.hash,
                    generation={**self.settings.to_dict(), "backend": self.backend, "limit": self.limit},
                    fingerprint=fingerprint, tags=self.tags,
                )
            except AlreadyRecorded as existing:  # a concurrent run of the same checkpoint got there first
                record, outcome.already_recorded = existing.run, True
            outcome.run_id, outcome.run_name = record.id, record.name
        return outcome

    def _free_name(self, name: str, fingerprint: str) -> str:
        try:
            self.board.get(name)
        except MalpyeongError:
            return name
        return f"{name}@{fingerprint[:8]}"
