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
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from .backends import make_generator
from .batching import settled_line
from .checkpoints import Target
from .citation import Choice, choose, item_candidates, split_citation
from .data import DataFile, Item
from .display import RichDisplay
from .errors import AlreadyRecorded, MalpyeongError
from .evaluation import ContestScorer, EvaluationResult
from .generation import DEFAULT_BATCH_SIZE, EngineOptions, GenerationSettings
from .metrics.options import ScorerOptions
from .norms import norm_breakdown
from .outputs import write_output
from .prompts import EXTRA_LAYOUT, ContestPrompt, clean_output
from .provenance import WEIGHT_PATTERNS, Stopwatch, model_provenance, run_provenance, text_hash
from .recording import RunMetadata, RunRecorder
from .report import visible
from .sampling import Sampling, choose_candidates
from .submission import Generation, GenerationStore, run_folder_name, write_submission


def _weights_signature(directory: str) -> list[tuple[str, int, int]]:
    path = Path(directory)
    if not path.is_dir():
        return []
    files = sorted({f for pattern in WEIGHT_PATTERNS for f in path.glob(pattern)})
    return [(f.name, f.stat().st_size, int(f.stat().st_mtime)) for f in files]


def generation_key(target: Target, data_hash: str, prompt: ContestPrompt, settings: GenerationSettings,
                   limit: int | None, backend: str, *, extra_layout: str | None = None,
                   engine: dict[str, Any] | None = None, sampling: dict[str, Any] | None = None) -> str:
    """Names the generations of a target on these data with this prompt and decoding.

    ``extra_layout`` (:data:`~malpyeong_eval.prompts.EXTRA_LAYOUT`, given when the items carry
    extra input fields) names how those fields were rendered; absent, the key is what it was
    before extra fields were rendered. ``engine`` (:meth:`EngineOptions.record`: a served endpoint,
    vLLM engine arguments) and ``sampling`` (:meth:`~malpyeong_eval.sampling.Sampling.record`: the
    candidates per item, the rule and its utilities) count when not empty.
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
    if sampling:
        payload["sampling"] = sampling
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


def item_choices(items: Sequence[Item], citations: dict[str, str | None]) -> list[Choice]:
    """Each item's :class:`~malpyeong_eval.citation.Choice`: what its generation cited (``citations``
    by id) among its candidates (``retrieve``'s passages), judged against its ``output.article``."""
    return [choose(citations.get(item.id), item_candidates(item.extra_inputs, item.retrieval), item.article)
            for item in items]


@dataclass
class RunOutcome(RichDisplay):
    """One checkpoint evaluated: its predictions and submission file, its scores (``None`` on items
    without answers), how it was recorded, and its :class:`RunMetadata` (``None`` when it was already
    recorded: nothing was run). Prints as its score table (rich, Jupyter)."""

    target: Target
    predictions: dict[str, str]
    submission: Path
    result: EvaluationResult | None = None
    run_id: int | None = None
    run_name: str | None = None
    already_recorded: bool = False
    resumed: int = 0
    metadata: RunMetadata | None = None
    results_file: Path | None = None
    batch_size: int | None = None  # --batch-size auto: the generation batch size it settled on

    @property
    def provenance(self) -> dict[str, Any] | None:
        """What produced the run (:mod:`malpyeong_eval.provenance`), timing included."""
        return self.metadata.provenance if self.metadata else None

    def status(self) -> str:
        """One line: where the run went and where its submission is."""
        state = ("already on the leaderboard" if self.already_recorded else
                 f"recorded as {self.run_name!r}" if self.run_name else "not recorded")
        return (f"{self.target.name}: {state}; submission {self.submission}"
                + (f"; resumed {self.resumed} finished {self._generated_unit}" if self.resumed else "")
                + (f"; {settled_line('generation', self.batch_size)}" if self.batch_size is not None else ""))

    @property
    def _generated_unit(self) -> str:
        """What ``resumed`` counts: items, or a sampled run's candidates."""
        return "candidates" if self.metadata is not None and self.metadata.generation.get("samples") else "items"

    def to_json(self) -> dict[str, Any]:
        """The outcome as an entry of ``malpyeong-eval run --json``."""
        return {
            "checkpoint": self.target.checkpoint, "step": self.target.step, "run": self.run_name,
            "run_id": self.run_id, "already_recorded": self.already_recorded, "resumed": self.resumed,
            "submission": str(self.submission), "metrics": self.result.metrics if self.result else None,
            "results": str(self.results_file) if self.results_file else None,
        }

    def results_json(self) -> dict[str, Any]:
        """The run's results file (``results.json``, beside ``generations.jsonl``): scores and everything
        that produced them, as lm-evaluation-harness writes one per run. The one writer of that format."""
        result, metadata = self.result, self.metadata or RunMetadata()
        return {
            "results": {metadata.dataset_name or "data": result.metrics} if result else None,
            "by_type": result.by_type if result else None,
            "by_norm": norm_breakdown(asdict(item) for item in result.items).to_json() if result else None,
            "n": len(self.predictions),
            "n_counted": result.n_counted if result else None, "scoring_rules": result.rules if result else None,
            "metric_config": result.config if result else None,
            "run": {"id": self.run_id, "name": self.run_name, "already_recorded": self.already_recorded},
            "checkpoint": metadata.checkpoint, "base_model": metadata.base_model, "step": metadata.step,
            "dataset": {"name": metadata.dataset_name, "sha256": metadata.dataset_hash},
            "prompt": {"id": metadata.prompt_id, "sha256": metadata.prompt_hash}, "generation": metadata.generation,
            "retrieval": metadata.retrieval, "fingerprint": metadata.fingerprint, "tags": list(metadata.tags),
            "submission": str(self.submission), "provenance": metadata.provenance,
        }

    def __rich__(self) -> Any:
        from rich.console import Group
        from rich.text import Text

        from .report import inert, result_table

        status = Text(visible(self.status()))
        return Group(result_table(self.result, title=inert(self.target.name)), status) if self.result else status



def _dtype(generator: Any) -> str | None:
    """The dtype the generator's weights run in (transformers: the model's; vLLM: its model config's)."""
    dtype = getattr(getattr(generator, "model", None), "dtype", None)
    if dtype is None:
        engine = getattr(getattr(generator, "llm", None), "llm_engine", None)
        dtype = getattr(getattr(engine, "model_config", None), "dtype", None)
    return None if dtype is None else str(dtype).removeprefix("torch.")


def _chat_template(target: Target, trust_remote_code: bool) -> str | None:
    """The chat template the target's tokenizer applies (read when no generation loaded it)."""
    from transformers import AutoTokenizer

    has_own = target.adapter is not None and (Path(target.adapter) / "tokenizer_config.json").exists()
    try:
        tokenizer = AutoTokenizer.from_pretrained(target.adapter if has_own else target.model,
                                                  trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError):
        return None
    template = getattr(tokenizer, "chat_template", None)
    return template if isinstance(template, str) else None


class CheckpointRunner:
    """Evaluates checkpoints on one dataset with one prompt, settings and scorer (models loaded once).

    ``items`` are those run (all of ``data.items``, or its first N); ``data`` is the file they were
    read from (:func:`~malpyeong_eval.data.load_data`), whose sha256 is the run's data, or ``None``
    for items built in code, hashed by their content. ``engine``: the backend and how it loads
    (device, ``trust_remote_code``). ``sampling``: the candidates each item gets and the rule that
    chooses among them, whose utilities run with ``scorer_options`` (default: one greedy answer).
    :func:`malpyeong_eval.runs.run_checkpoints` builds one from a :class:`~malpyeong_eval.runs.RunRequest`.
    """

    def __init__(
        self,
        items: Sequence[Item],
        *,
        data: DataFile | None,
        dataset_name: str,
        prompt: ContestPrompt,
        settings: GenerationSettings,
        batch_size: int | None = DEFAULT_BATCH_SIZE,  # None: auto
        scorer: ContestScorer | None = None,
        board: RunRecorder | None = None,
        runs_root: Path = Path("malpyeong-runs"),
        tags: Sequence[str] = (),
        progress: Callable[[str, int, int], Any] | None = None,
        engine: EngineOptions = EngineOptions(),
        sampling: Sampling = Sampling(),
        scorer_options: ScorerOptions = ScorerOptions(),
    ) -> None:
        if not items:
            raise MalpyeongError(f"{data.path if data else 'data'}: no items to run")
        self.items, self.data = list(items), data
        self.data_hash = data.sha256 if data else hashlib.sha256(
            json.dumps([_item_content(i) for i in items], ensure_ascii=False).encode()).hexdigest()
        self.dataset_name = dataset_name
        self.prompt, self.settings, self.batch_size = prompt, settings, batch_size
        self.scorer, self.board, self.runs_root = scorer, board, runs_root
        self.tags = list(tags)
        self.progress = progress
        self.engine = engine
        self.engine_record, self.engine_key = engine.record(), engine.key()
        self.sampling, self.scorer_options = sampling, scorer_options
        self.sampling_record = sampling.record(scorer_options)  # checks the utilities' models before any generation
        self.scorable = all(item.answer is not None for item in self.items)
        self.limit = len(self.items)
        self.extra_layout = EXTRA_LAYOUT if any(item.extra_inputs for item in self.items) else None
        self.retrieval = retrieval_settings(self.items)

    def fingerprint(self, key: str) -> str:
        metric_config = self.scorer.config if self.scorer else {}
        metric_config = {k: v for k, v in metric_config.items() if k != "malpyeong_eval"}
        return hashlib.sha256(json.dumps([key, metric_config], sort_keys=True).encode()).hexdigest()

    def _generate(self, target: Target, store: GenerationStore) -> tuple[dict[str, Generation], int, dict[str, Any]]:
        """Each item's submitted generation (resumed and new), how many generations were resumed, and
        how the new ones were made. Each generation is stored cleaned (:func:`clean_output`) with what
        its citation line named; a sampled run stores every candidate, then the rule's choice."""
        from .metrics.loading import resolve_device

        wanted = {item.id for item in self.items}
        stored = {item_id: slots for item_id, slots in store.candidates().items() if item_id in wanted}
        passes = [(sample, [item for item in self.items if sample not in stored.get(item.id, {})])
                  for sample in range(self.sampling.n)]
        missing = sum(len(todo) for _, todo in passes)
        made: dict[str, Any] = {"device": resolve_device(self.engine.device), "dtype": None, "chat_template": None,
                                "generated": missing, "seconds": 0.0}
        if missing:
            self._generate_missing(target, store, passes, stored, made)
        else:
            made["chat_template"] = _chat_template(target, self.engine.trust_remote_code)
        return self._submitted(store, stored), len(self.items) * self.sampling.n - missing, made

    def _generate_missing(self, target: Target, store: GenerationStore, passes: list[tuple[int, list[Item]]],
                          stored: dict[str, dict[int, Generation]], made: dict[str, Any]) -> None:
        """Generate what ``passes`` lacks (per candidate number, its items), storing each batch as it ends."""
        started = time.perf_counter()
        generator = make_generator(self.engine.backend, target.model, adapter=target.adapter, engine=self.engine)
        tokenizer = getattr(generator, "tokenizer", None)
        made.update(device=str(getattr(generator, "device", None) or made["device"]), dtype=_dtype(generator),
                    chat_template=getattr(tokenizer, "chat_template", None))
        missing = {item.id for _, todo in passes for item in todo}
        needed = [item for item in self.items if item.id in missing]
        rendered = dict(zip((item.id for item in needed), generator.render(self.prompt, needed), strict=True))
        check = getattr(generator, "check_prompts", None)  # backends that know their context
        if check is not None:
            check(list(rendered.values()), [repr(item_id) for item_id in rendered])
        self._report(target, stored)
        for sample, todo in passes:
            if todo:
                prompts = [rendered[item.id] for item in todo]
                store_batch = partial(self._store_batch, target, store, stored, todo, prompts,
                                      sample if self.sampling.enabled else None)
                generator.generate(prompts, self.sampling.settings(self.settings, sample), self.batch_size, store_batch)
        made["seconds"] = time.perf_counter() - started
        if self.batch_size is None:  # auto: the size that fitted
            made["batch_size"] = getattr(generator, "batch_size", None)

    def _store_batch(self, target: Target, store: GenerationStore, stored: dict[str, dict[int, Generation]],
                     todo: list[Item], prompts: list[str], sample: int | None, indices: list[int], texts: list[str]) -> None:
        """Store one finished batch (``indices`` into ``todo``) of candidate ``sample`` (``None``: a plain run)."""
        records = [Generation(todo[i].id, clean_output(text), prompts[i], split_citation(text.strip()).reference, sample)
                   for i, text in zip(indices, texts, strict=True)]
        store.append(records)
        for record in records:
            stored.setdefault(record.id, {})[record.sample or 0] = record
        self._report(target, stored)

    def _report(self, target: Target, stored: dict[str, dict[int, Generation]]) -> None:
        if self.progress:
            total = len(self.items) * self.sampling.n
            self.progress(target.name, min(total, sum(len(slots) for slots in stored.values())), total)

    def _submitted(self, store: GenerationStore, stored: dict[str, dict[int, Generation]]) -> dict[str, Generation]:
        """Each item's answer: its generation, or the candidate the rule chooses (every candidate then
        rewritten with what the rule measured of it)."""
        if not self.sampling.enabled:
            return {item.id: stored[item.id][0] for item in self.items}
        chosen = choose_candidates(self.sampling, [[stored[item.id][sample] for sample in range(self.sampling.n)]
                                                   for item in self.items], self.scorer_options)
        store.replace([candidate for candidates in chosen for candidate in candidates])
        return {candidate.id: candidate for candidates in chosen for candidate in candidates if candidate.chosen}

    def _provenance(self, target: Target, made: dict[str, Any], stopwatch: Stopwatch,
                    scoring_seconds: float) -> dict[str, Any]:
        """What produced this run (:mod:`malpyeong_eval.provenance`), timing included."""
        template, seconds, generated = made["chat_template"], made["seconds"], made["generated"]
        return run_provenance(
            made["device"], stopwatch, device_details={"dtype": made["dtype"]},
            model=model_provenance(target.model, target.adapter),
            chat_template_sha256=text_hash(template if isinstance(template, str) else None),
            seed=self.settings.seed, backend=self.engine.backend, generation_seconds=round(seconds, 3),
            scoring_seconds=round(scoring_seconds, 3), items_generated=generated,
            items_per_second=round(generated / seconds, 3) if generated and seconds > 0 else None,
        )

    def run(self, target: Target, *, name: str | None = None, output: Path | None = None) -> RunOutcome:
        """Generate (resuming), write the submission, score and record one target; ``results.json``
        in the run folder holds the scores and the run's provenance."""
        stopwatch = Stopwatch()
        key = generation_key(target, self.data_hash, self.prompt, self.settings, self.limit, self.engine.backend,
                             extra_layout=self.extra_layout, engine=self.engine_key, sampling=self.sampling_record)
        fingerprint = self.fingerprint(key)
        folder = self.runs_root / run_folder_name(target.name, key)
        submission = output or folder / "submission.json"
        board = self.board
        stored = board.find(fingerprint) if board is not None and self.scorable else None
        if board is not None and stored is not None:
            predictions = {item.item_id: item.prediction for item in board.items(stored)}
            if set(predictions) >= {item.id for item in self.items}:
                write_submission(submission, self.items, predictions)
                return RunOutcome(target, predictions, submission, run_id=stored.id, run_name=stored.name,
                                  already_recorded=True)
        generations, resumed, made = self._generate(target, GenerationStore(folder))
        predictions = {item_id: generation.prediction for item_id, generation in generations.items()}
        write_submission(submission, self.items, predictions)
        outcome = RunOutcome(target, predictions, submission, resumed=resumed, batch_size=made.get("batch_size"))
        scoring_started = time.perf_counter()
        if self.scorable and self.scorer is not None:
            citations = {item_id: generation.citation for item_id, generation in generations.items()}
            cites = self.prompt.cites or any(value is not None for value in citations.values())
            outcome.result = self.scorer.evaluate(self.items, [predictions[item.id] for item in self.items],
                                                  choices=item_choices(self.items, citations) if cites else None)
        provenance = self._provenance(target, made, stopwatch, time.perf_counter() - scoring_started)
        outcome.metadata = metadata = RunMetadata(
            checkpoint=target.checkpoint, base_model=target.model if target.adapter else None,
            step=target.step, dataset_name=self.dataset_name, dataset_hash=self.data_hash,
            prompt_id=self.prompt.id, prompt_hash=self.prompt.hash,
            generation={**self.settings.to_dict(), "backend": self.engine.backend, "limit": self.limit, **self.engine_record,
                        **self.sampling_record},
            fingerprint=fingerprint, tags=tuple(self.tags), retrieval=self.retrieval, provenance=provenance,
        )
        if self.board is not None and outcome.result is not None:
            try:
                record = self.board.record(outcome.result, name=self._free_name(name or target.name, fingerprint),
                                           metadata=metadata)
            except AlreadyRecorded as existing:  # a concurrent run of the same checkpoint got there first
                record, outcome.already_recorded = existing.run, True
            outcome.run_id, outcome.run_name = record.id, record.name
        outcome.results_file = folder / "results.json"
        write_output(outcome.results_file, json.dumps(outcome.results_json(), ensure_ascii=False, indent=2, default=str) + "\n",
                     make_parents=True)
        return outcome

    def _free_name(self, name: str, fingerprint: str) -> str:
        if self.board is None:
            return name
        try:
            self.board.get(name)
        except MalpyeongError:
            return name
        return f"{name}@{fingerprint[:8]}"
