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
from .generation import EngineOptions, GenerationSettings, make_generator
from .prompts import EXTRA_LAYOUT, ContestPrompt
from .recording import RunMetadata, RunRecorder
from .submission import GenerationStore, write_submission

_WEIGHTS = ("*.safetensors", "*.bin", "*.pt")


def _weights_signature(directory: str) -> list[tuple[str, int, int]]:
    path = Path(directory)
    if not path.is_dir():
        return []
    files = sorted({f for pattern in _WEIGHTS for f in path.glob(pattern)})
    return [(f.name, f.stat().st_size, int(f.stat().st_mtime)) for f in files]


def generation_key(target: Target, data_hash: str, prompt: ContestPrompt, settings: GenerationSettings,
                   limit: int | None, backend: str, *, extra_layout: str | None = None,
                   engine: dict[str, Any] | None = None) -> str:
    """Names the generations of a target on these data with this prompt and decoding.

    ``extra_layout`` (:data:`~malpyeong_eval.prompts.EXTRA_LAYOUT`, given when the items carry
    extra input fields) names how those fields were rendered; absent, the key is what it was
    before extra fields were rendered. ``engine`` (:meth:`EngineOptions.record`: a served endpoint,
    vLLM engine arguments) counts when not empty.
    """
    payload = {
        "model": target.model if not Path(target.model).exists() else str(Path(target.model).resolve()),
        "adapter": str(Path(target.adapter).resolve()) if target.adapter else None,
        "weights": _weights_signature(target.checkpoint),
        "data": data_hash, "limit": limit, "prompt": prompt.hash, "settings": settings.to_dict(), "backend": backend,
    }
    if extra_layout is not None:
        payload["extra_layout"] = extra_layout
    if engine:
        payload["engine"] = engine
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _item_content(item: Item) -> dict[str, Any]:
    """An item as hashed when there is no data file: its four contest fields, and the others only when set."""
    content: dict[str, Any] = {"id": item.id, "question_type": item.question_type, "question": item.question,
                               "answer": item.answer}
    for key in ("extra_inputs", "article", "retrieval"):
        if getattr(item, key):
            content[key] = getattr(item, key)
    return content


RETRIEVAL_DETAILS = ("passage_ids", "scores")  # per item: left out of the run's retrieval settings


def retrieval_settings(items: Sequence[Item]) -> dict[str, Any] | None:
    """What a run records of the context its items carry (``runs.retrieval``).

    The items' ``retrieval`` record (``malpyeong-eval retrieve``) without its per-item
    ``passage_ids`` and ``scores``, when every item carries the same one; ``{"fields": [...]}``
    (the extra input fields' names, in first-seen order) when items carry extra input fields
    without one shared record (a team's own retriever, or mixed records); ``None`` for plain
    contest items.
    """
    settings = [
        None if item.retrieval is None else {k: v for k, v in item.retrieval.items() if k not in RETRIEVAL_DETAILS}
        for item in items
    ]
    if settings and settings[0] is not None and all(entry == settings[0] for entry in settings):
        return settings[0]
    fields = list(dict.fromkeys(key for item in items for key in item.extra_inputs))
    return {"fields": fields} if fields else None


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
        batch_size: int | None = 8,  # None: auto
        backend: str = "transformers",
        scorer: ContestScorer | None = None,
        board: RunRecorder | None = None,
        runs_root: Path = Path("malpyeong-runs"),
        device: str | None = None,
        trust_remote_code: bool = False,
        tags: Sequence[str] = (),
        progress: Callable[[str, int, int], Any] | None = None,
        engine: EngineOptions | None = None,
    ) -> None:
        if not items:
            raise MalpyeongError(f"{data_path or 'data'}: no items to run")
        self.items = list(items)
        self.data_path = data_path
        self.data_hash = file_sha256(data_path) if data_path else hashlib.sha256(
            json.dumps([_item_content(i) for i in items], ensure_ascii=False).encode()).hexdigest()
        self.dataset_name = dataset_name
        self.prompt, self.settings, self.batch_size, self.backend = prompt, settings, batch_size, backend
        self.scorer, self.board, self.runs_root = scorer, board, runs_root
        self.device, self.trust_remote_code, self.tags = device, trust_remote_code, list(tags)
        self.progress = progress
        self.engine = engine or EngineOptions(device=device, trust_remote_code=trust_remote_code)
        self.engine_record, self.engine_key = self.engine.record(backend), self.engine.key(backend)
        self.scorable = all(item.answer is not None for item in self.items)
        self.limit = len(self.items)
        self.extra_layout = EXTRA_LAYOUT if any(item.extra_inputs for item in self.items) else None
        self.retrieval = retrieval_settings(self.items)

    def fingerprint(self, key: str) -> str:
        metric_config = self.scorer.config if self.scorer else {}
        metric_config = {k: v for k, v in metric_config.items() if k != "malpyeong_eval"}
        return hashlib.sha256(json.dumps([key, metric_config], sort_keys=True).encode()).hexdigest()

    def _generate(self, target: Target, store: GenerationStore) -> tuple[dict[str, str], int]:
        wanted = {item.id for item in self.items}
        done = {k: v for k, v in store.load().items() if k in wanted}
        todo = [item for item in self.items if item.id not in done]
        if todo:
            generator = make_generator(self.backend, target.model, adapter=target.adapter, engine=self.engine)
            prompts = generator.render(self.prompt, todo)
            finished = len(done)

            def on_batch(indices: list[int], answers: list[str]) -> None:
                nonlocal finished
                store.append([(todo[i].id, answer, prompts[i]) for i, answer in zip(indices, answers, strict=True)])
                records = [(todo[i].id, answer) for i, answer in zip(indices, answers, strict=True)]
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
        key = generation_key(target, self.data_hash, self.prompt, self.settings, self.limit, self.backend,
                             extra_layout=self.extra_layout, engine=self.engine_key)
        fingerprint = self.fingerprint(key)
        folder = self.runs_root / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', target.name)}-{key[:10]}"
        submission = output or folder / "submission.json"
        board = self.board
        stored = board.find(fingerprint) if board is not None and self.scorable else None
        if board is not None and stored is not None:
            predictions = {row["item_id"]: row["prediction"] for row in board.items(stored)}
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
                metadata = RunMetadata(
                    checkpoint=target.checkpoint, base_model=target.model if target.adapter else None,
                    step=target.step, dataset_name=self.dataset_name, dataset_hash=self.data_hash,
                    prompt_id=self.prompt.id, prompt_hash=self.prompt.hash,
                    generation={**self.settings.to_dict(), "backend": self.backend, "limit": self.limit,
                                **self.engine_record},
                    fingerprint=fingerprint, tags=tuple(self.tags), retrieval=self.retrieval,
                )
                record = self.board.record(outcome.result, name=self._free_name(name or target.name, fingerprint),
                                           metadata=metadata)
            except AlreadyRecorded as existing:  # a concurrent run of the same checkpoint got there first
                record, outcome.already_recorded = existing.run, True
            outcome.run_id, outcome.run_name = record.id, record.name
        return outcome

    def _free_name(self, name: str, fingerprint: str) -> str:
        if self.board is None:
            return name
        try:
            self.board.get(name)
        except MalpyeongError:
            return name
        return f"{name}@{fingerprint[:8]}"
