"""Evaluating checkpoints: generate (resuming), write the submission, score, record.

Generations are appended to ``generations.jsonl`` in a run folder as each batch finishes, so
an interrupted run resumes without regenerating finished items. A run whose fingerprint
(checkpoint, data, prompt, decoding settings, metric configuration) is already recorded is
reported, not recorded again; its submission is still written. Recording goes through a
:class:`~malpyeong_eval.recording.RunRecorder` (the leaderboard implements it).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoints import Target
from .data import Item, file_sha256
from .errors import AlreadyRecorded, MalpyeongError
from .evaluation import ContestScorer, EvaluationResult
from .generation import GenerationSettings, make_generator, render_prompts
from .prompts import ContestPrompt
from .recording import RunRecorder
from .submission import GenerationStore, write_submission

_WEIGHTS = ("*.safetensors", "*.bin", "*.pt")


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
        board: RunRecorder | None = None,
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
