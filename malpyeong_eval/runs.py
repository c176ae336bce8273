"""Running checkpoints from Python: one :class:`RunRequest` in, typed :class:`RunOutcomes` out.

``malpyeong-eval run`` is this module with a command line on top (parse the flags into a
``RunRequest``, call, render)::

    from leaderboard import Leaderboard
    from malpyeong_eval.runs import RunData, RunRequest, run_checkpoints

    request = RunRequest("path/to/model", data=RunData(limit=8), metrics=("em", "rouge1"))
    outcomes = run_checkpoints(request, board=Leaderboard())  # board=None: nothing recorded
    outcomes[0].result.metrics  # {"exact_match": ..., "rouge1": ..., ...}; outcomes.to_json() == run --json

A request is a frozen value that nests one value per concern: the data (:class:`RunData`), the
decoding (:class:`~malpyeong_eval.generation.Decoding`), the engine with its backend, device and
``trust_remote_code`` (:class:`~malpyeong_eval.generation.EngineOptions`), the scorers
(:class:`~malpyeong_eval.metrics.options.ScorerOptions`), where runs are recorded
(:class:`Recording`), the watch of a training folder (:class:`Follow`) and the tracker
(:class:`~malpyeong_eval.tracking.Tracking`). It checks itself when it is made; every refusal names
``run``'s flag through :data:`FLAGS`, the one map of fields to flags, from which
:meth:`RunRequest.command_words` also spells a request as ``run``'s words (``train`` prints its
``run --follow`` command so). The recorder (``leaderboard.Leaderboard``, any
:class:`~malpyeong_eval.recording.RunRecorder`) is passed in: the core imports no database.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Protocol, Union

from .checkpoints import Target
from .data import DataFile, Item
from .display import RichDisplay
from .errors import MalpyeongError
from .evaluation import METRICS, parse_metrics
from .generation import PRESETS, Decoding, EngineOptions
from .metrics.options import ScorerOptions
from .prompts import ContestPrompt
from .recording import Recording, RunRecorder
from .runner import CheckpointRunner, RunOutcome
from .tracking import Tracking

__all__ = ["DEFAULT_POLL_SECONDS", "FLAGS", "Follow", "PreparedRun", "Recording", "RunData", "RunNote", "RunOutcome",
           "RunOutcomes", "RunProgress", "RunRequest", "prepare_run", "run_checkpoints"]

DEFAULT_POLL_SECONDS = 30.0  # how often a follow looks for new checkpoints unless told
SERVED_FIELDS = ("base_url", "api_key_env", "model_name")  # EngineOptions fields of --backend openai alone

# Each field of a RunRequest (a dotted path through its nested values) and the flag of ``run`` that sets it:
# the refusals name flags through it, and RunRequest.command_words spells a request with it.
FLAGS: dict[str, str] = {
    "checkpoint": "CHECKPOINT", "base_model": "--base-model",
    "data.path": "--data", "data.limit": "--limit", "data.dataset_name": "--dataset-name", "prompt_file": "--prompt-file",
    "decoding.settings.max_new_tokens": "--max-new-tokens", "decoding.settings.do_sample": "--do-sample",
    "decoding.settings.temperature": "--temperature", "decoding.settings.top_p": "--top-p",
    "decoding.settings.repetition_penalty": "--repetition-penalty", "decoding.settings.seed": "--seed",
    "decoding.settings.preset": "--preset", "decoding.batch_size": "--batch-size",
    "engine.backend": "--backend", "engine.device": "--device", "engine.trust_remote_code": "--trust-remote-code",
    "engine.vllm_args": "--vllm-args", "engine.base_url": "--base-url", "engine.api_key_env": "--api-key-env",
    "engine.model_name": "--model-name", "engine.concurrency": "--concurrency",
    "engine.request_timeout": "--request-timeout", "engine.max_retries": "--max-retries",
    "scorer.bertscore_model": "--bertscore-model", "scorer.bertscore_layers": "--bertscore-layers",
    "scorer.bleurt_model": "--bleurt-model", "scorer.device": "--device", "scorer.batch_size": "--score-batch-size",
    "metrics": "--metrics", "output": "--output", "runs_dir": "--runs-dir",
    "recording.record": "--record", "recording.db": "--db", "recording.name": "--name", "recording.tags": "--tag",
    "follow.enabled": "--follow", "follow.poll_seconds": "--poll-seconds", "follow.idle_timeout": "--idle-timeout",
    "follow.until_step": "--until-step", "tracking.report_to": "--report-to", "tracking.project": "--tracker-project",
}


@dataclass(frozen=True)
class RunData:
    """The items a run generates for: a file in the official format (``None``: the packaged sample),
    its first ``limit`` items, and the dataset's name on the leaderboard (``None``: the file's name,
    ``NAME[:N]`` for a limited run)."""

    path: Path | None = None
    limit: int | None = None
    dataset_name: str | None = None

    def __post_init__(self) -> None:
        if self.path is not None:  # a path given as text
            object.__setattr__(self, "path", Path(self.path))


@dataclass(frozen=True)
class Follow:
    """Watching a training folder (``enabled``): poll every ``poll_seconds`` (``None``: 30), stop after
    ``idle_timeout`` seconds without a new checkpoint (``None``: never) or at step ``until_step``."""

    enabled: bool = False
    poll_seconds: float | None = None
    idle_timeout: float | None = None
    until_step: int | None = None


@dataclass(frozen=True)
class RunRequest:
    """Everything ``malpyeong-eval run`` does, as one value (see the module's docstring).

    ``checkpoint``: a model or LoRA adapter directory, a training folder of ``checkpoint-*`` folders,
    or a Hub id (with the openai backend: the run's name, default the served model id). ``metrics``
    are put in canonical order. Refuses, naming ``run``'s flags, what those flags refuse together.
    """

    checkpoint: str | None = None
    base_model: str | None = None
    data: RunData = field(default_factory=RunData)
    prompt_file: str | None = None  # a JSON prompt file, or a packaged prompt's name (contest, contest-cite)
    decoding: Decoding = field(default_factory=Decoding)
    engine: EngineOptions = field(default_factory=EngineOptions)
    scorer: ScorerOptions = field(default_factory=ScorerOptions)
    metrics: tuple[str, ...] = METRICS
    output: Path | None = None  # the submission file of a single run (default: in its run folder)
    runs_dir: Path = Path("malpyeong-runs")
    recording: Recording = field(default_factory=Recording)
    follow: Follow = field(default_factory=Follow)
    tracking: Tracking = field(default_factory=Tracking)

    def __post_init__(self) -> None:
        from .backends import BACKENDS

        if self.engine.backend not in BACKENDS:
            raise MalpyeongError(f"unknown {FLAGS['engine.backend']} {self.engine.backend!r}; choose from {', '.join(BACKENDS)}")
        self._check_follow()
        if self.checkpoint is None and self.engine.backend != "openai":
            raise MalpyeongError(f"give a {FLAGS['checkpoint']} (a model directory, adapter, training folder or Hub id)")
        self._check_engine()
        object.__setattr__(self, "metrics", parse_metrics(self.metrics))
        object.__setattr__(self, "runs_dir", Path(self.runs_dir))  # paths given as text
        if self.output is not None:
            object.__setattr__(self, "output", Path(self.output))

    def _check_follow(self) -> None:
        follow = self.follow
        flag = FLAGS["follow.enabled"]
        if not follow.enabled:
            given = [FLAGS[f"follow.{key}"] for key in ("poll_seconds", "idle_timeout", "until_step")
                     if getattr(follow, key) is not None]
            if given:
                raise MalpyeongError(f"{given[0]} goes with {flag}")
            return
        if self.engine.backend == "openai":
            raise MalpyeongError(f"{flag} evaluates checkpoints as they are written; a served model has none")
        if self.recording.name:
            raise MalpyeongError(f"{FLAGS['recording.name']} names one run; {flag} records one run per checkpoint")
        if self.output:
            raise MalpyeongError(f"{FLAGS['output']} writes one submission; {flag} writes one per checkpoint in "
                                 f"{FLAGS['runs_dir']}")

    def _check_engine(self) -> None:
        engine, backend = self.engine, FLAGS["engine.backend"]
        if engine.backend != "openai":
            given = next((key for key in SERVED_FIELDS if getattr(engine, key) is not None), None)
            if given:
                raise MalpyeongError(f"{FLAGS['engine.' + given]} goes with {backend} openai")
        if engine.backend != "vllm" and engine.vllm_args:
            raise MalpyeongError(f"{FLAGS['engine.vllm_args']} goes with {backend} vllm")
        if engine.backend == "openai" and not engine.base_url:
            raise MalpyeongError(f"{backend} openai needs {FLAGS['engine.base_url']} (e.g. http://127.0.0.1:8000/v1)")

    @property
    def data_path(self) -> Path:
        """The data file: ``data.path``, or the packaged sample."""
        from .data import sample_path

        return self.data.path or sample_path("gold")

    def changed(self) -> dict[str, Any]:
        """The fields that differ from their defaults, by dotted path (``decoding.settings.seed``, as :data:`FLAGS`)."""
        return {path: value for path, value, default in _leaves(self) if value != default}

    def command_words(self) -> list[str]:
        """The request as ``malpyeong-eval run``'s arguments (after ``run``): each field that differs
        from its default, spelled with its flag (:data:`FLAGS`). What the flags cannot say (a
        tracker run's name, a scorer device other than the engine's) is refused."""
        return _command_words(self)


def _leaves(value: Any, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """``(path, value, default)`` of every field of a request, nested values walked into."""
    for each in fields(value):
        default = each.default if each.default is not MISSING else each.default_factory()  # type: ignore[operator]
        item = getattr(value, each.name)
        if is_dataclass(item) and not isinstance(item, type):
            yield from _leaves(item, f"{prefix}{each.name}.")
        else:
            yield f"{prefix}{each.name}", item, default


def _flag_text(path: str, value: Any) -> str:
    """A field's value as its flag's argument."""
    if path == "metrics":
        return ",".join(value)
    if path == "engine.vllm_args":
        return ",".join(f"{key}={item if isinstance(item, str) else json.dumps(item)}" for key, item in value)
    if path == "decoding.batch_size" and value is None:
        return "auto"
    return str(value)


def _implied(request: RunRequest) -> set[str]:
    """Fields that are not spelled: the preset's own values, and the scorer's device (``--device`` sets both)."""
    settings = request.decoding.settings
    if request.scorer.device != request.engine.device:
        raise MalpyeongError("run's flags have one --device for generation and scoring; the request has two")
    if not settings.do_sample and (settings.temperature is not None or settings.top_p is not None):
        raise MalpyeongError("run's --temperature and --top-p imply --do-sample; the request has them without it")
    preset = set(PRESETS[settings.preset]) if settings.preset else set()
    return {"scorer.device", *(f"decoding.settings.{key}" for key in preset),
            *(["decoding.batch_size"] if preset else [])}


def _command_words(request: RunRequest) -> list[str]:
    words: list[str] = []
    skipped = _implied(request)
    for path, value in request.changed().items():
        if path in skipped:
            continue
        flag = FLAGS.get(path)
        if flag is None:
            raise MalpyeongError(f"run has no flag for {path} ({value!r})")
        if path == "checkpoint":
            words.insert(0, str(value))
        elif isinstance(value, bool):
            words.append(flag if value else f"--no-{flag.removeprefix('--')}")
        elif path == "recording.tags":
            words += [word for tag in value for word in (flag, tag)]
        else:
            words += [flag, _flag_text(path, value)]
    return words


# -- running ---------------------------------------------------------------------------------------------


class RunProgress(Protocol):
    """Follows a run: called with ``(label, done, total)`` as items are generated. A progress object
    may also have ``running(label)``, a context manager around each checkpoint's work (a display that
    shows only while a checkpoint runs)."""

    def __call__(self, label: str, done: int, total: int) -> object: ...


@dataclass(frozen=True)
class RunNote:
    """A line of what happened besides the outcomes (a follow's start and stop, a checkpoint skipped);
    ``failed``: a checkpoint that could not be scored (the command then exits with status 2)."""

    text: str
    failed: bool = False

    def __rich__(self) -> Any:
        from rich.text import Text

        from .report import visible

        return Text(visible(self.text))


RunEvent = Union[RunOutcome, RunNote]


@dataclass
class RunOutcomes(RichDisplay):
    """What a run did: one :class:`RunOutcome` per checkpoint, in order (indexable, iterable), and
    the notes of a follow. Prints as the checkpoints' score tables (rich, Jupyter)."""

    outcomes: list[RunOutcome] = field(default_factory=list)
    notes: list[RunNote] = field(default_factory=list)

    def __getitem__(self, index: int) -> RunOutcome:
        return self.outcomes[index]

    def __iter__(self) -> Iterator[RunOutcome]:
        return iter(self.outcomes)

    def __len__(self) -> int:
        return len(self.outcomes)

    @property
    def failed(self) -> int:
        """Checkpoints a follow skipped because they could not be scored."""
        return sum(note.failed for note in self.notes)

    def add(self, event: RunEvent) -> None:
        (self.notes if isinstance(event, RunNote) else self.outcomes).append(event)  # type: ignore[arg-type]

    def to_json(self) -> list[dict[str, Any]]:
        """``malpyeong-eval run --json``: one entry per checkpoint."""
        return [outcome.to_json() for outcome in self.outcomes]

    def __rich__(self) -> Any:
        from rich.console import Group

        return Group(*self.outcomes, *self.notes)



def _follow_folder(checkpoint: str) -> Path:
    """The training folder a follow watches (it may not exist yet: training creates it)."""
    from .checkpoints import is_model_dir

    folder, flag = Path(checkpoint).expanduser().resolve(), FLAGS["follow.enabled"]
    if folder.exists() and not folder.is_dir():
        raise MalpyeongError(f"{checkpoint}: not a directory; {flag} watches a training folder")
    if folder.is_dir() and is_model_dir(folder):
        raise MalpyeongError(f"{checkpoint} is a model directory; {flag} watches a training folder of checkpoint-* folders")
    if not folder.exists() and not folder.parent.is_dir():
        raise MalpyeongError(f"{checkpoint}: no such directory (nor its parent {folder.parent})")
    return folder


def _running(progress: RunProgress | None, label: str) -> AbstractContextManager[Any]:
    running = getattr(progress, "running", None)
    return running(label) if running is not None else nullcontext()


def load_run_data(request: RunRequest) -> tuple[DataFile, list[Item], str]:
    """The request's data file (read once), the items it runs and the dataset's name."""
    from .data import load_data

    path = request.data_path
    data = load_data(path)
    items = data.items[:request.data.limit]
    name = request.data.dataset_name
    if name is None:
        name = f"{path.stem}[:{len(items)}]" if len(items) < len(data.items) else path.stem  # a --limit run is a slice
    return data, items, name


def checkpoint_runner(request: RunRequest, *, board: RunRecorder | None = None, progress: RunProgress | None = None,
                      loaded: tuple[DataFile, list[Item], str, ContestPrompt] | None = None) -> CheckpointRunner:
    """The :class:`CheckpointRunner` of a request (its data and prompt read unless ``loaded``): each
    checkpoint it runs is recorded in ``board`` when ``recording.record`` (``train`` scores its
    checkpoints inline with one)."""
    from .evaluation import ContestScorer
    from .prompts import load_prompt

    data, items, dataset_name, prompt = loaded or (*load_run_data(request), load_prompt(request.prompt_file))
    scorable = all(item.answer is not None for item in items)
    return CheckpointRunner(
        items, data=data, dataset_name=dataset_name, prompt=prompt, settings=request.decoding.settings,
        batch_size=request.decoding.batch_size, scorer=ContestScorer(request.metrics, request.scorer) if scorable else None,
        board=board if request.recording.record else None, runs_root=request.runs_dir, tags=request.recording.tags,
        progress=progress, engine=request.engine,
    )


@dataclass(frozen=True)
class PreparedRun:
    """A request checked against the world (:func:`prepare_run`): the endpoint probed, the data and
    prompt read, the checkpoints found (``targets``; ``folder`` when following a training folder)."""

    request: RunRequest
    data: DataFile
    items: list[Item]
    dataset_name: str
    prompt: ContestPrompt
    targets: tuple[Target, ...]
    folder: Path | None
    tracking: Tracking

    def events(self, runner: CheckpointRunner, progress: RunProgress | None = None) -> Iterator[RunEvent]:
        """Each checkpoint's outcome as it is done (and a follow's notes), with ``runner``."""
        def evaluate(target: Target, output: Path | None = None) -> RunOutcome:
            with _running(progress, target.name):
                return runner.run(target, name=self.request.recording.name, output=output)

        if self.folder is not None:
            yield from self._follow(self.folder, evaluate)
            return
        for target in self.targets:
            yield evaluate(target, self.request.output if len(self.targets) == 1 else None)

    def _follow(self, folder: Path, evaluate: Callable[[Target], RunOutcome]) -> Iterator[RunEvent]:
        from .checkpoints import checkpoint_dirs, checkpoint_target, is_complete_checkpoint, training_run_name, watch_checkpoints

        follow = self.request.follow
        poll = DEFAULT_POLL_SECONDS if follow.poll_seconds is None else follow.poll_seconds
        ends = ([f"step {follow.until_step}"] if follow.until_step is not None else []) + \
            ([f"{follow.idle_timeout:g} s without a new checkpoint"] if follow.idle_timeout is not None else []) + ["Ctrl-C"]
        yield RunNote(f"following {folder}: each checkpoint-N is scored once training has written it "
                      f"(looking every {poll:g} s, until {' or '.join(ends)})")
        for _, path in watch_checkpoints(folder, poll_seconds=poll, idle_timeout=follow.idle_timeout,
                                         until_step=follow.until_step):
            label = training_run_name(folder, path)
            try:
                outcome = evaluate(checkpoint_target(path, self.request.base_model, label))
            except (MalpyeongError, OSError) as exc:
                yield (RunNote(f"{label}: skipped: {exc}", failed=True) if path.exists() else
                       RunNote(f"{label}: removed before it was scored (save_total_limit?); skipped"))
                continue
            yield outcome
        reached = follow.until_step is not None and any(
            step >= follow.until_step and is_complete_checkpoint(path) for step, path in checkpoint_dirs(folder))
        yield RunNote(f"stopped: step {follow.until_step} reached" if reached else
                      f"stopped: no new checkpoint for {follow.idle_timeout:g} s")

    def run(self, *, board: RunRecorder | None = None, progress: RunProgress | None = None,
            on_event: Callable[[RunEvent], object] | None = None) -> RunOutcomes:
        """Run every checkpoint (a follow: until it stops, or Ctrl-C), recording in ``board`` when
        ``recording.record``; each outcome and note is handed to ``on_event`` as it comes."""
        from .tracking import EvaluationLogger

        request, outcomes = self.request, RunOutcomes()
        runner = checkpoint_runner(request, board=board, progress=progress,
                                   loaded=(self.data, self.items, self.dataset_name, self.prompt))
        tracker = EvaluationLogger(self.tracking)
        tracker.open({"checkpoint": request.checkpoint, "data": str(request.data_path), "metrics": ",".join(request.metrics),
                      **request.decoding.settings.to_dict()})
        try:  # a follow stops cleanly on Ctrl-C, from its first note on
            for event in self.events(runner, progress):
                outcomes.add(event)
                if isinstance(event, RunOutcome):
                    tracker.log(event)
                if on_event is not None:
                    on_event(event)
        except KeyboardInterrupt:
            if self.folder is None:
                raise
            note = RunNote("stopped (Ctrl-C)")
            outcomes.add(note)
            if on_event is not None:
                on_event(note)
        tracker.close()  # trackio and wandb also finish their run at exit when an error ends a run early
        return outcomes


def prepare_run(request: RunRequest) -> PreparedRun:
    """Check a request against the world before any model loads: the served endpoint (probed: its
    model id and version), the tracker, the data, the prompt, the checkpoint(s) or training folder."""
    from .checkpoints import resolve_targets
    from .outputs import check_output
    from .prompts import load_prompt
    from .tracking import check_tracker

    check_output(request.output, make_parents=True)  # a device or folder is refused before any generation
    if request.engine.backend == "openai":
        from .served import probe_endpoint

        request = replace(request, engine=probe_endpoint(request.engine))
    run_name = request.recording.name or (Path(request.checkpoint).name if request.checkpoint
                                          else str(request.engine.model_name))
    tracking = replace(request.tracking, run_name=request.tracking.run_name or run_name)
    check_tracker(tracking.report_to)
    data, items, dataset_name = load_run_data(request)
    prompt = load_prompt(request.prompt_file)
    folder: Path | None = None
    targets: tuple[Target, ...] = ()
    if request.follow.enabled:
        folder = _follow_folder(str(request.checkpoint))
    elif request.engine.backend == "openai":  # the served model, named by CHECKPOINT if given
        served = str(request.engine.model_name)
        targets = (Target(model=served, adapter=None, step=None, name=request.checkpoint or served),)
    else:
        targets = tuple(resolve_targets(str(request.checkpoint), request.base_model))
        if request.recording.name and len(targets) > 1:
            raise MalpyeongError(f"{FLAGS['recording.name']} names one run; a training folder records one run per checkpoint")
    return PreparedRun(request, data, items, dataset_name, prompt, targets, folder, tracking)


def run_checkpoints(request: RunRequest, *, board: RunRecorder | None = None, progress: RunProgress | None = None,
                    on_event: Callable[[RunEvent], object] | None = None) -> RunOutcomes:
    """Generate with the request's checkpoint(s), write each submission, score it and record it in
    ``board`` (when given and ``recording.record``): :func:`prepare_run`, then :meth:`PreparedRun.run`."""
    return prepare_run(request).run(board=board, progress=progress, on_event=on_event)
