"""``malpyeong-eval run``: generate with checkpoints, write submissions, score and record them;
``--follow`` evaluates a training folder's checkpoints as training saves them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from ..errors import MalpyeongError
from ..report import make_console
from .options import (
    DEFAULT_METRICS,
    BertScoreLayersOption,
    BertScoreModelOption,
    BleurtModelOption,
    DatasetNameOption,
    DbOption,
    DeviceOption,
    JsonFlag,
    MetricsOption,
    NameOption,
    ScoreBatchSizeOption,
    TagOption,
    scorer_options,
)
from .generation_options import (
    ApiKeyEnvOption,
    BaseUrlOption,
    BatchSizeText,
    ConcurrencyOption,
    MaxRetriesOption,
    ModelNameOption,
    PresetOption,
    RequestTimeoutOption,
    VllmArgsOption,
    decoding,
    engine_options,
)

console = make_console()
err_console = make_console(stderr=True)
DEFAULT_POLL_SECONDS = 30.0


def _say(text: str) -> None:
    err_console.print(text, highlight=False, markup=False)


class _ProgressDisplay:
    """Items per second of each checkpoint's generation, on stderr (gone with --json)."""

    def __init__(self, transient: bool) -> None:
        self.transient = transient
        self.bar: Any = None  # a rich Progress while showing
        self.tasks: dict[str, Any] = {}

    @contextmanager
    def showing(self) -> Iterator[None]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=err_console,
                      transient=self.transient) as bar:
            self.bar, self.tasks = bar, {}
            try:
                yield
            finally:
                self.bar = None

    def __call__(self, label: str, done: int, total: int) -> None:
        if self.bar is None:
            return
        if label not in self.tasks:
            self.tasks[label] = self.bar.add_task(label, total=total, rate="")
        task = self.tasks[label]
        self.bar.update(task, completed=done)
        speed = self.bar.tasks[task].speed
        self.bar.update(task, rate=f"{speed:.2f} items/s" if speed else "")


def _summary(outcome) -> dict:
    return {
        "checkpoint": outcome.target.checkpoint, "step": outcome.target.step, "run": outcome.run_name,
        "run_id": outcome.run_id, "already_recorded": outcome.already_recorded, "resumed": outcome.resumed,
        "submission": str(outcome.submission), "metrics": outcome.result.metrics if outcome.result else None,
        "results": str(outcome.results_file) if outcome.results_file else None,
    }


def _follow_folder(checkpoint: str) -> Path:
    """The training folder ``--follow`` watches (it may not exist yet: training creates it)."""
    from ..checkpoints import is_model_dir

    folder = Path(checkpoint).expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise MalpyeongError(f"{checkpoint}: not a directory; --follow watches a training folder")
    if folder.is_dir() and is_model_dir(folder):
        raise MalpyeongError(f"{checkpoint} is a model directory; --follow watches a training folder of checkpoint-* folders")
    if not folder.exists() and not folder.parent.is_dir():
        raise MalpyeongError(f"{checkpoint}: no such directory (nor its parent {folder.parent})")
    return folder


def run(
    checkpoint: Annotated[Optional[str], typer.Argument(help="Model dir, LoRA adapter dir, training folder of checkpoint-* dirs, or Hub id (with --backend openai: the run's name, default the served model id).")] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="Items in the official format (default: the packaged sample).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Only the first N items.")] = None,
    dataset_name: DatasetNameOption = None,
    base_model: Annotated[Optional[str], typer.Option("--base-model", help="Base model of a LoRA adapter (default: from its adapter_config.json).")] = None,
    prompt_file: Annotated[Optional[Path], typer.Option("--prompt-file", help="JSON prompt (id, system, instructions by type with 'default'), or a packaged one: contest, contest-cite (numbered candidates, '근거: [N]').")] = None,
    backend: Annotated[str, typer.Option("--backend", help="transformers, vllm, or openai (a served OpenAI-compatible endpoint, --base-url).")] = "transformers",
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1)] = 1024,
    batch_size: BatchSizeText = None,
    preset: PresetOption = None,
    do_sample: Annotated[bool, typer.Option("--do-sample", help="Sample instead of greedy decoding.")] = False,
    temperature: Annotated[Optional[float], typer.Option("--temperature", help="Sampling temperature (implies --do-sample).")] = None,
    top_p: Annotated[Optional[float], typer.Option("--top-p", help="Nucleus sampling (implies --do-sample).")] = None,
    repetition_penalty: Annotated[Optional[float], typer.Option("--repetition-penalty")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Submission file to write (default: in the run folder).")] = None,
    runs_dir: Annotated[Path, typer.Option("--runs-dir", help="Where run folders (generations, submissions) live.")] = Path("malpyeong-runs"),
    name: NameOption = None,
    tag: TagOption = None,
    db: DbOption = None,
    record: Annotated[bool, typer.Option("--record/--no-record", help="Record on the leaderboard.")] = True,
    metrics: MetricsOption = DEFAULT_METRICS,
    bertscore_model: BertScoreModelOption = None,
    bertscore_layers: BertScoreLayersOption = None,
    bleurt_model: BleurtModelOption = None,
    device: DeviceOption = None,
    score_batch_size: ScoreBatchSizeOption = None,
    trust_remote_code: Annotated[bool, typer.Option("--trust-remote-code", help="Allow model code from the checkpoint (off by default).")] = False,
    json_output: JsonFlag = False,
    follow: Annotated[bool, typer.Option("--follow", help="Watch a training folder and evaluate each new checkpoint-N (in step order) once training has written it; recorded ones are skipped.")] = False,
    poll_seconds: Annotated[Optional[float], typer.Option("--poll-seconds", min=0.01, help="With --follow: how often to look for new checkpoints \\[default 30].")] = None,
    idle_timeout: Annotated[Optional[float], typer.Option("--idle-timeout", min=0, help="With --follow: stop after this many seconds without a new checkpoint (default: never; Ctrl-C stops).")] = None,
    until_step: Annotated[Optional[int], typer.Option("--until-step", min=0, help="With --follow: stop once the checkpoint of this step (or a later one) is written; later ones are not evaluated.")] = None,
    report_to: Annotated[str, typer.Option("--report-to", help="trackio, wandb or none: each checkpoint's contest metrics and items, in one tracker run.")] = "none",
    tracker_project: Annotated[str, typer.Option("--tracker-project", help="The tracker's project for --report-to.")] = "malpyeong-eval",
    vllm_args: VllmArgsOption = None,
    base_url: BaseUrlOption = None,
    api_key_env: ApiKeyEnvOption = None,
    model_name: ModelNameOption = None,
    concurrency: ConcurrencyOption = 8,
    request_timeout: RequestTimeoutOption = 600.0,
    max_retries: MaxRetriesOption = 5,
) -> None:
    """Generate with a checkpoint, write a submission, score it and record it on the leaderboard."""
    from ..checkpoints import (
        Target, checkpoint_dirs, checkpoint_target, is_complete_checkpoint, resolve_targets, training_run_name,
        watch_checkpoints,
    )
    from ..data import load_data, sample_path
    from ..evaluation import ContestScorer, parse_metrics
    from ..backends import BACKENDS
    from ..metrics.progress import reporting
    from ..outputs import check_output
    from ..prompts import load_prompt
    from ..report import ProgressTasks, result_table
    from ..runner import CheckpointRunner
    from ..tracking import EvaluationLogger, Tracking

    if backend not in BACKENDS:
        raise MalpyeongError(f"unknown --backend {backend!r}; choose from {', '.join(BACKENDS)}")
    if not follow:
        given = [flag for flag, value in (("--poll-seconds", poll_seconds), ("--idle-timeout", idle_timeout),
                                          ("--until-step", until_step)) if value is not None]
        if given:
            raise MalpyeongError(f"{given[0]} goes with --follow")
    settings, generation_batch = decoding(preset, {
        "max_new_tokens": max_new_tokens, "do_sample": do_sample, "temperature": temperature, "top_p": top_p,
        "repetition_penalty": repetition_penalty, "seed": seed}, batch_size)
    if follow and backend == "openai":
        raise MalpyeongError("--follow evaluates checkpoints as they are written; a served model has none")
    if checkpoint is None and backend != "openai":
        raise MalpyeongError("give a CHECKPOINT (a model directory, adapter, training folder or Hub id)")
    engine = engine_options(backend, device=device, trust_remote_code=trust_remote_code, vllm_args=vllm_args,
                            base_url=base_url, api_key_env=api_key_env, model_name=model_name, concurrency=concurrency,
                            request_timeout=request_timeout, max_retries=max_retries)
    chosen = parse_metrics(metrics)
    check_output(output, make_parents=True)  # a device or folder is refused before any generation
    tracker = EvaluationLogger(Tracking(report_to, tracker_project,
                                        run_name=name or (Path(checkpoint).name if checkpoint else str(engine.model_name))))
    data = data or sample_path("gold")
    data_file = load_data(data)
    items = data_file.items[:limit]
    if dataset_name is None and len(items) < len(data_file.items):  # a --limit run is not a run on the whole file
        dataset_name = f"{data.stem}[:{len(items)}]"
    prompt = load_prompt(prompt_file)
    if follow:
        if name:
            raise MalpyeongError("--name names one run; --follow records one run per checkpoint")
        if output:
            raise MalpyeongError("--output writes one submission; --follow writes one per checkpoint in --runs-dir")
        folder = _follow_folder(str(checkpoint))
        targets = []
    elif backend == "openai":  # the served model, named by CHECKPOINT if given
        served = str(engine.model_name)
        targets = [Target(model=served, adapter=None, step=None, name=checkpoint or served)]
    else:
        targets = resolve_targets(str(checkpoint), base_model)
        if name and len(targets) > 1:
            raise MalpyeongError("--name names one run; a training folder records one run per checkpoint")
    board = None
    if record:
        from leaderboard.store import Leaderboard

        board = Leaderboard(db)
    scorable = all(item.answer is not None for item in items)
    options = scorer_options(bertscore_model, bertscore_layers, bleurt_model, device, score_batch_size, "--score-batch-size")
    scorer = ContestScorer(chosen, options) if scorable else None
    display = _ProgressDisplay(transient=json_output)
    runner = CheckpointRunner(
        items, data=data_file, dataset_name=dataset_name or data.stem, prompt=prompt, settings=settings,
        batch_size=generation_batch, backend=backend, scorer=scorer, board=board, runs_root=runs_dir, device=device,
        trust_remote_code=trust_remote_code, tags=tag or (), progress=display, engine=engine,
    )
    summaries = []

    def evaluate(target, output_file=None) -> None:
        with display.showing(), reporting(None if json_output else ProgressTasks(err_console, display.bar)):
            outcome = runner.run(target, name=name, output=output_file)
        summaries.append(outcome)
        tracker.log(outcome)
        if json_output:
            return
        if outcome.result is not None:
            console.print(result_table(outcome.result, title=outcome.target.name))
        state = ("already on the leaderboard" if outcome.already_recorded else
                 f"recorded as {outcome.run_name!r}" if outcome.run_name else "not recorded")
        _say(f"{outcome.target.name}: {state}; submission {outcome.submission}"
             + (f"; resumed {outcome.resumed} finished items" if outcome.resumed else ""))

    failed = 0
    tracker.open({"checkpoint": checkpoint, "data": str(data), "metrics": ",".join(chosen), **settings.to_dict()})
    if follow:
        poll = DEFAULT_POLL_SECONDS if poll_seconds is None else poll_seconds
        ends = ([f"step {until_step}"] if until_step is not None else []) + \
            ([f"{idle_timeout:g} s without a new checkpoint"] if idle_timeout is not None else []) + ["Ctrl-C"]
        try:  # from the first word on: a Ctrl-C right after "following" (the cue that it watches) stops cleanly
            _say(f"following {folder}: each checkpoint-N is scored once training has written it "
                 f"(looking every {poll:g} s, until {' or '.join(ends)})")
            for step, path in watch_checkpoints(folder, poll_seconds=poll, idle_timeout=idle_timeout, until_step=until_step):
                label = training_run_name(folder, path)
                try:
                    evaluate(checkpoint_target(path, base_model, label))
                except (MalpyeongError, OSError) as exc:
                    if not path.exists():
                        _say(f"{label}: removed before it was scored (save_total_limit?); skipped")
                        continue
                    _say(f"{label}: skipped: {exc}")
                    failed += 1
            reached = until_step is not None and any(step >= until_step and is_complete_checkpoint(path)
                                                      for step, path in checkpoint_dirs(folder))
            _say(f"stopped: step {until_step} reached" if reached else
                 f"stopped: no new checkpoint for {idle_timeout:g} s")
        except KeyboardInterrupt:
            _say("stopped (Ctrl-C)")
    else:
        for target in targets:
            evaluate(target, output if len(targets) == 1 else None)
    tracker.close()  # trackio and wandb also finish their run at exit when an error ends the command early
    if json_output:
        print(json.dumps([_summary(o) for o in summaries], ensure_ascii=False, indent=2))
    if failed:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Add ``run`` to the app."""
    app.command("run")(run)
