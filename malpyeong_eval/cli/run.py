"""``malpyeong-eval run``: generate with checkpoints, write submissions, score and record them;
``--follow`` evaluates a training folder's checkpoints as training saves them.

The command parses its flags into a :class:`~malpyeong_eval.runs.RunRequest` (:func:`run_request`),
calls :func:`~malpyeong_eval.runs.prepare_run` and :meth:`~malpyeong_eval.runs.PreparedRun.run` with
the leaderboard, and renders what comes back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from ..report import inert, make_console
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
    SamplesOption,
    SelectOption,
    VllmArgsOption,
)

if TYPE_CHECKING:
    from ..runs import RunEvent, RunRequest

console = make_console()
err_console = make_console(stderr=True)


def _say(text: str) -> None:
    err_console.print(text, highlight=False, markup=False, soft_wrap=True)


def _say_settled_sizes(batch_size: object) -> None:
    """With ``auto``: the batch size each model scorer settled on, one line each (stderr)."""
    if batch_size == "auto":
        from ..metrics.pool import settled_batch_sizes

        for line in settled_batch_sizes():
            _say(line)


class _ProgressDisplay:
    """Items per second of each checkpoint's generation, on stderr, while it runs (gone with --json),
    with the model scorers' progress (none with --json)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None  # a rich Progress while showing
        self.tasks: dict[str, Any] = {}

    @contextmanager
    def running(self, label: str) -> Iterator[None]:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from ..metrics.progress import reporting
        from ..report import ProgressTasks

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=err_console,
                      transient=self.quiet) as bar:
            self.bar, self.tasks = bar, {}
            try:
                with reporting(None if self.quiet else ProgressTasks(err_console, bar)):
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


def run_request(params: Mapping[str, Any]) -> RunRequest:
    """The :class:`RunRequest` of ``run``'s parsed flags (click's ``ctx.params``, by parameter name)."""
    from ..evaluation import parse_metrics
    from ..generation import Decoding, EngineOptions, parse_engine_args
    from ..metrics.options import parse_batch_size
    from ..recording import Recording
    from ..runs import Follow, RunData, RunRequest, Sampling
    from ..tracking import Tracking

    device = params["device"]
    return RunRequest(
        checkpoint=params["checkpoint"], base_model=params["base_model"],
        data=RunData(params["data"], params["limit"], params["dataset_name"]),
        prompt_file=None if params["prompt_file"] is None else str(params["prompt_file"]),
        decoding=Decoding.of(params["preset"], parse_batch_size(params["batch_size"]),
                             **{key: params[key] for key in ("max_new_tokens", "do_sample", "temperature", "top_p",
                                                             "repetition_penalty", "seed")}),
        sampling=Sampling(params["samples"], params["select"]),
        engine=EngineOptions(backend=params["backend"], device=device, trust_remote_code=params["trust_remote_code"],
                             vllm_args=parse_engine_args(params["vllm_args"]),
                             **{key: params[key] for key in ("base_url", "api_key_env", "model_name", "concurrency",
                                                             "request_timeout", "max_retries")}),
        scorer=scorer_options(params["bertscore_model"], params["bertscore_layers"], params["bleurt_model"], device,
                              params["score_batch_size"], "--score-batch-size"),
        metrics=parse_metrics(params["metrics"]), output=params["output"], runs_dir=params["runs_dir"],
        recording=Recording(params["record"], params["db"], params["name"], tuple(params["tag"] or ())),
        follow=Follow(params["follow"], params["poll_seconds"], params["idle_timeout"], params["until_step"]),
        tracking=Tracking(params["report_to"], params["tracker_project"]),
    )


def _show(event: RunEvent, json_output: bool) -> None:
    """One checkpoint's scores (stdout) and where they went (stderr), or a note of the run (stderr)."""
    from ..batching import settled_line
    from ..runs import RunNote

    if isinstance(event, RunNote):
        _say(event.text)
        return
    if json_output:
        if event.batch_size is not None:  # stdout stays JSON
            _say(settled_line("generation", event.batch_size))
        return
    if event.result is not None:
        from ..report import result_table

        console.print(result_table(event.result, title=inert(event.target.name)))
    _say(event.status())


def run(
    ctx: typer.Context,
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
    samples: SamplesOption = 1,
    select: SelectOption = None,
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
    from ..runs import prepare_run

    prepared = prepare_run(run_request(ctx.params))  # everything checked before the database is opened
    board = None
    if prepared.request.recording.record:
        from leaderboard.store import Leaderboard

        board = Leaderboard(prepared.request.recording.db)
    outcomes = prepared.run(board=board, progress=_ProgressDisplay(quiet=json_output),
                            on_event=partial(_show, json_output=json_output))
    _say_settled_sizes(prepared.request.scorer.batch_size)
    if json_output:
        print(json.dumps(outcomes.to_json(), ensure_ascii=False, indent=2))
    if outcomes.failed:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """Add ``run`` to the app."""
    app.command("run")(run)
